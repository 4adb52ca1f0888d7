"""The greedy baseline: how a rule-based system allocates.

Lines in order of priority, then due date: stock first (on time, from the
cheapest allowed warehouse), then the cheapest agreement that can deliver in
time honouring MOQ, pack size and capacity, then the earliest late delivery.
Ship-complete orders are placed whole in the first period that can serve every
line. Remaining stock then serves forecast demand. The result is always
feasible: it is the MIP's warm start and its fallback.

Split-shipment control (extension): a shipment that leaves its line short is never
below the line's minimum partial shipment (a source that can send only less is
skipped). With shipment fees, a line is shipped before its on-time period only
whole from one warehouse, and an order's lines go in the parcels it already has
(same warehouse and period) where stock allows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from stockplan.models.plan import Decisions, DropshipLine, ForecastFill, PurchaseOrder, Shipment
from stockplan.solver.allocation import follow_policy
from stockplan.solver.indexing import ProblemIndex


@dataclass
class _State:
    ix: ProblemIndex
    stock: np.ndarray  # (pairs, T) projected end-of-period stock
    slot_qty: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    supplier_used: set[tuple[int, int]] = field(default_factory=set)
    ships: list[tuple[int, int, int, int]] = field(default_factory=list)  # line, loc, t, qty
    drops: list[tuple[int, int, int, int]] = field(default_factory=list)  # agreement, p, line, qty
    shipped: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))  # line, loc, t
    parcels: set[tuple[int, int, int]] = field(default_factory=set)  # order, loc, t shipped

    def available(self, pair: int, t: int) -> int:
        return int(self.stock[pair, t:].min())


def _price(ix: ProblemIndex, a: int, q: int) -> float:
    return ix.agreements[a].price_at(q) * q if q > 0 else 0.0


def _order_range(ix: ProblemIndex, a: int) -> tuple[int, int, int]:
    """Pack size, smallest and largest positive quantity agreement ``a`` may order in a period.

    A quantity is feasible when it is 0 or a multiple of ``pack_size`` between ``moq``
    and ``capacity_per_period`` (spec §4). The greedy plan also keeps every quantity
    within ``max_change_per_period`` (order smoothing): then no two periods can differ
    by more. The largest is -1 when unlimited; when the smallest exceeds it (moq 10,
    pack 4, capacity 11), nothing can be ordered on the agreement at all.
    """
    pack, moq, cap = int(ix.ag_pack[a]), int(ix.ag_moq[a]), int(ix.ag_cap[a])
    limit = ix.agreements[a].max_change_per_period
    if limit is not None:
        cap = limit if cap < 0 else min(cap, limit)
    smallest = max(pack, -(-moq // pack) * pack)
    largest = -1 if cap < 0 else cap - cap % pack
    return pack, smallest, largest


def _buy_option(st: _State, a: int, p: int, need: int) -> tuple[int, int, float] | None:
    """Units gained, units usable and incremental cost of adding ``need`` to slot (a, p).

    None when no feasible quantity of the slot (see :func:`_order_range`) adds a unit.
    """
    ix = st.ix
    pack, smallest, largest = _order_range(ix, a)
    if 0 <= largest < smallest:
        return None
    q0 = st.slot_qty.get((a, p), 0)  # 0 or already feasible
    if ix.ag_dropship[a]:
        # A dropship order carries exactly what its lines receive: no surplus possible.
        total = q0 + need
        total -= total % pack
    else:
        # Round up to the MOQ and the pack size; the surplus goes into stock.
        total = max(q0 + need, smallest)
        total = -(-total // pack) * pack
    if largest >= 0:
        total = min(total, largest)
    if total <= q0 or total < smallest:
        return None
    gained = total - q0
    usable = min(gained, need)
    cost = _price(ix, a, total) - _price(ix, a, q0)
    sup = int(ix.ag_supplier[a])
    if (sup, p) not in st.supplier_used:
        cost += float(ix.supplier_cost[sup])
    return gained, usable, cost


def _commit_buy(st: _State, a: int, p: int, gained: int) -> None:
    ix = st.ix
    st.slot_qty[a, p] += gained
    st.supplier_used.add((int(ix.ag_supplier[a]), p))
    if not ix.ag_dropship[a]:
        pair = int(ix.ag_sku[a]) * ix.n_locations + int(ix.ag_loc[a])
        st.stock[pair, p + int(ix.ag_lead[a]):] += gained


def _ship(st: _State, line: int, loc: int, t: int, qty: int) -> None:
    pair = int(st.ix.line_sku[line]) * st.ix.n_locations + loc
    st.stock[pair, t:] -= qty
    st.ships.append((line, loc, t, qty))
    st.shipped[line, loc, t] += qty
    st.parcels.add((int(st.ix.line_order[line]), loc, t))


def _shipment_ok(st: _State, line: int, loc: int, t: int, qty: int, need: int) -> bool:
    """Whether shipping ``qty`` of the ``need`` units ``line`` still lacks, from ``loc`` in ``t``, keeps its minimum.

    A shipment that completes the line is always fine; one that leaves it short
    carries at least the minimum partial shipment, counting what the line already
    gets from that warehouse in that period. Ship-complete lines are whole when
    delivered: no minimum applies.
    """
    ix = st.ix
    minimum = int(ix.line_min_partial[line])
    if minimum <= 1 or qty >= need or ix.line_complete[line]:
        return True
    return st.shipped.get((line, loc, t), 0) + qty >= minimum


def _parcels_first(st: _State, line: int, t: int, locs: list[int]) -> list[int]:
    """``locs`` with the warehouses the line's order already ships from in ``t`` first (when it pays a fee)."""
    o = int(st.ix.line_order[line])
    if st.ix.order_fee[o] <= 0:
        return locs
    return sorted(locs, key=lambda loc: (o, loc, t) not in st.parcels)


