"""The rows of the MIP: one function per business rule a plan keeps.

Each ``add_*`` function appends one family of rows (named blocks of
``MipModel.row_blocks``) to the build's assembler. :func:`stockplan.solver.builder.build_model`
calls them in the model's fixed order:

====================================  =========================================
function                              row blocks
====================================  =========================================
:func:`add_stock_balance`             ``stock_balance``
:func:`add_safety_stock_shortfall`    ``safety_stock``
:func:`add_line_quantity_limit`       ``line_quantity``
:func:`add_dropship_balance`          ``dropship_balance``
:func:`add_segment_bounds`            ``segment_upper``, ``segment_lower``
:func:`add_one_segment_per_order`     ``one_segment``
:func:`add_fixed_cost_link`           ``fixed_cost_link``
:func:`add_ship_complete`             ``ship_complete_whole``, ``ship_complete_once``
:func:`add_allocation_policy`         the policy's (:mod:`stockplan.solver.policies`)
:func:`add_order_smoothing`           ``order_smoothing``
====================================  =========================================

:func:`set_stock_upper_bound` then bounds the stock columns of the built model.
"""

from __future__ import annotations

import numpy as np

from stockplan.solver.mip import INF, MipModel
from stockplan.solver.model.context import BuildContext, Columns
from stockplan.solver.policies import DeliveryColumns, PolicyMap, add_policy_rows, add_smoothing_rows


def add_stock_balance(ctx: BuildContext, c: Columns) -> None:
    """Stock balance: end-of-period stock is the stock before, plus arrivals, minus what is shipped and filled.

    What a warehouse holds of a SKU at the end of a period is what it held before, plus
    what arrives (inbound purchase orders, orders placed a lead time earlier, the stock
    on hand in period 0), minus what it ships to lines and serves to forecast demand.

    Notes
    -----
    One equality row per pair ``(k, l)`` where stock can exist and period ``t``
    (pair-major, like the ``I`` columns)::

        I[k,l,t] - I[k,l,t-1] + Σ_i x[i,l,t] + f[k,l,t] - Σ_a pack_a Σ_{g ∈ slot(a, t - L_a)} n[g]
            = inbound[k,l,t] (+ on_hand[k,l] when t = 0)

    where ``a`` runs over the stocking agreements of ``k`` into ``l`` and ``I[k,l,-1]`` is absent.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    ix, asm, T, NL = ctx.ix, ctx.asm, ctx.ix.T, ctx.ix.n_locations
    active, pair_slot = ctx.pairs.active, ctx.pairs.slot
    stock, x, f, buy, seg = c.stock, c.shipments, c.fills, c.purchases, ctx.seg
    rhs = ix.inbound[active].astype(float)
    rhs[:, 0] += ix.on_hand[active]
    bal = asm.add_rows("stock_balance", rhs.ravel(), rhs.ravel(), active.shape[0] * T)

    def bal_row(pair: np.ndarray, t: np.ndarray) -> np.ndarray:
        return bal[pair_slot[pair] * T + t]

    asm.add_coefficients(bal_row(stock.pair, stock.t), stock.cols, 1.0)
    nxt = stock.t < T - 1
    asm.add_coefficients(bal_row(stock.pair[nxt], stock.t[nxt] + 1), stock.cols[nxt], -1.0)
    asm.add_coefficients(bal_row(ix.line_sku[x.line] * NL + x.loc, x.t), x.cols, 1.0)
    asm.add_coefficients(bal_row(f.pair, f.t), f.cols, 1.0)
    arrive, seg_ag = buy.stocked, buy.seg_ag
    asm.add_coefficients(
        bal_row(ix.ag_sku[seg_ag[arrive]] * NL + ix.ag_loc[seg_ag[arrive]],
                seg.slot_p[seg.seg_slot[arrive]] + ix.ag_lead[seg_ag[arrive]]),
        buy.n_cols[arrive],
        -ix.ag_pack[seg_ag[arrive]].astype(float),
    )


def add_safety_stock_shortfall(ctx: BuildContext, c: Columns) -> None:
    """Safety stock: stock below the safety stock at the end of a period is counted as shortfall.

    Notes
    -----
    One row per shortfall column: ``s[k,l,t] + I[k,l,t] ≥ SS_kl``.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    ix, asm, T = ctx.ix, ctx.asm, ctx.ix.T
    s = c.shortfall
    ssr = asm.add_rows("safety_stock", ix.safety_stock[s.pair].astype(float), INF, s.pair.shape[0])
    asm.add_coefficients(ssr, s.cols, 1.0)
    asm.add_coefficients(ssr, c.stock.cols[ctx.pairs.slot[s.pair] * T + s.t], 1.0)


