"""Hand out a SKU's units by policy: the greedy plan's deliveries re-allocated to follow ``settings.policy``.

The greedy plan (:mod:`stockplan.solver.greedy`) decides, line by line, what to buy
and where units flow. The surplus of a purchase bought for one line (MOQ, pack
size) lands in stock where a later, lower line takes it; a line served late
leaves stock it could have had earlier. So its plan is feasible but breaks the
allocation policy in many places (spec §Allocation policies). This module keeps
the supply exactly as the greedy plan has it (every purchase order, inbound,
forecast fill and ship-complete shipment) and hands out again, per SKU the policy
binds, the units of the lines it compares
(:func:`~stockplan.solver.policies.competing_lines`): their warehouse shipments
and the lines of the SKU's dropship purchase orders.

The rules are the evaluator's (:mod:`stockplan.solver.evaluator`, the judge):

* ``priority``: a lower line's unit from a warehouse in ``t``, or by dropship in
  ``t``, breaks the rule when a higher line could take it (``t`` in its window,
  the warehouse allowed to it; a dropship unit can go to any line) and is not
  whole by ``max(t, d)``. Priority levels are handed out in order (within one, by
  due date, then order age); a lower level gets only what the higher ones left.
* ``fair_share``: among equal lines (same SKU, priority, earliest period and
  warehouses), at every ``t`` where they compete (``d ≤ t ≤ ℓ``), no unit may move
  from ``j`` to ``i`` raising the smaller fill fraction, ``(D_j - 1)/q_j > D_i/q_i``;
  with the tie rule (:func:`~stockplan.solver.policies.ties_go_to_older_orders`)
  a move that keeps the split as fair must not be open towards an older order.

A line alone (``priority``; under ``fair_share`` a line without an equal) takes at
its on-time period ``on = max(e, d)`` that period's dropship units and every
warehouse's stock (cheapest shipping first, never more than the stock of every
later period allows: a unit taken in ``t`` leaves every later period too), then
the dropship units of ``[e, on)``, then, while not whole, each later period's. A
line not whole by ``on`` so leaves nothing it could reach in ``t ≤ on``, and one
not whole by ``t > on`` nothing in ``t``: no lower line gets a unit the rule gives
to it. Taking at ``on`` rather than at ``e`` leaves the stock of the periods before
to lines whose window closes earlier; at the end the units move earlier again
where stock is left over (less holding cost), never into a higher line's reach.
Where a warehouse has nothing left for a line, another line's shipment from it
moves to a warehouse that other line may also ship from, in the same period (so
no comparison changes): restricted lines are not starved by flexible ones.

Equal lines (``fair_share``) share period by period from their common ``e``, each
only from its on-time period on (before it, its units count for no comparison).
A period's units go one at a time to the line with the lowest fill fraction
``D_i/q_i`` (ties to the older order): first until the lines just due are even
with the others (they start with nothing; they may take the dropship units of
earlier periods nobody took), then further as long as the lines still to come due
can be evened out with what is left for them. Water-filling so keeps the split
fair at every period and throws away no unit the rule lets it give.

Every dropship unit must reach a line (a purchase order's lines sum to its
quantity): one left over goes to a line still short, or replaces a shipment whose
units go back into stock, each move kept only if it breaks no rule. Feasibility
comes first: when the greedy plan bought more dropship units for a period than the
lines whose window holds it still lack, one must replace a shipment whatever the
rules say, and the move breaking fewest is made. A SKU that breaks more rules than
the greedy plan's own allocation of it keeps that allocation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from stockplan.models.plan import Decisions, DropshipLine, Shipment
from stockplan.models.problem import Policy
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.policies import competing_lines, order_age_rank, ties_go_to_older_orders

DROPSHIP = -1  # the source of a unit delivered by dropship purchase order n is DROPSHIP - n

Delivery = tuple[int, int, int]  # (period, warehouse or DROPSHIP - purchase order, units)


def follow_policy(ix: ProblemIndex, plan: Decisions) -> Decisions:
    """``plan`` with the deliveries of every SKU its policy binds handed out again by ``settings.policy``.

    Parameters
    ----------
    ix : ProblemIndex
        The problem's index (a subset index works too: its SKUs only).
    plan : Decisions
        A feasible plan, e.g. the greedy plan; its purchases, inbound, forecast fills
        and ship-complete shipments are kept as they are.

    Returns
    -------
    Decisions
        The same supply, its units delivered by the policy; ``plan`` itself under ``min_cost``.
    """
    policy = ix.problem.settings.policy
    if policy == Policy.MIN_COST or ix.n_lines == 0:
        return plan
    realloc = _Reallocation(ix, _Rules(
        priority=policy in (Policy.PRIORITY, Policy.PRIORITY_FAIR_SHARE),
        share=policy in (Policy.FAIR_SHARE, Policy.PRIORITY_FAIR_SHARE),
        ties=ties_go_to_older_orders(ix.problem),
    ))
    out = realloc.run(plan)
    if realloc.unfollowed:
        # The rules of thumb above place units one move at a time; where they end with a rule
        # broken, an exact hand-out of the same supply (a small MIP per SKU) finds one that keeps them.
        from stockplan.solver.policy_repair import hand_out_exactly

        out = hand_out_exactly(ix, out, realloc.unfollowed)
    return out


@dataclass(frozen=True)
class _Rules:
    priority: bool  # higher levels first; a lower line may not hold what a higher one could take
    share: bool  # equal lines share by fill fraction
    ties: bool  # fair-share ties go to the older order


@dataclass
class _Drop:
    """Units of one dropship purchase order not yet handed out."""

    po: int  # index into plan.purchase_orders
    left: int


@dataclass
class _SkuState:
    """One SKU's stock and the units handed out so far."""

    stock: list[list[int]]  # [warehouse][t] end-of-period stock, what is handed out taken off
    drops: dict[int, list[_Drop]]  # arrival period -> dropship units not yet handed out
    need: dict[int, int]  # line -> units it still lacks
    lines: list[int]  # the SKU's compared lines in queue order (priority, due, order age)
    got: dict[int, list[Delivery]] = field(default_factory=lambda: defaultdict(list))
    shared: set[int] = field(default_factory=set)  # lines with an equal line (fair share)


