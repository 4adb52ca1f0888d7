"""Purchase-order tracing: where the units of each purchase order go, first in, first out.

Per SKU and location, units that arrive earlier leave earlier. On hand comes first,
then per period the inbound units, then the plan's purchase orders in plan order; in
a period, shipments go before forecast fills, earlier due dates first. What is still
in stock at the end of the horizon is counted as safety stock up to the safety stock
level (oldest units first), the rest as left in stock. A dropship purchase order
serves exactly the lines it lists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from stockplan.solver.report.context import BIG, Deliveries, ReportContext
from stockplan.solver.report.stock import ProjectedStock


def fifo_trace(in_group: np.ndarray, in_qty: np.ndarray, out_group: np.ndarray,
               out_qty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match outflows to inflows first in, first out within each group.

    Both sides are sorted by group, then in FIFO order, with positive quantities.
    Each group's units are laid on one axis (inflows and outflows each from the
    group's base); the overlaps of the two sets of intervals are the matches.
    Returns ``(inflow, outflow, units)`` per matched piece; ``outflow = -1`` for
    inflow units that never leave (an outflow with no inflow left is dropped).
    """
    n_groups = int(max(in_group.max(initial=-1), out_group.max(initial=-1))) + 1
    in_total = np.bincount(in_group, in_qty, n_groups).astype(np.int64)
    out_total = np.bincount(out_group, out_qty, n_groups).astype(np.int64)
    base = np.concatenate([[0], np.cumsum(np.maximum(in_total, out_total))[:-1]]).astype(np.int64)

    def intervals(group: np.ndarray, qty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        end = np.cumsum(qty)
        first = np.searchsorted(group, group, side="left")  # first row of each row's group
        end = base[group] + end - (end[first] - qty[first])
        return end - qty, end

    in_start, in_end = intervals(in_group, in_qty)
    out_start, out_end = intervals(out_group, out_qty)
    cuts = np.unique(np.concatenate([in_start, in_end, out_start, out_end]))
    seg, length = cuts[:-1], np.diff(cuts)
    i = np.searchsorted(in_end, seg, side="right")
    o = np.searchsorted(out_end, seg, side="right")
    in_ok = (i < in_end.size) & (in_start[np.minimum(i, in_end.size - 1)] <= seg) if in_end.size else seg < 0
    out_ok = (o < out_end.size) & (out_start[np.minimum(o, out_end.size - 1)] <= seg) if out_end.size else seg < 0
    keep = in_ok & (length > 0)
    return i[keep], np.where(out_ok[keep], o[keep], -1), length[keep]


@dataclass
class PoFlows:
    served: dict[int, dict[tuple[int, int], int]]  # po -> (line, delivery period) -> units
    to_forecast: np.ndarray
    first_fill: np.ndarray  # earliest period its units serve forecast demand; -1 when they serve none
    to_safety: np.ndarray
    left: np.ndarray


def purchase_order_flows(ctx: ReportContext, dl: Deliveries, stock: ProjectedStock) -> PoFlows:
    """Where the units of each purchase order go: lines, forecast, safety stock, left in stock."""
    ix = ctx.ix
    T, NL = ix.T, ix.n_locations
    n_po = len(ctx.po_ag)
    served: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    # Inflows: (pair, period, kind, ref, qty); kind 0 on hand, 1 inbound, 2 a purchase order.
    oh = np.flatnonzero(ix.on_hand > 0)
    ib_pair, ib_t = np.nonzero(ix.inbound)
    po = np.flatnonzero(~ix.ag_dropship[ctx.po_ag] & (ctx.po_arrival < T) & (ctx.po_qty > 0))
    a = ctx.po_ag[po]
    in_pair = np.concatenate([oh, ib_pair, ix.ag_sku[a] * NL + ix.ag_loc[a]])
    in_t = np.concatenate([np.full(oh.size, -1), ib_t, ctx.po_arrival[po]])
    in_kind = np.concatenate([np.zeros(oh.size), np.ones(ib_pair.size), np.full(po.size, 2)]).astype(np.int64)
    in_ref = np.concatenate([np.full(oh.size + ib_pair.size, -1), po]).astype(np.int64)
    in_qty = np.concatenate([ix.on_hand[oh], ix.inbound[ib_pair, ib_t], ctx.po_qty[po]]).astype(np.int64)
    order = np.lexsort((in_ref, in_kind, in_t, in_pair))
    # Outflows: shipments (earlier due first), forecast fills, then the safety stock kept at the end.
    s = np.flatnonzero(dl.loc >= 0)
    keep = np.minimum(ix.safety_stock, np.maximum(stock.end[:, -1], 0))
    ss = np.flatnonzero(keep > 0)
    f = np.flatnonzero(stock.fill_qty > 0)
    out_pair = np.concatenate([ix.line_sku[dl.line[s]] * NL + dl.loc[s], stock.fill_pair[f], ss])
    out_t = np.concatenate([dl.period[s], stock.fill_period[f], np.full(ss.size, T)])
    out_kind = np.concatenate([np.zeros(s.size), np.ones(f.size), np.full(ss.size, 2)]).astype(np.int64)
    out_due = np.concatenate([ix.line_due[dl.line[s]], np.zeros(f.size + ss.size, dtype=np.int64)])
    out_ref = np.concatenate([s, f, ss]).astype(np.int64)
    out_qty = np.concatenate([dl.qty[s], stock.fill_qty[f], keep[ss]]).astype(np.int64)
    out_order = np.lexsort((out_ref, out_due, out_kind, out_t, out_pair))

    i, o, units = fifo_trace(in_pair[order], in_qty[order], out_pair[out_order], out_qty[out_order])
    from_po = in_kind[order][i] == 2
    i, o, units = in_ref[order][i[from_po]], o[from_po], units[from_po]
    kind = np.where(o >= 0, out_kind[out_order][np.maximum(o, 0)], -1)
    ref = out_ref[out_order][np.maximum(o, 0)]
    to_forecast = np.bincount(i[kind == 1], units[kind == 1], n_po).astype(np.int64)
    to_safety = np.bincount(i[kind == 2], units[kind == 2], n_po).astype(np.int64)
    left = np.bincount(i[kind == -1], units[kind == -1], n_po).astype(np.int64)
    first_fill = np.full(n_po, BIG, dtype=np.int64)
    np.minimum.at(first_fill, i[kind == 1], stock.fill_period[ref[kind == 1]])
    first_fill[first_fill == BIG] = -1
    for k, row, u in zip(i[kind == 0].tolist(), ref[kind == 0].tolist(), units[kind == 0].tolist(), strict=True):
        served[k][int(dl.line[row]), int(dl.period[row])] += u
    for k, p in enumerate(ctx.decisions.purchase_orders):
        if ix.ag_dropship[ctx.po_ag[k]]:
            for entry in p.lines or ():
                if entry.quantity > 0:
                    served[k][ctx.line_of[entry.order, entry.line], int(ctx.po_arrival[k])] += entry.quantity
    return PoFlows(served=served, to_forecast=to_forecast, first_fill=first_fill, to_safety=to_safety, left=left)