def _value(ix: ProblemIndex, line: int, t: int) -> float:
    late = ix.line_last[line] - max(t, ix.line_due[line]) + 1
    return float(ix.line_lost[line] + ix.line_backorder[line] * late)


def _serve_from_stock(st: _State, line: int, t: int, need: int, locs: list[int], whole: bool = False) -> int:
    """Ship what stock allows of ``need`` in ``t``, warehouse by warehouse; with ``whole``, all from one or nothing."""
    ix = st.ix
    for loc in _parcels_first(st, line, t, locs):
        if need == 0:
            break
        pair = int(ix.line_sku[line]) * ix.n_locations + loc
        take = min(need, st.available(pair, t))
        if take > 0 and (take == need or not whole) and _shipment_ok(st, line, loc, t, take, need):
            _ship(st, line, loc, t, take)
            need -= take
    return need


def _serve_by_purchase(st: _State, line: int, t: int, need: int, locs: list[int], agreements: list[int],
                       allow_dropship: bool) -> int:
    """Buy for ``line`` arriving in period ``t`` from the cheapest agreement worth it."""
    ix = st.ix
    while need > 0:
        best: tuple[float, int, int, int, int, int] | None = None
        for a in agreements:
            p = t - int(ix.ag_lead[a])
            if p < 0:
                continue
            if ix.ag_dropship[a]:
                if not allow_dropship:
                    continue
                ship = 0.0
                loc = -1
            else:
                loc = int(ix.ag_loc[a])
                if loc not in locs:
                    continue
                ship = float(ix.ship_cost[line, loc])
            opt = _buy_option(st, a, p, need)
            if opt is None:
                continue
            gained, usable, cost = opt
            if loc >= 0 and not _shipment_ok(st, line, loc, t, usable, need):
                continue  # a shipment below the line's minimum partial shipment
            per_unit = cost / usable + ship
            if per_unit >= _value(ix, line, t):
                continue  # not worth buying: the unit is cheaper lost or late
            if best is None or per_unit < best[0]:
                best = (per_unit, a, p, loc, gained, usable)
        if best is None:
            return need
        _, a, p, loc, gained, usable = best
        _commit_buy(st, a, p, gained)
        if ix.ag_dropship[a]:
            st.drops.append((a, p, line, usable))
        else:
            _ship(st, line, loc, t, usable)
        need -= usable
    return 0


def _complete_order_fits(st: _State, lines: list[int], t: int, locs_of: dict[int, list[int]]) -> bool:
    ix = st.ix
    need: dict[int, int] = defaultdict(int)
    for i in lines:
        need[int(ix.line_sku[i])] += int(ix.line_qty[i])
    for sku, q in need.items():
        locs = locs_of[lines[0]]
        have = sum(st.available(sku * ix.n_locations + loc, t) for loc in locs)
        if have < q:
            return False
    return True


