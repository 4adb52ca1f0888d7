"""The spec's MIP, built from :class:`ProblemIndex` arrays one rule family at a time.

Columns (:mod:`stockplan.solver.model.columns`; ``n``, ``w``, ``u``, ``v`` integer, the
flows continuous because, once purchases and ship-complete choices are fixed, what
remains is a network flow whose vertices are integral — :func:`stockplan.solver.decode.integral_flows`
restores a vertex if a solver returns an interior point):

* ``x``   units shipped to a line from a location in a period
* ``y``   units a dropship agreement delivers to a line (placed in ``p``, arriving ``p+L``)
* ``f``   forecast units served from a location in a period
* ``I``   stock at the end of a period, per (sku, location) with any possible inflow
* ``s``   safety-stock shortfall
* ``n``   packs ordered in one price segment of an agreement and period (all-units breaks)
* ``w``   the segment is chosen (only where MOQ, breaks or a fixed cost need a binary)
* ``u``   a supplier is ordered from in a period (only with a positive ``order_cost``)
* ``v``   a ship-complete order is delivered whole in a period

Rows (:mod:`stockplan.solver.model.rows`): stock balance, safety stock, line quantity,
dropship balance, segment bounds, one segment per order, the fixed-cost link,
ship-complete, then the allocation policy and order smoothing
(:mod:`stockplan.solver.policies`); the stock columns are bounded last.

Split-shipment control (an extension, :mod:`stockplan.solver.model.split`) adds its
binaries and rows after order smoothing, only for a problem with shipment fees or a
minimum partial shipment: without them the model is exactly the one above.

Backorder and lost-sale costs are rewritten per delivered unit: a unit delivered
in period ``t`` saves ``lost_sale + backorder * (ℓ - max(t, d) + 1)``; the cost of
delivering nothing is a constant offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import MipModel
from stockplan.solver.model.columns import add_columns, cost_of_no_delivery
from stockplan.solver.model.columns import expand as _expand
from stockplan.solver.model.context import BuildContext, Columns
from stockplan.solver.model.rows import (
    add_allocation_policy,
    add_dropship_balance,
    add_fixed_cost_link,
    add_line_quantity_limit,
    add_one_segment_per_order,
    add_order_smoothing,
    add_safety_stock_shortfall,
    add_segment_bounds,
    add_ship_complete,
    add_stock_balance,
    set_stock_upper_bound,
)
from stockplan.solver.model.segments import PriceSegments as _Segments
from stockplan.solver.model.segments import price_segments as _price_segments
from stockplan.solver.model.segments import useful_quantity
from stockplan.solver.model.split import SplitShipments, add_split_shipments
from stockplan.solver.model.strengthen import (
    SegmentFlows,
    Strengthening,
    add_dropship_links,
    add_segment_flows,
)
from stockplan.solver.policies import PolicyMap

# What every build adds unless told otherwise (measured: benchmarks/results/report.md).
DEFAULT_STRENGTHENING = Strengthening(tight_segments=True, dropship_links=False, segment_flows=False)

__all__ = [
    "DEFAULT_STRENGTHENING", "ModelMap", "Strengthening", "_Segments", "_expand", "_price_segments", "build_model",
    "price_segment", "useful_quantity",
]


@dataclass
class ModelMap:
    """Which entity each column of the built model stands for (for decoding and warm starts)."""

    x_line: np.ndarray
    x_loc: np.ndarray
    x_t: np.ndarray
    y_ag: np.ndarray
    y_line: np.ndarray
    y_p: np.ndarray
    f_pair: np.ndarray
    f_t: np.ndarray
    active_pairs: np.ndarray  # pairs that have I columns, in order
    pair_slot: np.ndarray  # pair -> position in active_pairs or -1
    s_pair: np.ndarray
    s_t: np.ndarray
    slot_ag: np.ndarray  # PO slot -> agreement
    slot_p: np.ndarray  # PO slot -> period placed
    seg_slot: np.ndarray  # segment column -> slot
    seg_lo: np.ndarray  # packs
    seg_hi: np.ndarray  # packs
    w_seg: np.ndarray  # w column -> segment (position in n block)
    u_sup: np.ndarray
    u_p: np.ndarray
    v_order: np.ndarray  # index into problem.orders
    v_t: np.ndarray
    policy: PolicyMap = field(default_factory=PolicyMap)
    flows: SegmentFlows | None = None  # the per-segment flows (R5), when the build has them
    split: SplitShipments | None = None  # shipment fees and minimum partial shipments, when the problem has them


def price_segment(mp: ModelMap, n_packs: np.ndarray) -> np.ndarray:
    """Per purchase slot, the segment column that ``n_packs`` packs fall in (-1: none, or nothing ordered).

    Segments of a slot ascend by quantity and never by price, so where two fit
    (they share no quantity, but a slot's bounds may overlap after capping) the
    last is the cheapest.
    """
    packs = n_packs[mp.seg_slot]
    fits = (packs >= mp.seg_lo) & (packs <= mp.seg_hi) & (packs > 0)
    chosen = np.full(mp.slot_ag.shape[0], -1, dtype=np.int64)
    chosen[mp.seg_slot[fits]] = np.flatnonzero(fits)
    return chosen


def build_model(
    ix: ProblemIndex, all_integer: bool = False, strengthen: Strengthening | None = None,
) -> tuple[MipModel, ModelMap]:
    """Build the MIP; ``all_integer`` declares every column integer (for CP-SAT, which takes no others).

    The families are added in a fixed order, so the same problem always gives the
    same columns and rows in the same order. ``strengthen`` (default
    :data:`DEFAULT_STRENGTHENING`) adds valid rows that tighten the LP
    (:mod:`stockplan.solver.model.strengthen`); :data:`stockplan.solver.model.strengthen.NONE`
    builds the plain model.
    """
    strengthen = DEFAULT_STRENGTHENING if strengthen is None else strengthen
    ctx = BuildContext.start(ix, all_integer, tight_segments=strengthen.tight_segments)
    ctx.asm.offset = cost_of_no_delivery(ctx)
    cols = add_columns(ctx)

    add_stock_balance(ctx, cols)
    add_safety_stock_shortfall(ctx, cols)
    add_line_quantity_limit(ctx, cols)
    add_dropship_balance(ctx, cols)
    add_segment_bounds(ctx, cols)
    add_one_segment_per_order(ctx, cols)
    add_fixed_cost_link(ctx, cols)
    add_ship_complete(ctx, cols)
    policy = add_allocation_policy(ctx, cols)
    add_order_smoothing(ctx, cols)
    split = add_split_shipments(ctx, cols)
    if strengthen.dropship_links:
        add_dropship_links(ctx, cols)
    flows = add_segment_flows(ctx, cols) if strengthen.segment_flows else None

    model = ctx.asm.build()
    model.integrality[policy.integer_cols] = True
    set_stock_upper_bound(ctx, cols, model)
    if all_integer:
        model.integrality[:] = True
    return model, _model_map(ctx, cols, policy, flows, split)


def _model_map(
    ctx: BuildContext, c: Columns, policy: PolicyMap, flows: SegmentFlows | None, split: SplitShipments | None,
) -> ModelMap:
    """What each column of the build stands for."""
    seg = ctx.seg
    x, y, f, s = c.shipments, c.dropships, c.fills, c.shortfall
    u, v = c.supplier_orders, c.ship_complete
    return ModelMap(
        x_line=x.line, x_loc=x.loc, x_t=x.t,
        y_ag=y.ag, y_line=y.line, y_p=y.p,
        f_pair=f.pair, f_t=f.t,
        active_pairs=ctx.pairs.active, pair_slot=ctx.pairs.slot,
        s_pair=s.pair, s_t=s.t,
        slot_ag=seg.slot_ag, slot_p=seg.slot_p,
        seg_slot=seg.seg_slot, seg_lo=seg.seg_lo, seg_hi=seg.seg_hi,
        w_seg=c.purchases.w_seg, u_sup=u.sup, u_p=u.p, v_order=v.order, v_t=v.t, policy=policy, flows=flows,
        split=split,
    )
