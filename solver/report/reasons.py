"""Why a line is not on time: the first rule that applies, in :class:`BackorderReason` order.

The order's earliest date is after its due date; no stock at its warehouses
between the due period and the delivery; a ship-complete order held back by
another SKU (:func:`ship_complete_binding`); stock went to higher-priority orders
(under ``priority``); no agreement supplies it; the fastest agreement arrives after
the due or the latest period; every agreement that could land it in time is at
capacity (:func:`capacity_binding`); else delivering on time costs more than the
backorder (or the lost sale).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stockplan.models.problem import Policy
from stockplan.models.report import BackorderReason
from stockplan.solver.report.agreements import primary_agreements, primary_rank, spare_capacity
from stockplan.solver.report.context import BIG, Deliveries, ReportContext, period_span
from stockplan.solver.report.statuses import BACKORDERED, LOST, ON_TIME
from stockplan.solver.report.stock import ProjectedStock

# Lines per block when a (lines, locations, periods) array is built.
BLOCK = 4096


def _window_min(values: np.ndarray, pairs: np.ndarray, allowed: np.ndarray, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """Per row: min of ``values[pair, t]`` over its allowed pairs and periods lo..hi (BIG when empty)."""
    out = np.full(pairs.shape[0], BIG, dtype=np.int64)
    t = np.arange(values.shape[1])
    for s in range(0, pairs.shape[0], BLOCK):
        b = slice(s, s + BLOCK)
        mask = allowed[b][:, :, None] & ((t >= lo[b, None]) & (t <= hi[b, None]))[:, None, :]
        out[b] = np.where(mask, values[pairs[b]], BIG).min(axis=(1, 2), initial=BIG)
    return out


def backorder_reasons(ctx: ReportContext, stock: ProjectedStock, status: np.ndarray, by_due: np.ndarray,
                      last: np.ndarray, dl: Deliveries) -> dict[int, tuple[BackorderReason, str]]:
    """Reason per line not on time, the first that applies, in :class:`BackorderReason` order."""
    ix = ctx.ix
    P, T, NL = ix.n_pairs, ix.T, ix.n_locations
    cand = np.flatnonzero(status != ON_TIME)
    if cand.size == 0:
        return {}
    d, e, ell = ix.line_due[cand], ix.line_first[cand], ix.line_last[cand]
    sku, allowed = ix.line_sku[cand], ix.allowed[cand]
    pairs = sku[:, None] * NL + np.arange(NL)[None, :]
    # The wait: from d to just before the last delivery when all came, else to ℓ.
    w_end = np.where(status[cand] == BACKORDERED, last[cand] - 1, ell)

    gross = stock.gross
    cum = np.concatenate([np.zeros((P, 1), dtype=np.int64), np.cumsum(gross, axis=1)], axis=1)
    at_hand = ((cum[pairs, (w_end + 1)[:, None]] - cum[pairs, d[:, None]]) * allowed).sum(axis=1)
    no_stock = at_hand <= 0

    higher = np.zeros(cand.size, dtype=bool)
    if ctx.problem.settings.policy == Policy.PRIORITY:
        # Smallest priority number shipped per pair and period.
        top = np.full((P, T), BIG, dtype=np.int64)
        s = dl.loc >= 0
        np.minimum.at(top, (ix.line_sku[dl.line[s]] * NL + dl.loc[s], dl.period[s]), ix.line_priority[dl.line[s]])
        higher = _window_min(top, pairs, allowed, d, w_end) < ix.line_priority[cand]

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

    primaries = primary_agreements(ix)
    out: dict[int, tuple[BackorderReason, str]] = {}
    for r, i in enumerate(cand.tolist()):
        name = ix.skus[int(sku[r])]
        di, ei, li = int(d[r]), int(e[r]), int(ell[r])
        if ei > di:
            out[i] = (BackorderReason.EARLIEST_AFTER_DUE,
                      f"the customer takes delivery from period {ei}, after the due period {di}")
        elif no_stock[r]:
            until = (f"before period {int(last[i])}" if status[i] == BACKORDERED
                     else f"up to its last period {li}")
            out[i] = BackorderReason.NO_STOCK, f"no stock of {name} at {ctx.where(allowed[r])} {until}"
        elif (held := ship_complete_binding(ctx, gross, i)) is not None:
            out[i] = BackorderReason.SHIP_COMPLETE_HELD, f"ship-complete order held back by SKU {held}"
        elif higher[r]:
            out[i] = BackorderReason.HIGHER_PRIORITY, f"stock of {name} went to higher-priority orders"
        elif fastest[r] >= BIG:
            out[i] = BackorderReason.NO_AGREEMENT, f"no agreement supplies {name} to {ctx.where(allowed[r])}"
        elif fastest[r] > di:
            ag_id = ix.agreement_ids[int(fastest_ag[r])]
            after = f"after the latest period {li}" if fastest[r] > li else f"after the due period {di}"
            out[i] = (BackorderReason.LEAD_TIME,
                      f"the fastest agreement for {name} ({ag_id}) arrives in period {int(fastest[r])}, {after}")
        elif (full := capacity_binding(ctx, i, by_sku[int(sku[r])], primaries,
                                       int(ix.line_qty[i] - by_due[i]))) is not None:
            out[i] = BackorderReason.CAPACITY, full
        elif status[i] == BACKORDERED:
            out[i] = BackorderReason.COST_TRADEOFF, "delivering on time costs more than the backorder"
        else:
            what = "delivering it" if status[i] == LOST else "delivering in full"
            out[i] = BackorderReason.COST_TRADEOFF, f"{what} costs more than the lost sale"
    return out


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
    when = period_span(0, d - int(ix.ag_lead[a]))
    left = "is used up" if spare == 0 else f"leaves only {spare} units"
    return f"{role} {ix.agreement_ids[a]} capacity {left} in {when}"