def greedy_plan(ix: ProblemIndex) -> Decisions:
    T, NL = ix.T, ix.n_locations
    stock = np.repeat(ix.on_hand[:, None], T, axis=1) + np.cumsum(ix.inbound, axis=1)
    st = _State(ix=ix, stock=stock.astype(np.int64))
    ags_by_sku: dict[int, list[int]] = defaultdict(list)
    for a in range(len(ix.agreement_ids)):
        ags_by_sku[int(ix.ag_sku[a])].append(a)
    # Allowed warehouses per line, cheapest shipping first.
    locs_of: dict[int, list[int]] = {}
    for i in range(ix.n_lines):
        allowed = np.flatnonzero(ix.allowed[i])
        locs_of[i] = allowed[np.lexsort((allowed, ix.ship_cost[i, allowed]))].tolist()
    # Priority, then due date, then input order: ties broken deterministically.
    order = np.lexsort((ix.line_no, ix.line_order, ix.line_due, ix.line_priority))
    done_orders: set[int] = set()
    lines_of_order: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(ix.line_complete).tolist():
        lines_of_order[int(ix.line_order[i])].append(i)
    for i in order.tolist():
        e, last, d = int(ix.line_first[i]), int(ix.line_last[i]), int(ix.line_due[i])
        if e > last:
            continue
        if ix.line_complete[i]:
            o = int(ix.line_order[i])
            if o not in done_orders:
                done_orders.add(o)
                _place_complete_order(st, lines_of_order[o], e, last, locs_of, ags_by_sku)
            continue
        need = int(ix.line_qty[i])
        locs = locs_of[i]
        on_time = min(max(e, d), last)
        # With a shipment fee, an early shipment saves holding cost only when it is the line's only one.
        early_whole = bool(ix.order_fee[int(ix.line_order[i])] > 0)
        for t in range(e, on_time + 1):
            need = _serve_from_stock(st, i, t, need, locs, whole=early_whole and t < on_time)
        need = _serve_by_purchase(st, i, on_time, need, locs, ags_by_sku[int(ix.line_sku[i])], True)
        for t in range(on_time + 1, last + 1):
            if need == 0:
                break
            need = _serve_from_stock(st, i, t, need, locs)
            need = _serve_by_purchase(st, i, t, need, locs, ags_by_sku[int(ix.line_sku[i])], True)

    fills = []
    for pair, t in zip(*np.nonzero(ix.forecast), strict=True):
        take = min(int(ix.forecast[pair, t]), st.available(int(pair), int(t)))
        if take > 0:
            st.stock[pair, t:] -= take
            fills.append(ForecastFill(sku=ix.skus[pair // NL], location=ix.locations[pair % NL],
                                      period=int(t), quantity=take))
    # Under an allocation policy the same supply is handed out again by its rules.
    return follow_policy(ix, _decisions(st, fills))


def _place_complete_order(
    st: _State, lines: list[int], e: int, last: int, locs_of: dict[int, list[int]], ags_by_sku: dict[int, list[int]]
) -> None:
    """Whole in the first period every line can be served from stock; else buy for it on time."""
    ix = st.ix
    for t in range(e, last + 1):
        if _complete_order_fits(st, lines, t, locs_of):
            for i in lines:
                left = _serve_from_stock(st, i, t, int(ix.line_qty[i]), locs_of[i])
                assert left == 0
            return
    # Try buying what stock lacks, arriving in the on-time period; roll back if any line falls short.
    t = min(max(e, int(ix.line_due[lines[0]])), last)
    saved = (st.stock.copy(), dict(st.slot_qty), set(st.supplier_used), len(st.ships))
    for i in lines:
        left = _serve_from_stock(st, i, t, int(ix.line_qty[i]), locs_of[i])
        left = _serve_by_purchase(st, i, t, left, locs_of[i], ags_by_sku[int(ix.line_sku[i])], allow_dropship=False)
        if left:
            st.stock, slot_qty, st.supplier_used, n = saved
            st.slot_qty = defaultdict(int, slot_qty)
            del st.ships[n:]
            return


def _decisions(st: _State, fills: list[ForecastFill]) -> Decisions:
    ix = st.ix
    orders = ix.problem.orders
    shipments = [
        Shipment(order=orders[ix.line_order[i]].id, line=int(ix.line_no[i]), location=ix.locations[loc],
                 period=t, quantity=q)
        for i, loc, t, q in st.ships
    ]
    drop_lines: dict[tuple[int, int], list[DropshipLine]] = defaultdict(list)
    for a, p, i, q in st.drops:
        drop_lines[a, p].append(DropshipLine(order=orders[ix.line_order[i]].id, line=int(ix.line_no[i]), quantity=q))
    pos = [
        PurchaseOrder(agreement=ix.agreement_ids[a], period=p, quantity=q,
                      lines=drop_lines[a, p] if ix.ag_dropship[a] else None)
        for (a, p), q in sorted(st.slot_qty.items())
        if q > 0
    ]
    return Decisions(shipments=shipments, forecast_fills=fills, purchase_orders=pos)