def add_line_quantity_limit(ctx: BuildContext, c: Columns) -> None:
    """Line quantity: a line never receives more than it ordered, shipped and dropshipped together.

    Notes
    -----
    One row per line not held to ship-complete (those are limited by
    :func:`add_ship_complete`)::

        Σ_{l,t} x[i,l,t] + Σ_{a,p} y[a,i,p] ≤ q_i

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    ix, asm = ctx.ix, ctx.asm
    x, y = c.shipments, c.dropships
    capped = np.flatnonzero(~ix.line_complete)
    line_row = np.full(ix.n_lines, -1, dtype=np.int64)
    line_row[capped] = asm.add_rows("line_quantity", -INF, ix.line_qty[capped].astype(float), capped.shape[0])
    xs = line_row[x.line] >= 0
    asm.add_coefficients(line_row[x.line[xs]], x.cols[xs], 1.0)
    asm.add_coefficients(line_row[y.line], y.cols, 1.0)


def add_dropship_balance(ctx: BuildContext, c: Columns) -> None:
    """Dropship balance: a dropship order is exactly what its agreement delivers to lines.

    Notes
    -----
    One equality row per slot ``(a, p)`` of a dropship agreement::

        Σ_i y[a,i,p] - pack_a Σ_{g ∈ slot(a,p)} n[g] = 0

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    ix, asm, seg = ctx.ix, ctx.asm, ctx.seg
    buy, y = c.purchases, c.dropships
    drop_slots = np.flatnonzero(ix.ag_dropship[seg.slot_ag])
    slot_row = np.full(seg.slot_ag.shape[0], -1, dtype=np.int64)
    slot_row[drop_slots] = asm.add_rows("dropship_balance", 0.0, 0.0, drop_slots.shape[0])
    dseg = slot_row[seg.seg_slot] >= 0
    asm.add_coefficients(slot_row[seg.seg_slot[dseg]], buy.n_cols[dseg], -ix.ag_pack[buy.seg_ag[dseg]].astype(float))
    asm.add_coefficients(slot_row[seg.slot_lookup(y.ag, y.p)], y.cols, 1.0)


