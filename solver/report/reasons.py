"""Why a line is not on time: what kept it late, found from the plan's own decisions.

The first that applies, in :class:`BackorderReason` order:

- the order's earliest date is after its due date;
- a ship-complete order held back by another SKU (:func:`ship_complete_binding`);
- stock was at hand at its warehouses while it waited (:class:`TakenBy`): it went
  to higher-priority orders (under ``priority`` and ``priority_fair_share``, naming
  them), was shared with equal orders (under the fair-share policies), went to
  other orders because that saves more, or stayed because on time costs more
  (its shipping cost, when that is what it pays);
- no stock in time: no agreement supplies it there; the fastest agreement arrives
  after the due date (or the latest date); every agreement that could land it in
  time is at capacity (:func:`capacity_binding`); else an agreement could deliver
  in time and on time costs more than the lateness it saves.

Reasons speak in dates. :func:`stockplan.solver.explain.explain` replaces a cost
reason with the priced numbers once the line's on-time plan is known.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stockplan.models.problem import Policy
from stockplan.models.report import BackorderReason
from stockplan.solver.report.agreements import primary_agreements, primary_rank, spare_capacity
from stockplan.solver.report.context import BIG, Deliveries, ReportContext
from stockplan.solver.report.statuses import BACKORDERED, LOST, ON_TIME
from stockplan.solver.report.stock import ProjectedStock


def backorder_reasons(ctx: ReportContext, stock: ProjectedStock, status: np.ndarray, by_due: np.ndarray,
                      last: np.ndarray, dl: Deliveries) -> dict[int, tuple[BackorderReason, str]]:
    """Reason per line not on time, the first that applies, in :class:`BackorderReason` order."""
    ix = ctx.ix
    P, NL = ix.n_pairs, ix.n_locations
    cand = np.flatnonzero(status != ON_TIME)
    if cand.size == 0:
        return {}
    d, e, ell = ix.line_due[cand], ix.line_first[cand], ix.line_last[cand]
    sku, allowed = ix.line_sku[cand], ix.allowed[cand]
    pairs = sku[:, None] * NL + np.arange(NL)[None, :]
    # The wait: from d to just before the last delivery when all came, else to ℓ.
    w_end = np.where(status[cand] == BACKORDERED, last[cand] - 1, ell)

    gross = stock.gross
    # Units free at (pair, t) for one more delivery: at hand then and in every later period.
    free = np.minimum.accumulate(stock.end[:, ::-1], axis=1)[:, ::-1]

    # Fastest agreement per pair (stock) and per SKU (dropship): placed in period 0 it lands in period `lead`.
    stock_lead = np.full(P, BIG, dtype=np.int64)
    stock_ag = np.full(P, -1, dtype=np.int64)
    drop_lead = np.full(len(ix.skus), BIG, dtype=np.int64)
    drop_ag = np.full(len(ix.skus), -1, dtype=np.int64)
    by_sku: dict[int, list[int]] = defaultdict(list)
    for a in range(len(ix.agreement_ids)):
        k, lead = int(ix.ag_sku[a]), int(ix.ag_lead[a])
        by_sku[k].append(a)
        if ix.ag_dropship[a]:
            if lead < drop_lead[k]:
                drop_lead[k], drop_ag[k] = lead, a
        elif lead < stock_lead[k * NL + ix.ag_loc[a]]:
            stock_lead[k * NL + ix.ag_loc[a]], stock_ag[k * NL + ix.ag_loc[a]] = lead, a
    lead_at = np.where(allowed, stock_lead[pairs], BIG)
    best_loc = np.argmin(lead_at, axis=1)
    fast_stock = lead_at[np.arange(cand.size), best_loc]
    fast_drop = np.where(ix.line_complete[cand], BIG, drop_lead[sku])
    fastest = np.minimum(fast_stock, fast_drop)
    fastest_ag = np.where(fast_stock <= fast_drop, stock_ag[pairs[np.arange(cand.size), best_loc]], drop_ag[sku])

    taken = TakenBy(ctx, dl, stock.end, free)
    primaries = primary_agreements(ix)
    out: dict[int, tuple[BackorderReason, str]] = {}
    for r, i in enumerate(cand.tolist()):
        name = ix.skus[int(sku[r])]
        di, ei = int(d[r]), int(e[r])
        due = ctx.problem.orders[int(ix.line_order[i])].due.isoformat()
        here = f"{name} at {ctx.where(allowed[r])}"
        if ei > di:
            out[i] = (BackorderReason.EARLIEST_AFTER_DUE,
                      f"the customer takes delivery from {ctx.day(ei)}, after the due date {due}")
            continue
        if (held := ship_complete_binding(ctx, gross, i)) is not None:
            out[i] = BackorderReason.SHIP_COMPLETE_HELD, f"ship-complete order held back by SKU {held}"
            continue
        # What new supply could do by the due date: nothing (and why), or deliver it at a price.
        supply: tuple[BackorderReason, str] | None
        if fastest[r] >= BIG:
            supply = BackorderReason.NO_AGREEMENT, "no agreement supplies it there"
        elif fastest[r] > di:
            after = (f"after the latest date {ctx.line_latest(i)}" if fastest[r] > ell[r]
                     else f"after the due date {due}")
            supply = (BackorderReason.LEAD_TIME, f"the fastest agreement ({ix.agreement_ids[int(fastest_ag[r])]}) "
                      f"arrives {ctx.day(int(fastest[r]))} at the earliest, {after}")
        else:
            full = capacity_binding(ctx, i, by_sku[int(sku[r])], primaries, int(ix.line_qty[i] - by_due[i]))
            supply = None if full is None else (BackorderReason.CAPACITY, full)
        # Where the stock at hand went while it waited.
        kind, went = taken.who(i, allowed[r], di, int(w_end[r]), here, status[i] == BACKORDERED)
        costs_more = f"{_on_time(status[i])} costs more than the lateness it saves"
        if kind == STAYED or (supply is None and kind != NOTHING):
            out[i] = BackorderReason.COST_TRADEOFF, f"{went}, but {costs_more}"
        elif supply is None:
            ag_id = ix.agreement_ids[int(fastest_ag[r])]
            out[i] = (BackorderReason.COST_TRADEOFF,
                      f"no stock of {here} in time; {ag_id} could deliver by the due date, but {costs_more}")
        elif kind == NOTHING:
            out[i] = supply[0], f"no stock of {here} in time, and {supply[1]}"
        else:
            code = {HIGHER: BackorderReason.HIGHER_PRIORITY, EQUAL: BackorderReason.FAIR_SHARE}.get(kind, supply[0])
            out[i] = code, f"{went}, and {supply[1]}"
    return out


def _on_time(status: int) -> str:
    return "delivering it" if status == LOST else "on time" if status == BACKORDERED else "delivering in full"


# Where a waiting line's stock went (TakenBy.who).
NOTHING, HIGHER, EQUAL, OTHERS, STAYED = range(5)


class TakenBy:
    """Where the units at hand went while a line waited: the lines of its SKU served at its warehouses."""

    def __init__(self, ctx: ReportContext, dl: Deliveries, end: np.ndarray, free: np.ndarray) -> None:
        self.ctx, self.ix, self.end, self.free = ctx, ctx.ix, end, free
        shipped = dl.loc >= 0
        self.line, self.loc, self.period = dl.line[shipped], dl.loc[shipped], dl.period[shipped]
        self.sku = self.ix.line_sku[self.line]
        self.policy = str(ctx.problem.settings.policy)
        self.by_priority = self.policy in (Policy.PRIORITY, Policy.PRIORITY_FAIR_SHARE)
        self.fair = self.policy in (Policy.FAIR_SHARE, Policy.PRIORITY_FAIR_SHARE)

    def who(self, i: int, allowed: np.ndarray, lo: int, hi: int, here: str, moved: bool) -> tuple[int, str]:
        """How the stock at the line's warehouses was used in periods lo..hi, and that in words.

        ``moved``: the line gets all its units after ``hi``; one delivered earlier instead needs
        the unit at hand from then to ``hi`` only. Otherwise it would be one more delivery.
        """
        ix = self.ix
        got = ((self.sku == ix.line_sku[i]) & (self.line != i) & allowed[self.loc]
               & (self.period >= lo) & (self.period <= hi))
        lines = self.line[got]
        prio = ix.line_priority[lines]
        if self.by_priority and (prio < ix.line_priority[i]).any():
            top = lines[prio < ix.line_priority[i]]
            return HIGHER, (f"the stock of {here} went to higher-priority orders {self._orders(top)} "
                            f"under the {self.policy} policy")
        equal = lines[self._equal(i, lines)]
        if self.fair and equal.size:
            return EQUAL, (f"the stock of {here} was shared with equal orders {self._orders(equal)} "
                           f"under the {self.policy} policy")
        if lines.size:
            return OTHERS, f"the stock of {here} went to {self._orders(lines)}"
        pairs = ix.line_sku[i] * ix.n_locations + np.flatnonzero(allowed)
        if hi < lo:
            spare = False
        elif moved:
            seg = self.end[pairs, lo:hi + 1]
            spare = bool((np.minimum.accumulate(seg[:, ::-1], axis=1) > 0).any())
        else:
            spare = bool((self.free[pairs, lo:hi + 1] > 0).any())
        if spare:
            ship = ix.ship_cost[i, allowed]
            dear = f" (shipping costs {float(ship.min()):.2f} a unit)" if ship.size and ship.min() > 0 else ""
            return STAYED, f"{here} had stock to spare{dear}"
        return NOTHING, ""

    def _equal(self, i: int, lines: np.ndarray) -> np.ndarray:
        """Lines the fair-share rule compares with ``i``: same SKU, priority, earliest period, warehouses."""
        ix = self.ix
        return ((ix.line_priority[lines] == ix.line_priority[i]) & (ix.line_first[lines] == ix.line_first[i])
                & ~ix.line_complete[lines] & (ix.allowed[lines] == ix.allowed[i]).all(axis=1))

    def _orders(self, lines: np.ndarray, most: int = 3) -> str:
        orders = self.ctx.problem.orders
        ids = list(dict.fromkeys(orders[o].id for o in self.ix.line_order[lines].tolist()))
        more = f" and {len(ids) - most} more" if len(ids) > most else ""
        return ", ".join(ids[:most]) + more


def ship_complete_binding(ctx: ReportContext, gross: np.ndarray, i: int) -> str | None:
    """The SKU of another line that holds a ship-complete order back, or None.

    At the order's first deliverable period ``max(d, e)``, a SKU binds when the units at
    hand at the order's warehouses fall short of what the order needs of it.
    """
    ix = ctx.ix
    if not ix.line_complete[i]:
        return None
    t = int(max(ix.line_due[i], ix.line_first[i]))
    if t > ix.line_last[i]:
        return None
    o = ix.line_order[i]
    lo, hi = np.searchsorted(ix.line_order, [o, o + 1])  # the order's lines are contiguous
    need: dict[int, int] = defaultdict(int)
    for j in range(lo, hi):
        need[int(ix.line_sku[j])] += int(ix.line_qty[j])
    locs = np.flatnonzero(ix.allowed[i])
    for k, q in need.items():
        if k != ix.line_sku[i] and int(gross[k * ix.n_locations + locs, t].sum()) < q:
            return ix.skus[k]
    return None


def capacity_binding(ctx: ReportContext, i: int, agreements: list[int], primaries: dict[tuple[int, int], int],
                     short: int) -> str | None:
    """Reason text when every agreement that could land units by ``d`` lacks the capacity, else None."""
    ix = ctx.ix
    d, e = int(ix.line_due[i]), int(ix.line_first[i])
    usable = [a for a in agreements
              if int(ix.ag_lead[a]) <= d
              and ((ix.ag_dropship[a] and not ix.line_complete[i]) or
                   (not ix.ag_dropship[a] and ix.allowed[i, ix.ag_loc[a]]))]
    if not usable:
        return None
    spare = 0
    for a in usable:
        # A dropship must land within the line's window; stock may land earlier and wait.
        lo = max(0, e - int(ix.ag_lead[a])) if ix.ag_dropship[a] else 0
        room = spare_capacity(ctx, a, lo, d - int(ix.ag_lead[a]))
        if room is None:
            return None
        spare += room
    if spare >= short:
        return None
    named = [a for a in usable if primaries.get((int(ix.ag_sku[a]), int(ix.ag_loc[a]))) == a]
    a = named[0] if named else min(usable, key=lambda c: primary_rank(ix, c))
    role = "primary agreement" if named else "agreement"
    when = ctx.span(0, d - int(ix.ag_lead[a]))
    left = "is used up" if spare == 0 else f"leaves only {spare} units"
    return f"{role} {ix.agreement_ids[a]} capacity {left} from {when}"
