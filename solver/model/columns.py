"""The columns of the MIP: one function per kind of decision a plan makes.

The flows (``x``, ``y``, ``f``, ``I``, ``s``) are continuous: once purchases and
ship-complete choices are fixed, what remains is a network flow whose vertices are
integral (:func:`stockplan.solver.decode.integral_flows` restores a vertex if a solver
returns an interior point). ``n``, ``w``, ``u`` and ``v`` are integer.

Backorder and lost-sale costs are rewritten per delivered unit: a unit delivered in
period ``t`` saves ``lost_sale + backorder * (ℓ - max(t, d) + 1)``; the cost of
delivering nothing is the model's constant offset (:func:`cost_of_no_delivery`).

:func:`add_columns` adds every block in the model's fixed order
``x, y, f, I, s, n, w, u, v``; the policy rows add their own columns after them.
"""

from __future__ import annotations

import numpy as np

from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.model.context import (
    BuildContext,
    Columns,
    Dropships,
    ForecastFills,
    Purchases,
    ShipCompleteChoices,
    Shipments,
    Shortfall,
    Stock,
    SupplierOrders,
)


def expand(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups ``g`` of ``lengths[g]`` consecutive values from ``starts[g]``: (group, value)."""
    lengths = np.maximum(lengths, 0)
    group = np.repeat(np.arange(lengths.shape[0]), lengths)
    offsets = np.arange(group.shape[0]) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return group, starts[group] + offsets


def value_of_delivery(ix: ProblemIndex, line: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cost saved by delivering one unit to ``line`` in period ``t`` (lost sale + periods late avoided).

    With a promise-slip cost, also the periods of slip beyond the order's previous promise avoided.
    """
    late = ix.line_last[line] - np.maximum(t, ix.line_due[line]) + 1
    value = ix.line_lost[line] + ix.line_backorder[line] * late
    slip_cost = ix.problem.settings.promise_slip_cost
    if slip_cost > 0:
        value = value + slip_cost * np.maximum(ix.line_last[line] - np.maximum(t, ix.line_promised[line]) + 1, 0)
    return value


def cost_of_no_delivery(ctx: BuildContext) -> float:
    """The cost of a plan that delivers nothing: the model's constant offset.

    Every line is lost and late through its whole window, every forecast unit is lost,
    and the safety stock of a pair where stock can never exist is short in every period.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    float
        ``Σ_i q_i (lost_i + backorder_i (ℓ_i - d_i + 1))
        + slip Σ_i q_i max(ℓ_i - π_i + 1, 0)
        + Σ_{k,l,t} forecast_klt lost_k
        + T Σ_{(k,l) without stock} SS_kl safety_cost_kl``.
    """
    ix, NL = ctx.ix, ctx.ix.n_locations
    window = ix.line_last - ix.line_due + 1
    offset = float(np.sum(ix.line_qty * (ix.line_lost + ix.line_backorder * window)))
    slip_cost = ix.problem.settings.promise_slip_cost
    if slip_cost > 0:  # every unit open from the promised period to ℓ, before any delivery
        offset += slip_cost * float(np.sum(ix.line_qty * np.maximum(ix.line_last - ix.line_promised + 1, 0)))
    sku_of_pair = np.arange(ix.n_pairs) // NL
    offset += float(np.sum(ix.forecast.sum(axis=1) * ix.lost_sale[sku_of_pair]))
    dead = ~ctx.pairs.inflow
    offset += float(np.sum(ix.safety_stock[dead] * ix.safety_cost[dead]) * ix.T)
    return offset


def add_shipments(ctx: BuildContext) -> Shipments:
    """Shipments: a line can take units from any warehouse it may ship from, in any period of its window.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    Shipments
        Columns ``x[i, l, t]`` for lines ``i``, warehouses ``l`` allowed for ``i`` where the
        line's SKU can be in stock, and ``first_i ≤ t ≤ last_i``; ``0 ≤ x ≤ q_i``, costing
        ``ship_cost_il - value_i(t)`` (:func:`value_of_delivery`).
    """
    ix, NL = ctx.ix, ctx.ix.n_locations
    pair_slot = ctx.pairs.slot
    cand_line, cand_loc = np.nonzero(ix.allowed & (pair_slot[ix.line_sku[:, None] * NL + np.arange(NL)] >= 0))
    lengths = ix.line_last[cand_line] - ix.line_first[cand_line] + 1
    grp, x_t = expand(ix.line_first[cand_line], lengths)
    x_line, x_loc = cand_line[grp], cand_loc[grp]
    x_cost = ix.ship_cost[x_line, x_loc] - value_of_delivery(ix, x_line, x_t)
    cols = ctx.asm.add_columns("x", x_cost, 0.0, ix.line_qty[x_line].astype(float), integer=ctx.all_integer)
    return Shipments(cols=cols, line=x_line, loc=x_loc, t=x_t)


def add_dropship_deliveries(ctx: BuildContext) -> Dropships:
    """Dropship deliveries: a dropship agreement sends units straight to a line of its SKU.

    Lines of ship-complete orders take no dropships. A delivery ordered in period ``p``
    arrives in ``p + L_a``, which must fall in the line's window, and the agreement
    must be orderable in ``p`` (have a purchase slot).

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    Dropships
        Columns ``y[a, i, p]`` with ``first_i ≤ p + L_a ≤ last_i``; ``0 ≤ y ≤ q_i``,
        costing ``-value_i(p + L_a)`` (the purchase itself is paid on ``n``).
    """
    ix, seg = ctx.ix, ctx.seg
    drop_ags = np.flatnonzero(ix.ag_dropship)
    open_lines = np.flatnonzero(~ix.line_complete & (ix.line_first <= ix.line_last))
    lines_by_sku: dict[int, np.ndarray] = {}
    if open_lines.size:
        order = np.argsort(ix.line_sku[open_lines], kind="stable")
        sorted_lines = open_lines[order]
        uniq, first = np.unique(ix.line_sku[sorted_lines], return_index=True)
        for k, chunk in zip(uniq, np.split(sorted_lines, first[1:]), strict=True):
            lines_by_sku[int(k)] = chunk
    y_parts = []
    for a in drop_ags:
        lines = lines_by_sku.get(int(ix.ag_sku[a]))
        if lines is None:
            continue
        L = ix.ag_lead[a]
        start = np.maximum(ix.line_first[lines], L)
        g, t = expand(start, ix.line_last[lines] - start + 1)
        y_parts.append((np.full(g.shape[0], a), lines[g], t - L))
    y_ag = np.concatenate([p[0] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    y_line = np.concatenate([p[1] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    y_p = np.concatenate([p[2] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    has_slot = seg.has_slot(y_ag, y_p)  # no slot: the agreement cannot deliver then (capacity 0)
    y_ag, y_line, y_p = y_ag[has_slot], y_line[has_slot], y_p[has_slot]
    y_t = y_p + ix.ag_lead[y_ag]
    y_cost = -value_of_delivery(ix, y_line, y_t)
    cols = ctx.asm.add_columns("y", y_cost, 0.0, ix.line_qty[y_line].astype(float), integer=ctx.all_integer)
    return Dropships(cols=cols, ag=y_ag, line=y_line, p=y_p, t=y_t)


def add_forecast_fills(ctx: BuildContext) -> ForecastFills:
    """Forecast fills: stock may serve forecast demand, each unit saving its lost sale.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    ForecastFills
        Columns ``f[k, l, t]`` where forecast demand is positive and stock can exist;
        ``0 ≤ f ≤ forecast_klt``, costing ``-lost_k``.
    """
    ix, NL = ctx.ix, ctx.ix.n_locations
    f_pair, f_t = np.nonzero(ix.forecast * (ctx.pairs.slot[:, None] >= 0))
    cols = ctx.asm.add_columns(
        "f", -ix.lost_sale[f_pair // NL], 0.0, ix.forecast[f_pair, f_t].astype(float), integer=ctx.all_integer
    )
    return ForecastFills(cols=cols, pair=f_pair, t=f_t)


def add_stock(ctx: BuildContext) -> Stock:
    """Stock: what each warehouse holds of a SKU at the end of each period, paying holding cost.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    Stock
        Columns ``I[k, l, t]`` for every pair where stock can exist and every period,
        costing ``holding_k``; ``I ≥ 0``, and the upper bound is set once the purchase
        segments are known (:func:`stockplan.solver.model.rows.set_stock_upper_bound`).
    """
    ix, NL, T = ctx.ix, ctx.ix.n_locations, ctx.ix.T
    active = ctx.pairs.active
    I_pair = np.repeat(active, T)
    I_t = np.tile(np.arange(T), active.shape[0])
    cols = ctx.asm.add_columns("I", ix.holding[I_pair // NL], 0.0, 0.0, integer=ctx.all_integer)
    return Stock(cols=cols, pair=I_pair, t=I_t)


def add_safety_shortfall(ctx: BuildContext) -> Shortfall:
    """Safety-stock shortfall: units below the safety stock at the end of a period, each at its cost.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    Shortfall
        Columns ``s[k, l, t]`` for pairs with stock, a positive safety stock and a positive
        shortfall cost, every period; ``0 ≤ s ≤ SS_kl``, costing ``safety_cost_kl``.
        Always continuous.
    """
    ix, T = ctx.ix, ctx.ix.T
    active = ctx.pairs.active
    ss_pairs = active[(ix.safety_stock[active] > 0) & (ix.safety_cost[active] > 0)]
    s_pair = np.repeat(ss_pairs, T)
    s_t = np.tile(np.arange(T), ss_pairs.shape[0])
    cols = ctx.asm.add_columns("s", ix.safety_cost[s_pair], 0.0, ix.safety_stock[s_pair].astype(float), False)
    return Shortfall(cols=cols, pair=s_pair, t=s_t)


def add_purchase_segments(ctx: BuildContext) -> Purchases:
    """Purchase segments: how many packs an order on an agreement in a period has, per price break.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    Purchases
        Integer columns ``n[g] ∈ [0, hi_g]`` (packs) for every segment ``g`` of every
        slot, costing ``price_g · pack_a`` per pack (all-units price of the segment);
        binary columns ``w[g]`` (segment chosen, cost 0) only for slots with more than
        one segment or whose lowest segment starts above one pack (MOQ).
    """
    ix, seg = ctx.ix, ctx.seg
    seg_ag = seg.slot_ag[seg.seg_slot]
    n_cols = ctx.asm.add_columns("n", seg.seg_price * ix.ag_pack[seg_ag], 0.0, seg.seg_hi.astype(float),
                                 integer=True)
    w_seg = np.flatnonzero(seg.seg_needs_w)
    w_cols = ctx.asm.add_columns("w", np.zeros(w_seg.shape[0]), 0.0, 1.0, integer=True)
    return Purchases(n_cols=n_cols, seg_ag=seg_ag, stocked=~ix.ag_dropship[seg_ag], w_cols=w_cols, w_seg=w_seg)


def add_supplier_orders(ctx: BuildContext) -> SupplierOrders:
    """Supplier orders: ordering from a supplier in a period pays its fixed order cost once.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    SupplierOrders
        Binary columns ``u[s, p]``, costing ``order_cost_sp``, for every supplier and
        period with a positive fixed cost and a purchase slot on one of its agreements.
    """
    ix, seg, T = ctx.ix, ctx.seg, ctx.ix.T
    sup_of_slot = ix.ag_supplier[seg.slot_ag]
    fixed = ix.fixed_order_cost()
    charged = fixed[sup_of_slot, seg.slot_p] > 0
    sp_keys = np.unique(sup_of_slot[charged] * T + seg.slot_p[charged])
    u_sup, u_p = sp_keys // T, sp_keys % T
    cols = ctx.asm.add_columns("u", fixed[u_sup, u_p], 0.0, 1.0, integer=True)
    slot_col = np.full(seg.slot_ag.shape[0], -1, dtype=np.int64)
    ch = np.flatnonzero(charged)
    slot_col[ch] = cols[np.searchsorted(sp_keys, sup_of_slot[ch] * T + seg.slot_p[ch])] if ch.size else ch
    return SupplierOrders(cols=cols, sup=u_sup, p=u_p, slot_col=slot_col)


def add_ship_complete_choices(ctx: BuildContext) -> ShipCompleteChoices:
    """Ship-complete choices: the period a ship-complete order is delivered whole in.

    Parameters
    ----------
    ctx : BuildContext
        The build.

    Returns
    -------
    ShipCompleteChoices
        Binary columns ``v[o, t]`` (cost 0) for every ship-complete order ``o`` with a
        non-empty window and every period of it.
    """
    ix = ctx.ix
    sc_lines = np.flatnonzero(ix.line_complete & (ix.line_first <= ix.line_last))
    sc_orders, first_line = np.unique(ix.line_order[sc_lines], return_index=True)
    sc_first = ix.line_first[sc_lines[first_line]]
    sc_last = ix.line_last[sc_lines[first_line]]
    g, v_t = expand(sc_first, sc_last - sc_first + 1)
    v_order = sc_orders[g]
    cols = ctx.asm.add_columns("v", np.zeros(v_t.shape[0]), 0.0, 1.0, integer=True)
    return ShipCompleteChoices(cols=cols, order=v_order, t=v_t, lines=sc_lines, orders=sc_orders)


def add_columns(ctx: BuildContext) -> Columns:
    """Every column block, in the model's order: ``x, y, f, I, s, n, w, u, v``."""
    return Columns(
        shipments=add_shipments(ctx),
        dropships=add_dropship_deliveries(ctx),
        fills=add_forecast_fills(ctx),
        stock=add_stock(ctx),
        shortfall=add_safety_shortfall(ctx),
        purchases=add_purchase_segments(ctx),
        supplier_orders=add_supplier_orders(ctx),
        ship_complete=add_ship_complete_choices(ctx),
    )