def add_segment_bounds(ctx: BuildContext, c: Columns) -> None:
    """Segment bounds: an order falls in a chosen price segment, in whole packs, at least the MOQ.

    Notes
    -----
    For every segment ``g`` with a binary ``w[g]`` (its packs are ``lo_g..hi_g``, ``lo_g``
    covering the MOQ and the segment's price break), two rows:
    ``n[g] - hi_g w[g] ≤ 0`` (``segment_upper``) and ``n[g] - lo_g w[g] ≥ 0`` (``segment_lower``).
    Segments without a binary are bounded by their column (``0 ≤ n[g] ≤ hi_g``).

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    asm, seg = ctx.asm, ctx.seg
    buy = c.purchases
    wr_hi = asm.add_rows("segment_upper", -INF, 0.0, buy.w_seg.shape[0])
    asm.add_coefficients(wr_hi, buy.n_cols[buy.w_seg], 1.0)
    asm.add_coefficients(wr_hi, buy.w_cols, -seg.seg_hi[buy.w_seg].astype(float))
    wr_lo = asm.add_rows("segment_lower", 0.0, INF, buy.w_seg.shape[0])
    asm.add_coefficients(wr_lo, buy.n_cols[buy.w_seg], 1.0)
    asm.add_coefficients(wr_lo, buy.w_cols, -seg.seg_lo[buy.w_seg].astype(float))


def add_one_segment_per_order(ctx: BuildContext, c: Columns) -> None:
    """One segment per order: an order on an agreement in a period has one price, and pays the order cost.

    The supplier's fixed order cost is paid (``u = 1``) whenever an order with a chosen
    segment is placed in a period where the supplier has one.

    Notes
    -----
    One row per slot ``(a, p)`` whose segments have binaries: ``Σ_{g ∈ slot(a,p)} w[g] ≤ 1``,
    or ``Σ_g w[g] - u[s(a), p] ≤ 0`` when supplier ``s(a)`` has a fixed cost in ``p``.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    asm, seg = ctx.asm, ctx.seg
    buy, slot_u = c.purchases, c.supplier_orders.slot_col
    w_slot = seg.seg_slot[buy.w_seg]
    slots_with_w = np.unique(w_slot)
    choose = asm.add_rows("one_segment", -INF, np.where(slot_u[slots_with_w] >= 0, 0.0, 1.0),
                          slots_with_w.shape[0])
    choose_of_slot = np.full(seg.slot_ag.shape[0], -1, dtype=np.int64)
    choose_of_slot[slots_with_w] = choose
    asm.add_coefficients(choose_of_slot[w_slot], buy.w_cols, 1.0)
    has_u = slot_u[slots_with_w] >= 0
    asm.add_coefficients(choose[has_u], slot_u[slots_with_w[has_u]], -1.0)


