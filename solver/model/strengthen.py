"""Valid strengthenings of the model: rows and columns no plan needs, that cut off LP points.

Each is a family of its own, switched by :class:`Strengthening` (what
:func:`stockplan.solver.builder.build_model` adds by default is measured in
``benchmarks/results/report.md``). None changes which plans are feasible or what
they cost: every feasible plan of the model without them keeps its cost with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import INF
from stockplan.solver.model.columns import expand
from stockplan.solver.model.context import BuildContext, Columns


@dataclass(frozen=True)
class Strengthening:
    """Which strengthenings a build adds.

    Attributes
    ----------
    tight_segments : bool
        R1: a price segment holds no more packs than can still be used from its
        arrival on (:func:`stockplan.solver.model.segments.price_segments`).
    dropship_links : bool
        R3: a dropship delivery to a line needs its order's segment (or supplier) binary.
    segment_flows : bool
        R5: per-segment facility-location flows to the shipments and forecast fills they serve.
    """

    tight_segments: bool = True
    dropship_links: bool = True
    segment_flows: bool = True


NONE = Strengthening(tight_segments=False, dropship_links=False, segment_flows=False)


@dataclass(frozen=True)
class SegmentFlows:
    """The columns of the per-segment flows (R5), for warm starts (:func:`fill_segment_flows`).

    Consumers are the shipment and forecast-fill columns of the pairs that have
    stocking segments, sorted by (pair, period).
    """

    cons_col: np.ndarray  # consumer -> its x or f column
    cons_pair: np.ndarray
    cons_t: np.ndarray
    seg: np.ndarray  # stocking segments (positions in the n block) with flows
    seg_pair: np.ndarray
    seg_t: np.ndarray  # arrival period
    seg_units: np.ndarray  # units per pack
    z_cols: np.ndarray
    z_seg: np.ndarray  # z column -> position in ``seg``
    z_cons: np.ndarray  # z column -> consumer
    g_cols: np.ndarray  # one per consumer: its units from free stock
    free_pairs: np.ndarray  # pairs with F columns (pair-major, T each)
    free_cols: np.ndarray


def add_dropship_links(ctx: BuildContext, c: Columns) -> None:
    """Dropship links (R3): a dropship delivery to a line needs its order placed.

    Notes
    -----
    For a dropship delivery ``y[a,i,p]`` whose slot has segment binaries,
    ``y[a,i,p] ≤ q_i Σ_{g ∈ slot(a,p)} w[g]``; for one whose slot has none but a
    supplier fixed cost, ``y[a,i,p] ≤ q_i u[s(a),p]``. Valid: no order, no delivery;
    with one, a line takes at most its quantity. The plain model only has
    ``Σ_i y = pack·Σ n`` and ``n ≤ hi·w``, so the LP could open ``w`` by ``y/hi``.
    """
    ix, asm, seg = ctx.ix, ctx.asm, ctx.seg
    y, buy, slot_u = c.dropships, c.purchases, c.supplier_orders.slot_col
    if y.cols.size == 0:
        return
    slot = seg.slot_lookup(y.ag, y.p)
    has_w = np.zeros(seg.slot_ag.shape[0], dtype=bool)
    has_w[seg.seg_slot[buy.w_seg]] = True
    linked = np.flatnonzero(has_w[slot] | (slot_u[slot] >= 0))
    rows = asm.add_rows("dropship_link", -INF, 0.0, linked.shape[0])
    asm.add_coefficients(rows, y.cols[linked], 1.0)
    row_of = np.full(y.cols.shape[0], -1, dtype=np.int64)
    row_of[linked] = rows
    q = ix.line_qty[y.line].astype(float)
    # w of every segment of the delivery's slot
    w_slot = seg.seg_slot[buy.w_seg]
    order = np.argsort(w_slot, kind="stable")
    starts = np.searchsorted(w_slot[order], slot)
    ends = np.searchsorted(w_slot[order], slot, side="right")
    which, k = expand(starts, ends - starts)
    use_w = row_of[which] >= 0
    asm.add_coefficients(row_of[which[use_w]], buy.w_cols[order[k[use_w]]], -q[which[use_w]])
    plain = linked[~has_w[slot[linked]]]
    asm.add_coefficients(row_of[plain], slot_u[slot[plain]], -q[plain])


def add_segment_flows(ctx: BuildContext, c: Columns) -> SegmentFlows:
    """Per-segment facility-location flows (R5): which purchase serves which line, bounded by its binary.

    Notes
    -----
    Krarup–Bilde / Eppen–Martin, per price segment. For every pair with stocking
    segments, ``z[j,c] ≥ 0`` are the units of consumer ``c`` (a shipment or forecast
    column of the pair, in a period no earlier than ``j`` arrives) served by segment
    ``j``, and ``g[c] ≥ 0`` the units it takes from free stock (on hand and inbound),
    held in ``F[pair, t] ≥ 0``::

        x_c = g_c + Σ_j z[j,c]                                   (segment_flow_split)
        Σ_c z[j,c] ≤ pack_j n_j                                  (segment_flow_supply)
        Σ_{c of line i} z[j,c] ≤ q_i b_j                         (segment_flow_open)
        F_t - F_{t-1} + Σ_{c at t} g_c = inbound_t (+ on hand)   (free_stock_balance)

    ``b_j`` is the segment's binary ``w``, else its supplier period's ``u``; a segment
    with neither gets no ``open`` rows. Valid: in any plan, units can be assigned to
    the consumers after their arrival (stock never goes negative), a segment
    serves a line only when ordered, and a line takes at most ``q_i``. The LP then
    pays for a segment in proportion to the largest share of a line it serves,
    instead of its packs over its upper bound.
    """
    ix, asm, seg, T, NL = ctx.ix, ctx.asm, ctx.seg, ctx.ix.T, ctx.ix.n_locations
    buy, x, f, slot_u = c.purchases, c.shipments, c.fills, c.supplier_orders.slot_col
    stocked = np.flatnonzero(buy.stocked)
    seg_ag = buy.seg_ag[stocked]
    seg_pair = ix.ag_sku[seg_ag] * NL + ix.ag_loc[seg_ag]
    seg_t = seg.slot_p[seg.seg_slot[stocked]] + ix.ag_lead[seg_ag]
    flow_pairs = np.unique(seg_pair)
    # Consumers at those pairs, sorted by (pair, period).
    x_pair = ix.line_sku[x.line] * NL + x.loc
    cons_col = np.concatenate([x.cols, f.cols])
    cons_pair = np.concatenate([x_pair, f.pair])
    cons_t = np.concatenate([x.t, f.t])
    cons_line = np.concatenate([x.line, ix.n_lines + np.arange(f.cols.shape[0])])  # a fill is its own "line"
    cons_cap = np.concatenate([ix.line_qty[x.line], ix.forecast[f.pair, f.t]]).astype(float)
    keep = np.isin(cons_pair, flow_pairs)
    order = np.lexsort((cons_t[keep], cons_pair[keep]))
    cons_col, cons_pair, cons_t = cons_col[keep][order], cons_pair[keep][order], cons_t[keep][order]
    cons_line, cons_cap = cons_line[keep][order], cons_cap[keep][order]
    key = cons_pair * T + cons_t
    start = np.searchsorted(key, seg_pair * T + seg_t)
    end = np.searchsorted(key, seg_pair * T + T)
    z_seg, z_cons = expand(start, end - start)
    z_cols = asm.add_columns("segment_flow", np.zeros(z_seg.shape[0]), 0.0, cons_cap[z_cons], False)
    g_cols = asm.add_columns("free_use", np.zeros(cons_col.shape[0]), 0.0, cons_cap, False)
    free_slot = np.searchsorted(flow_pairs, cons_pair)
    supply_total = ix.on_hand[flow_pairs] + ix.inbound[flow_pairs].sum(axis=1)
    free_cols = asm.add_columns("free_stock", np.zeros(flow_pairs.shape[0] * T), 0.0,
                                np.repeat(supply_total, T).astype(float), False)

    split = asm.add_rows("segment_flow_split", 0.0, 0.0, cons_col.shape[0])
    asm.add_coefficients(split, cons_col, 1.0)
    asm.add_coefficients(split, g_cols, -1.0)
    asm.add_coefficients(split[z_cons], z_cols, -1.0)

    supply = asm.add_rows("segment_flow_supply", -INF, 0.0, stocked.shape[0])
    asm.add_coefficients(supply[z_seg], z_cols, 1.0)
    asm.add_coefficients(supply, buy.n_cols[stocked], -ix.ag_pack[seg_ag].astype(float))

    w_of = np.full(seg.seg_slot.shape[0], -1, dtype=np.int64)
    w_of[buy.w_seg] = buy.w_cols
    binary = np.where(w_of[stocked] >= 0, w_of[stocked], slot_u[seg.seg_slot[stocked]])
    opened = binary[z_seg] >= 0
    pair_key = z_seg[opened] * (ix.n_lines + f.cols.shape[0]) + cons_line[z_cons[opened]]
    uniq, inverse = np.unique(pair_key, return_inverse=True)
    open_rows = asm.add_rows("segment_flow_open", -INF, 0.0, uniq.shape[0])
    asm.add_coefficients(open_rows[inverse], z_cols[opened], 1.0)
    first = np.unique(inverse, return_index=True)[1]
    oz = np.flatnonzero(opened)[first]
    asm.add_coefficients(open_rows, binary[z_seg[oz]], -cons_cap[z_cons[oz]])

    rhs = ix.inbound[flow_pairs].astype(float)
    rhs[:, 0] += ix.on_hand[flow_pairs]
    bal = asm.add_rows("free_stock_balance", rhs.ravel(), rhs.ravel(), flow_pairs.shape[0] * T)
    F_pair_slot = np.repeat(np.arange(flow_pairs.shape[0]), T)
    F_t = np.tile(np.arange(T), flow_pairs.shape[0])
    asm.add_coefficients(bal, free_cols, 1.0)
    nxt = F_t < T - 1
    asm.add_coefficients(bal[F_pair_slot[nxt] * T + F_t[nxt] + 1], free_cols[nxt], -1.0)
    asm.add_coefficients(bal[free_slot * T + cons_t], g_cols, 1.0)
    return SegmentFlows(
        cons_col=cons_col, cons_pair=cons_pair, cons_t=cons_t,
        seg=stocked, seg_pair=seg_pair, seg_t=seg_t, seg_units=ix.ag_pack[seg_ag].astype(np.int64),
        z_cols=z_cols, z_seg=z_seg, z_cons=z_cons, g_cols=g_cols, free_pairs=flow_pairs, free_cols=free_cols,
    )


def fill_segment_flows(ix: ProblemIndex, flows: SegmentFlows, n_start: int, x: np.ndarray) -> None:
    """Set the flow columns of ``x`` from its shipments, fills and packs: free stock first, then
    segments in order of arrival, consumers in period order (a valid assignment of any plan)."""
    T = ix.T
    free_in = ix.inbound[flows.free_pairs].astype(float)
    free_in[:, 0] += ix.on_hand[flows.free_pairs]
    amount = x[n_start + flows.seg] * flows.seg_units
    z_key = {(int(j), int(k)): int(col) for j, k, col in zip(flows.z_seg, flows.z_cons, flows.z_cols, strict=True)}
    seg_by_pair: dict[int, list[int]] = {}
    for j in np.lexsort((flows.seg_t, flows.seg_pair)).tolist():
        seg_by_pair.setdefault(int(flows.seg_pair[j]), []).append(j)
    cons = np.flatnonzero(x[flows.cons_col] > 0)
    left = amount.copy()
    for slot, pair in enumerate(flows.free_pairs.tolist()):
        lo, hi = np.searchsorted(flows.cons_pair, [pair, pair + 1])
        free, arrived = 0.0, 0
        segs = seg_by_pair.get(pair, [])
        for k in cons[(cons >= lo) & (cons < hi)].tolist():
            t = int(flows.cons_t[k])
            while arrived <= t:
                free += free_in[slot, arrived]
                arrived += 1
            need = float(x[flows.cons_col[k]])
            take = min(need, free)
            x[flows.g_cols[k]] = take
            free -= take
            need -= take
            for j in segs:
                if need <= 0 or flows.seg_t[j] > t:
                    break
                if left[j] > 0:
                    use = min(need, left[j])
                    x[z_key[j, k]] += use
                    left[j] -= use
                    need -= use
        # Free stock left at the end of each period.
        used = np.zeros(T)
        ks = np.arange(lo, hi)
        np.add.at(used, flows.cons_t[ks], x[flows.g_cols[ks]])
        stock = np.cumsum(free_in[slot] - used)
        x[flows.free_cols[slot * T : (slot + 1) * T]] = stock