_Saved = tuple[list[list[int]], dict[int, list[Delivery]], dict[int, int], dict[int, list[int]]]


class _Reallocation:
    def __init__(self, ix: ProblemIndex, rules: _Rules) -> None:
        self.ix, self.rules = ix, rules
        orders = ix.problem.orders
        self.compete = competing_lines(ix).tolist()
        # Plain lists: the loops below read single values, which numpy serves slowly.
        self.sku, self.qty = ix.line_sku.tolist(), ix.line_qty.tolist()
        self.first, self.due, self.last = ix.line_first.tolist(), ix.line_due.tolist(), ix.line_last.tolist()
        self.prio = ix.line_priority.tolist()
        self.rank = order_age_rank(ix.problem)[ix.line_order].tolist()
        self.allowed = ix.allowed.tolist()
        self.ship_cost = ix.ship_cost.tolist()
        self.line_of = {(orders[o].id, n): i for i, (o, n) in enumerate(
            zip(ix.line_order.tolist(), ix.line_no.tolist(), strict=True))}
        self.sku_of_line = {(o.id, n): line.sku for o in orders for n, line in enumerate(o.lines)}
        self.loc_of = {loc: k for k, loc in enumerate(ix.locations)}
        self.sku_of = {s: k for k, s in enumerate(ix.skus)}
        self.ag_of = {a: k for k, a in enumerate(ix.agreement_ids)}
        self.lines_of: dict[int, list[int]] = defaultdict(list)
        # Allowed warehouses per line, cheapest shipping first (as the greedy plan ships).
        self.locs: dict[int, list[int]] = {}
        for i in np.flatnonzero(self.compete).tolist():
            self.lines_of[self.sku[i]].append(i)
            cost = self.ship_cost[i]
            self.locs[i] = sorted((loc for loc in range(ix.n_locations) if self.allowed[i][loc]),
                                  key=lambda loc: (cost[loc], loc))
        # A SKU with a minimum partial shipment on any of its lines keeps the greedy plan's deliveries:
        # handing units out again, a unit at a time, would make parcels below the minimum.
        has_minimum = np.zeros(len(ix.skus), dtype=bool)
        np.logical_or.at(has_minimum, ix.line_sku, ix.line_min_partial > 0)
        self.moving = [k in self.lines_of and not has_minimum[k] and self._binds(self.lines_of[k])
                       for k in range(len(ix.skus))]
        self.greedy_got: dict[int, list[Delivery]] = defaultdict(list)  # the plan's own deliveries
        self.unfollowed: list[int] = []  # SKUs whose hand-out still breaks a rule

    def _binds(self, lines: list[int]) -> bool:
        """Whether the policy compares any two of a SKU's lines (else its allocation is free)."""
        if self.rules.priority and len({self.prio[i] for i in lines}) > 1:
            return True
        if self.rules.share:
            keys = [self._share_key(i) for i in lines]
            return len(set(keys)) < len(keys)
        return False

    def _share_key(self, i: int) -> tuple[int, int, tuple[bool, ...]]:
        """What makes two lines of a SKU equal for fair share: priority, earliest period, warehouses."""
        return self.prio[i], self.first[i], tuple(self.allowed[i])

    def _queue_key(self, i: int) -> tuple[int, int, int, int]:
        """Priority, then due date, then order age (then the input order)."""
        return self.prio[i], self.due[i], self.rank[i], i

    # ------------------------------------------------------------------ the plan in and out

    def run(self, plan: Decisions) -> Decisions:
        if not any(self.moving):
            return plan
        ix, NL, T = self.ix, self.ix.n_locations, self.ix.T
        flow = ix.inbound.astype(np.int64)
        for po in plan.purchase_orders:
            a = self.ag_of.get(po.agreement, -1)
            if a < 0:
                continue
            arrival = po.period + int(ix.ag_lead[a])
            if not ix.ag_dropship[a] and arrival < T:
                flow[int(ix.ag_sku[a]) * NL + int(ix.ag_loc[a]), arrival] += po.quantity
        for f in plan.forecast_fills:
            if f.sku in self.sku_of:
                flow[self.sku_of[f.sku] * NL + self.loc_of[f.location], f.period] -= f.quantity
        kept: list[Shipment] = []
        for s in plan.shipments:
            i = self.line_of.get((s.order, s.line))
            if i is not None and self._moves(i):
                self.greedy_got[i].append((s.period, self.loc_of[s.location], s.quantity))
                continue
            sku = self.sku_of.get(self.sku_of_line[s.order, s.line])
            if sku is not None:  # (a subset index holds only its SKUs' stock)
                flow[sku * NL + self.loc_of[s.location], s.period] -= s.quantity
            kept.append(s)
        stock = (ix.on_hand[:, None] + np.cumsum(flow, axis=1)).tolist()
        # Dropship units to the moving lines go back into a pool per SKU and arrival period.
        drops: dict[int, dict[int, list[_Drop]]] = defaultdict(lambda: defaultdict(list))
        po_lines: dict[int, list[DropshipLine]] = {}
        for n, po in enumerate(plan.purchase_orders):
            a = self.ag_of.get(po.agreement, -1)
            if a < 0:
                continue
            k, arrival = int(ix.ag_sku[a]), po.period + int(ix.ag_lead[a])
            if not ix.ag_dropship[a] or not self.moving[k]:
                continue
            po_lines[n] = []
            for d in po.lines or []:
                i = self.line_of.get((d.order, d.line))
                if i is not None and self._moves(i):
                    self.greedy_got[i].append((arrival, DROPSHIP - n, d.quantity))
                else:
                    po_lines[n].append(d)
            left = po.quantity - sum(d.quantity for d in po_lines[n])
            if left > 0:
                drops[k][arrival].append(_Drop(n, left))

        ships: list[Shipment] = []
        for k, moving in enumerate(self.moving):
            if not moving:
                continue
            st = _SkuState(stock=stock[k * NL:(k + 1) * NL], drops=drops[k],
                           need={i: self.qty[i] for i in self.lines_of[k]},
                           lines=sorted(self.lines_of[k], key=self._queue_key))
            got = st.got if self._hand_out(k, st) else self.greedy_got
            if self._broken(st, got):
                self.unfollowed.append(k)
            self._emit(st.lines, got, ships, po_lines)
        pos = [po if n not in po_lines else po.model_copy(update={"lines": po_lines[n]})
               for n, po in enumerate(plan.purchase_orders)]
        return Decisions(shipments=kept + ships, forecast_fills=list(plan.forecast_fills), purchase_orders=pos)

    def _moves(self, i: int) -> bool:
        """Whether a delivery to line ``i`` is handed out again (a compared line of a moving SKU)."""
        return bool(self.compete[i]) and self.moving[self.sku[i]]

    def _emit(self, lines: list[int], got: dict[int, list[Delivery]], ships: list[Shipment],
              po_lines: dict[int, list[DropshipLine]]) -> None:
        ix = self.ix
        orders = ix.problem.orders
        for i in sorted(lines):
            order, no = orders[int(ix.line_order[i])].id, int(ix.line_no[i])
            shipped: dict[tuple[int, int], int] = defaultdict(int)
            dropped: dict[int, int] = defaultdict(int)
            for t, src, q in got.get(i, []):
                if src >= 0:
                    shipped[t, src] += q
                else:
                    dropped[DROPSHIP - src] += q
            for (t, loc), q in sorted(shipped.items()):
                if q > 0:
                    ships.append(Shipment(order=order, line=no, location=ix.locations[loc], period=t, quantity=q))
            for n, q in sorted(dropped.items()):
                if q > 0:
                    po_lines[n].append(DropshipLine(order=order, line=no, quantity=q))

    # ------------------------------------------------------------------ one SKU

    def _hand_out(self, k: int, st: _SkuState) -> bool:
        """Hand out SKU ``k``'s units level by level. False keeps the greedy plan's allocation: some
        dropship unit finds no line, or the SKU would break more rules than that allocation."""
        levels: dict[int, list[int]] = defaultdict(list)
        for i in st.lines:
            levels[self.prio[i] if self.rules.priority else 0].append(i)
        for level in sorted(levels):
            units: dict[object, list[int]] = defaultdict(list)
            for i in levels[level]:
                units[self._share_key(i) if self.rules.share else i].append(i)
            for unit in units.values():  # in queue order of their first line
                if len(unit) == 1:
                    self._alone(st, unit[0])
                else:
                    st.shared.update(unit)
                    self._share(st, unit)
        if not self._place_orphans(st):
            return False
        self._move_earlier(k, st)
        broken = self._broken(st)
        return broken == 0 or broken <= self._broken(st, self.greedy_got)

    # ------------------------------------------------------------------ moving units

    @staticmethod
    def _avail(st: _SkuState, loc: int, t: int) -> int:
        """What a shipment from ``loc`` in ``t`` may take: the stock of ``t`` and every later period."""
        return min(st.stock[loc][t:])

    @staticmethod
    def _add_stock(st: _SkuState, loc: int, t: int, q: int) -> None:
        row = st.stock[loc]
        for s in range(t, len(row)):
            row[s] += q

    def _ship(self, st: _SkuState, i: int, loc: int, t: int, q: int) -> None:
        self._add_stock(st, loc, t, -q)
        st.need[i] -= q
        st.got[i].append((t, loc, q))

    @staticmethod
    def _drop(st: _SkuState, i: int, t: int, q: int) -> int:
        """Up to ``q`` dropship units arriving in ``t`` to line ``i``; the units given."""
        given = 0
        for d in st.drops.get(t, ()):
            take = min(q - given, d.left)
            if take > 0:
                d.left -= take
                given += take
                st.got[i].append((t, DROPSHIP - d.po, take))
        st.need[i] -= given
        return given

    @staticmethod
    def _drops_left(st: _SkuState, t: int) -> int:
        pool = st.drops.get(t)
        return sum(d.left for d in pool) if pool else 0

    def _take_all(self, st: _SkuState, i: int, t: int, checked: bool = False) -> None:
        """Line ``i`` takes in ``t`` what it still lacks: dropship units first, then each warehouse's
        stock, then stock freed by moving another line's shipment (:meth:`_free`).

        ``checked``: only units no higher line still open could take instead (once stock went back,
        what is left no longer says so by itself).
        """
        if st.need[i] > 0 and (not checked or self._may_take(st, i, DROPSHIP, t)):
            self._drop(st, i, t, st.need[i])
        for loc in self.locs[i]:
            if st.need[i] == 0:
                return
            take = min(st.need[i], self._avail(st, loc, t))
            if take > 0 and (not checked or self._may_take(st, i, loc, t)):
                self._ship(st, i, loc, t, take)
        for loc in self.locs[i]:
            while st.need[i] > 0:
                take = min(st.need[i], self._free(st, i, loc, t, st.need[i]))
                if take <= 0:
                    break
                self._ship(st, i, loc, t, take)

    def _free(self, st: _SkuState, i: int, loc: int, t: int, want: int) -> int:
        """Stock for line ``i`` at ``loc`` in ``t`` when none is left there: another line's shipment
        from ``loc`` moves to another warehouse that line may ship from, in the same period, so
        that no delivery changes its timing. Returns the units ``i`` may now take at ``loc``.

        Only a shipment early enough that its units stayed at ``loc`` through the first period that
        leaves ``t`` short, and only where neither the units moved nor the unit freed break the
        priority rule.
        """
        avail = self._avail(st, loc, t)
        if avail > 0 or not self._may_take(st, i, loc, t):
            return avail
        row = st.stock[loc]
        first_zero = next(s for s in range(t, len(row)) if row[s] <= 0)
        for m in st.lines:
            if m == i:
                continue
            deliveries = st.got.get(m, [])
            for n, (t_m, src, q) in enumerate(deliveries):
                if src != loc or t_m > first_zero:
                    continue
                for other in self.locs[m]:
                    if other == loc:
                        continue
                    y = min(q, want, self._avail(st, other, t_m))
                    if y <= 0 or not self._may_take(st, m, other, t_m):
                        continue
                    self._add_stock(st, loc, t_m, y)
                    self._add_stock(st, other, t_m, -y)
                    deliveries[n] = (t_m, src, q - y)
                    deliveries.append((t_m, other, y))
                    st.got[m] = [g for g in deliveries if g[2] > 0]
                    return self._avail(st, loc, t)
        return 0

    def _delivered(self, got: dict[int, list[Delivery]], i: int, by: int) -> int:
        return sum(q for t, _, q in got.get(i, ()) if t <= by)

    def _may_take(self, st: _SkuState, i: int, loc: int, t: int) -> bool:
        """Whether line ``i`` may take a unit from ``loc`` (or by dropship) in ``t`` without breaking the
        priority rule: every higher line that could take it instead is whole by ``max(t, d)``."""
        if not self.rules.priority:
            return True
        mine = self.prio[i]
        for h in st.lines:
            if self.prio[h] >= mine:
                return True  # lines come in priority order
            if not self.first[h] <= t <= self.last[h] or (loc >= 0 and not self.allowed[h][loc]):
                continue
            if self._delivered(st.got, h, max(t, self.due[h])) < self.qty[h]:
                return False
        return True

    # ------------------------------------------------------------------ a line alone

    def _alone(self, st: _SkuState, i: int) -> None:
        e, last = self.first[i], self.last[i]
        on = max(e, self.due[i])
        self._take_all(st, i, on)
        # Dropship units of earlier periods only after stock: lines due then may need them.
        for t in range(on - 1, e - 1, -1):
            if st.need[i] == 0:
                return
            self._drop(st, i, t, st.need[i])
        for t in range(on + 1, last + 1):
            if st.need[i] == 0:
                return
            self._take_all(st, i, t)

    # ------------------------------------------------------------------ equal lines

    def _share(self, st: _SkuState, group: list[int]) -> None:
        group = sorted(group, key=lambda i: (self.rank[i], i))
        e = self.first[group[0]]
        on = {i: max(e, self.due[i]) for i in group}
        for t in range(e, max(self.last[i] for i in group) + 1):
            active = [i for i in group if on[i] <= t <= self.last[i]]
            if not active:
                continue
            # Lines due now start with nothing: even them out with the others first.
            while not self._even(st, active):
                low = self._lowest(st, active)
                if low is None or not self._give(st, low, t, on[low] == t, None):
                    break
            # Then hand out what is left, as long as the lines still to come can be evened out.
            coming = _Coming(self, st, group, on, t)
            while True:
                low = self._lowest(st, active)
                if low is None or not self._give(st, low, t, on[low] == t, coming):
                    break

    def _fill(self, st: _SkuState, i: int) -> int:
        return self.qty[i] - st.need[i]

    def _lowest(self, st: _SkuState, lines: list[int]) -> int | None:
        """The line not yet whole with the lowest fill fraction, ties to the older order (``lines`` in age order)."""
        best, best_d, best_q = None, 0, 1
        for i in lines:
            if st.need[i] == 0:
                continue
            d, q = self._fill(st, i), self.qty[i]
            if best is None or d * best_q < best_d * q:
                best, best_d, best_q = i, d, q
        return best

    def _even(self, st: _SkuState, lines: list[int]) -> bool:
        """No unit can move between two of ``lines`` raising the smaller fill fraction (nor, with
        the tie rule, towards an older order keeping the split as fair): the evaluator's test.

        It suffices to compare every line with the lowest (the oldest of the lowest, for ties).
        """
        low = lines[0]
        for i in lines[1:]:
            if self._fill(st, i) * self.qty[low] < self._fill(st, low) * self.qty[i]:
                low = i
        d_low, q_low = self._fill(st, low), self.qty[low]
        for j in lines:
            d_j, q_j = self._fill(st, j), self.qty[j]
            lhs, rhs = (d_j - 1) * q_low, d_low * q_j
            if lhs > rhs:
                return False
            if self.rules.ties and j != low and d_j >= 1 and lhs == rhs and self.rank[low] < self.rank[j]:
                return False
        return True

    def _give(self, st: _SkuState, i: int, t: int, fresh: bool, coming: _Coming | None) -> bool:
        """One unit to line ``i`` in ``t``, by dropship first (a line just due may take one of an
        earlier period); with ``coming``, only if the lines still to come due can be evened out after."""
        if coming is not None and not coming.allows(i):
            return False
        given = False
        if st.drops:
            periods = [t, *range(t - 1, self.first[i] - 1, -1)] if fresh else [t]
            given = any(self._drops_left(st, p) > 0 and self._drop(st, i, p, 1) for p in periods)
        if not given:
            for free in (False, True):
                loc = next((loc for loc in self.locs[i] if self._avail(st, loc, t) > 0
                            or (free and self._free(st, i, loc, t, 1) > 0)), None)
                if loc is not None:
                    self._ship(st, i, loc, t, 1)
                    given = True
                    break
        if given and coming is not None:
            coming.given(i)
        return given

    # ------------------------------------------------------------------ dropship units nobody took

    def _place_orphans(self, st: _SkuState) -> bool:
        """Dropship units left over go to a line still short that can take them in their period,
        higher priority first; else in place of a shipment of a line whose window holds the period,
        its units going back into stock for the lines still short. A move is kept only if the SKU
        breaks no more rules than before it (:meth:`_broken`); when every move breaks some, the one
        breaking fewest is made. False when some unit finds no line at all.
        """
        for t in sorted(st.drops):
            if self._drops_left(st, t) == 0:
                continue
            window = [i for i in st.lines if self.first[i] <= t <= self.last[i]]
            for move in self._orphan_moves(st, t, window):
                if self._drops_left(st, t) == 0:
                    break
                saved, before = self._saved(st), self._broken(st)
                if not (move() and self._broken(st) <= before):
                    self._restore(st, saved)
            while self._drops_left(st, t) > 0:
                best: tuple[int, int] | None = None
                saved = self._saved(st)
                for n, move in enumerate(self._orphan_moves(st, t, window)):
                    if move():
                        broken = self._broken(st)
                        if best is None or broken < best[0]:
                            best = (broken, n)
                    self._restore(st, saved)
                if best is None:
                    return False
                self._orphan_moves(st, t, window)[best[1]]()
        return True

    def _orphan_moves(self, st: _SkuState, t: int, window: list[int]) -> list[Callable[[], bool]]:
        """The ways to place dropship units of period ``t``: to a line still short, or in place of a
        shipment (those that surely change no comparison first); each says whether it placed any."""
        swaps = sorted({(i, t_s, loc) for i in window for t_s, loc, q in st.got.get(i, []) if loc >= 0 and q > 0},
                       key=lambda s: (not self._swap_keeps_rules(st, s[0], t, s[1]), st.lines.index(s[0]), s[1], s[2]))
        moves: list[Callable[[], bool]] = [partial(self._orphan_to, st, i, t) for i in window if st.need[i] > 0]
        return moves + [partial(self._orphan_for, st, i, t_s, loc, t) for i, t_s, loc in swaps]

    def _orphan_to(self, st: _SkuState, i: int, t: int) -> bool:
        return self._drop(st, i, t, st.need[i]) > 0

    def _orphan_for(self, st: _SkuState, i: int, t_s: int, loc: int, t: int) -> bool:
        """Line ``i`` takes dropship units of ``t`` in place of units it ships from ``loc`` in ``t_s``;
        the stock given back goes to the lines still short (those without an equal line, by priority)."""
        n = next((n for n, (p, src, q) in enumerate(st.got.get(i, [])) if (p, src) == (t_s, loc) and q > 0), None)
        if n is None:
            return False
        q = st.got[i][n][2]
        y = min(q, self._drops_left(st, t))
        if y <= 0:
            return False
        self._add_stock(st, loc, t_s, y)
        st.got[i][n] = (t_s, loc, q - y)
        st.need[i] += y
        self._drop(st, i, t, y)
        st.got[i] = [g for g in st.got[i] if g[2] > 0]
        for j in st.lines:
            if j in st.shared:
                continue
            for p in range(max(self.first[j], self.due[j]), self.last[j] + 1):
                if st.need[j] == 0:
                    break
                self._take_all(st, j, p, checked=True)
        return True

    def _swap_keeps_rules(self, st: _SkuState, i: int, t: int, t_s: int) -> bool:
        """Whether line ``i`` taking a dropship unit in ``t`` instead of a shipment's unit in ``t_s``
        surely changes no comparison: the same period, both by its due period, or earlier for a line
        without an equal (a dropship unit is left over only when every line whose window holds its
        period is whole: none of them could take it instead)."""
        return t == t_s or max(t, t_s) <= self.due[i] or (t_s >= t and i not in st.shared)

    @staticmethod
    def _saved(st: _SkuState) -> _Saved:
        return ([list(row) for row in st.stock], {i: list(g) for i, g in st.got.items()}, dict(st.need),
                {t: [d.left for d in pool] for t, pool in st.drops.items()})

    @staticmethod
    def _restore(st: _SkuState, saved: _Saved) -> None:
        stock, got, need, drops = saved
        st.stock = [list(row) for row in stock]
        st.got = defaultdict(list, {i: list(g) for i, g in got.items()})
        st.need = dict(need)
        for t, lefts in drops.items():
            for d, left in zip(st.drops[t], lefts, strict=True):
                d.left = left

    def _broken(self, st: _SkuState, got: dict[int, list[Delivery]] | None = None) -> int:
        """How many of the evaluator's policy checks an allocation of the SKU (``got``, else the
        state's) fails, one per pair of lines and source or period: the guard of the moves that place
        left-over dropship units, and of the re-allocation against the greedy plan's own."""
        got = st.got if got is None else got
        lines, broken = st.lines, 0
        if self.rules.priority:
            whole_by = {h: self._whole_by(got, h) for h in lines}
            for h in lines:
                for low in lines:
                    if self.prio[low] <= self.prio[h]:
                        continue
                    for t, src, q in got.get(low, ()):
                        if (q > 0 and self.first[h] <= t <= self.last[h] and (src < 0 or self.allowed[h][src])
                                and whole_by[h] > max(t, self.due[h])):
                            broken += 1
                            break
        if self.rules.share:
            groups: dict[tuple[int, int, tuple[bool, ...]], list[int]] = defaultdict(list)
            for i in lines:
                groups[self._share_key(i)].append(i)
            for group in groups.values():
                if len(group) < 2:
                    continue
                for t in range(self.ix.T):
                    here = [i for i in group if self.due[i] <= t <= self.last[i]]
                    by = {i: self._delivered(got, i, t) for i in here}
                    for low in here:
                        for high in here:
                            lhs, rhs = (by[high] - 1) * self.qty[low], by[low] * self.qty[high]
                            if lhs > rhs or (self.rules.ties and low != high and by[high] >= 1 and lhs == rhs
                                             and self.rank[low] < self.rank[high]):
                                broken += 1
        return broken

    def _whole_by(self, got: dict[int, list[Delivery]], i: int) -> int:
        """The first period by which line ``i`` has all its units (``T`` when never)."""
        have = 0
        for t, _, q in sorted(got.get(i, ())):
            have += q
            if have >= self.qty[i]:
                return t
        return self.ix.T

    # ------------------------------------------------------------------ holding cost

    def _move_earlier(self, k: int, st: _SkuState) -> None:
        """Shipments made by a line's on-time period move to earlier periods of its window where stock
        is left over and holding it costs more than the safety-stock shortfall it opens.

        Before its on-time period a line's units count for no fair-share comparison; as a lower
        line's unit it must not be one a higher line still open could have taken instead. A higher
        line's units move only earlier too, so which lines are open where is read once: ``open_to``
        is, per warehouse and period, the highest priority (smallest number) of a line that could
        take a unit there and is not whole by ``max(t, d)``.
        """
        ix = self.ix
        hold = float(ix.holding[k])
        if hold <= 0:
            return
        T = ix.T
        open_to = [[T + 1_000_000] * T for _ in range(ix.n_locations)]
        if self.rules.priority:
            for h in st.lines:
                whole = self._whole_by(st.got, h)
                for t in range(self.first[h], self.last[h] + 1):
                    if whole > max(t, self.due[h]):
                        for loc in self.locs[h]:
                            open_to[loc][t] = min(open_to[loc][t], self.prio[h])
        for i in st.lines:
            e = self.first[i]
            on = max(e, self.due[i])
            now: list[Delivery] = []
            for t, loc, q in st.got.get(i, []):
                if loc < 0 or t > on or t <= e:
                    now.append((t, loc, q))
                    continue
                pair = k * ix.n_locations + loc
                safety, shortfall = int(ix.safety_stock[pair]), float(ix.safety_cost[pair])
                row = st.stock[loc]
                while t > e:
                    room = row[t - 1] if hold > shortfall else max(0, row[t - 1] - safety)
                    y = min(q, room)
                    if y == 0 or open_to[loc][t - 1] < self.prio[i]:
                        break
                    # y units leave a period earlier; the rest stay where they are.
                    row[t - 1] -= y
                    if y < q:
                        now.append((t, loc, q - y))
                    t, q = t - 1, y
                now.append((t, loc, q))
            st.got[i] = now