def add_fixed_cost_link(ctx: BuildContext, c: Columns) -> None:
    """Fixed cost link: ordering on an agreement without a segment binary pays the supplier's order cost.

    Notes
    -----
    One row per segment ``g`` without a binary in a slot ``(a, p)`` whose supplier has
    a fixed cost in ``p``: ``n[g] - hi_g u[s(a), p] ≤ 0``. (Slots with binaries are linked
    to ``u`` by :func:`add_one_segment_per_order`.)

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    asm, seg = ctx.asm, ctx.seg
    buy, slot_u = c.purchases, c.supplier_orders.slot_col
    plain = np.flatnonzero(~seg.seg_needs_w & (slot_u[seg.seg_slot] >= 0))
    pr = asm.add_rows("fixed_cost_link", -INF, 0.0, plain.shape[0])
    asm.add_coefficients(pr, buy.n_cols[plain], 1.0)
    asm.add_coefficients(pr, slot_u[seg.seg_slot[plain]], -seg.seg_hi[plain].astype(float))


def add_ship_complete(ctx: BuildContext, c: Columns) -> None:
    """Ship-complete: an order held to ship-complete is delivered whole in one period, at most once.

    Every line of the order in full, all in the same period, or nothing at all.

    Notes
    -----
    ``ship_complete_whole``: per ship-complete line ``i`` of order ``o`` and period ``t`` of
    its window, ``Σ_l x[i,l,t] - q_i v[o,t] = 0``. ``ship_complete_once``: per order,
    ``Σ_t v[o,t] ≤ 1``. Such lines take no dropships (:func:`.columns.add_dropship_deliveries`).

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    ix, asm, T = ctx.ix, ctx.asm, ctx.ix.T
    x, v = c.shipments, c.ship_complete
    v_key = v.order * T + v.t
    sc_x = np.flatnonzero(ix.line_complete[x.line])
    sc_line_t = np.unique(v.lines[:, None] * T + np.arange(T)[None, :])
    sc_line_t = sc_line_t[
        ((sc_line_t % T) >= ix.line_first[sc_line_t // T]) & ((sc_line_t % T) <= ix.line_last[sc_line_t // T])
    ]
    whole = asm.add_rows("ship_complete_whole", 0.0, 0.0, sc_line_t.shape[0])
    asm.add_coefficients(whole[np.searchsorted(sc_line_t, x.line[sc_x] * T + x.t[sc_x])], x.cols[sc_x], 1.0)
    lt_line, lt_t = sc_line_t // T, sc_line_t % T
    asm.add_coefficients(
        whole, v.cols[np.searchsorted(v_key, ix.line_order[lt_line] * T + lt_t)], -ix.line_qty[lt_line].astype(float)
    )
    once = asm.add_rows("ship_complete_once", -INF, 1.0, v.orders.shape[0])
    asm.add_coefficients(once[np.searchsorted(v.orders, v.order)], v.cols, 1.0)


def delivery_columns(c: Columns) -> DeliveryColumns:
    """Every column that delivers to a line: shipments, then dropships (``loc = -1``)."""
    x, y = c.shipments, c.dropships
    return DeliveryColumns(
        col=np.concatenate([x.cols, y.cols]), line=np.concatenate([x.line, y.line]),
        t=np.concatenate([x.t, y.t]), loc=np.concatenate([x.loc, np.full(y.ag.shape[0], -1)]),
    )


def add_allocation_policy(ctx: BuildContext, c: Columns) -> PolicyMap:
    """Allocation policy: who gets scarce units under ``settings.policy`` (nothing for ``min_cost``).

    The rules and their rows are :func:`stockplan.solver.policies.add_policy_rows`'s
    (``priority``: a lower-priority line waits for every higher one it could take from;
    ``fair_share``: equal lines are filled to the same fraction).

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.

    Returns
    -------
    PolicyMap
        Where the policy's columns and rows are; its ``integer_cols`` must be declared
        integer in the built model.
    """
    return add_policy_rows(ctx.asm, ctx.ix, delivery_columns(c), ctx.all_integer)


def add_order_smoothing(ctx: BuildContext, c: Columns) -> None:
    """Order smoothing: an agreement's order changes by at most ``max_change_per_period`` a period.

    Notes
    -----
    ``-Δ_a ≤ pack_a (Σ_{g ∈ slot(a,t)} n[g] - Σ_{g ∈ slot(a,t-1)} n[g]) ≤ Δ_a``; the rows are
    :func:`stockplan.solver.policies.add_smoothing_rows`'s.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    """
    seg = ctx.seg
    add_smoothing_rows(ctx.asm, ctx.ix, seg.slot_ag, seg.slot_p, seg.seg_slot, c.purchases.n_cols)


def set_stock_upper_bound(ctx: BuildContext, c: Columns, model: MipModel) -> None:
    """Stock bound: a warehouse never holds more than everything that could ever arrive there.

    A finite bound that every backend takes (some reject unbounded integer columns).

    Notes
    -----
    ``I[k,l,t] ≤ on_hand_kl + Σ_t inbound_klt + Σ_{g of stocking agreements of (k,l)} hi_g pack_a``,
    set on the columns of ``model`` (built from ``ctx.asm``) in place.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.
    model : MipModel
        The built model.
    """
    ix, seg, NL = ctx.ix, ctx.seg, ctx.ix.n_locations
    seg_ag, arrive = c.purchases.seg_ag, c.purchases.stocked
    inflow_max = ix.on_hand + ix.inbound.sum(axis=1)
    arriving_pair = ix.ag_sku[seg_ag] * NL + np.maximum(ix.ag_loc[seg_ag], 0)
    np.add.at(inflow_max, arriving_pair[arrive], (seg.seg_hi * ix.ag_pack[seg_ag])[arrive])
    model.col_upper[ctx.asm.blocks["I"]] = inflow_max[c.stock.pair].astype(float)