class _Coming:
    """The equal lines still to come due, and what they need to be evened out when they do.

    A line coming due in ``p`` needs at least as many units as keep every line due then from
    holding one it could take: the lines due now with what they hold, and the lines coming due
    before ``p`` (and still due at ``p``) with what they will need themselves (pairwise lower
    bounds; lines evened out this way keep no unit another could take). What the lines coming
    due by ``p`` need in all must be left for them by ``p``: in stock at ``p``, or as dropship
    units of periods from the lines' earliest to ``p`` (a line just due may take those).
    """

    def __init__(self, owner: _Reallocation, st: _SkuState, group: list[int], on: dict[int, int], t: int) -> None:
        self.owner, self.st, self.on = owner, st, on
        self.first = owner.first[group[0]]
        self.locs = owner.locs[group[0]]
        self.lines = sorted((j for j in group if on[j] > t), key=lambda j: on[j])
        self.periods = sorted({on[j] for j in self.lines})
        self.entered = [i for i in group if on[i] <= t]
        self.need = self._needs()
        self.pending: tuple[int, dict[int, int]] | None = None  # what allows() found, for given()

    def _bound(self, j: int, i: int, d_i: int) -> int:
        """The fewest units line ``j`` needs so that ``i``, holding ``d_i``, keeps none ``j`` could take."""
        if d_i == 0:
            return 0
        owner = self.owner
        q_i, q_j = owner.qty[i], owner.qty[j]
        x = (d_i - 1) * q_j
        if owner.rules.ties and owner.rank[j] < owner.rank[i]:
            return min(q_j, x // q_i + 1)
        return min(q_j, -(-x // q_i))

    def _needs(self) -> dict[int, int]:
        """What each line still to come needs (in order of their on-time periods)."""
        owner, last = self.owner, self.owner.last
        held = {i: owner._fill(self.st, i) for i in self.entered}
        need: dict[int, int] = {}
        for j in self.lines:
            p = self.on[j]
            bounds = [self._bound(j, i, d) for i, d in held.items() if last[i] >= p]
            bounds += [self._bound(j, k, n) for k, n in need.items() if self.on[k] < p <= last[k]]
            need[j] = max(bounds, default=0)
        return need

    def _needs_with(self, i: int) -> dict[int, int]:
        """:meth:`_needs` once line ``i`` (due now) holds one unit more: bounds only grow with what a
        line holds, so only the bounds from ``i`` and from lines whose need grew are looked at again."""
        last, d_i = self.owner.last, self.owner._fill(self.st, i) + 1
        need = dict(self.need)
        grown: list[int] = []
        for j in self.lines:
            p = self.on[j]
            n = need[j]
            if last[i] >= p:
                n = max(n, self._bound(j, i, d_i))
            for k in grown:
                if self.on[k] < p <= last[k]:
                    n = max(n, self._bound(j, k, need[k]))
            if n > need[j]:
                need[j] = n
                grown.append(j)
        return need

    def allows(self, i: int) -> bool:
        """Whether one more unit to line ``i`` (from stock or by dropship, either is one unit fewer
        for the lines to come) leaves enough to even out every line still to come due."""
        if not self.lines:
            return True
        need = self._needs_with(i)
        total = 0
        for p in self.periods:
            total += sum(n for j, n in need.items() if self.on[j] == p)
            left = sum(self.owner._avail(self.st, loc, p) for loc in self.locs)
            if self.st.drops:
                left += sum(self.owner._drops_left(self.st, s) for s in range(self.first, p + 1))
            if total > left - 1:
                return False
        self.pending = (i, need)
        return True

    def given(self, i: int) -> None:
        """Line ``i`` got the unit :meth:`allows` let it have (counted already by ``_fill``)."""
        if self.lines:
            assert self.pending is not None and self.pending[0] == i
            self.need, self.pending = self.pending[1], None
