"""Between column vectors of the built model and plan decisions, both ways."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace

import numpy as np

from stockplan.models.plan import Decisions, DropshipLine, ForecastFill, PurchaseOrder, Shipment
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import ModelMap, price_segment
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import MipModel
from stockplan.solver.model.split import fill_split_shipments
from stockplan.solver.model.strengthen import fill_segment_flows
from stockplan.solver.policies import fill_policy_columns

# A budget already spent still gives the flow LP this much: enough on a part or on 1,000
# orders (0.1 s measured), not on 10,000 (5 s), where the deadline wins over the
# solver's plan. Solvers rarely return non-integral flows, so this seldom runs at all.
MIN_FLOW_LP_SECONDS = 0.5


def decode_plan(ix: ProblemIndex, model: MipModel, mp: ModelMap, x: np.ndarray) -> Decisions:
    """Turn a solution vector into decisions (integers, rounded from the solver's floats)."""
    b = model.blocks
    orders = ix.problem.orders
    xv = np.rint(x[b["x"]]).astype(np.int64)
    shipments = [
        Shipment(
            order=orders[ix.line_order[i]].id, line=int(ix.line_no[i]),
            location=ix.locations[loc], period=int(t), quantity=int(q),
        )
        for i, loc, t, q in zip(mp.x_line[xv > 0], mp.x_loc[xv > 0], mp.x_t[xv > 0], xv[xv > 0], strict=True)
    ]
    fv = np.rint(x[b["f"]]).astype(np.int64)
    NL = ix.n_locations
    fills = [
        ForecastFill(sku=ix.skus[p // NL], location=ix.locations[p % NL], period=int(t), quantity=int(q))
        for p, t, q in zip(mp.f_pair[fv > 0], mp.f_t[fv > 0], fv[fv > 0], strict=True)
    ]
    packs = np.rint(x[b["n"]]).astype(np.int64)
    units = np.bincount(mp.seg_slot, weights=packs * ix.ag_pack[mp.slot_ag[mp.seg_slot]],
                        minlength=mp.slot_ag.shape[0]).astype(np.int64)
    yv = np.rint(x[b["y"]]).astype(np.int64)
    drop_lines: dict[tuple[int, int], list[DropshipLine]] = defaultdict(list)
    for a, i, p, q in zip(mp.y_ag[yv > 0], mp.y_line[yv > 0], mp.y_p[yv > 0], yv[yv > 0], strict=True):
        drop_lines[int(a), int(p)].append(
            DropshipLine(order=orders[ix.line_order[i]].id, line=int(ix.line_no[i]), quantity=int(q))
        )
    pos = []
    for s in np.flatnonzero(units > 0):
        a, p = int(mp.slot_ag[s]), int(mp.slot_p[s])
        lines = drop_lines.get((a, p)) if ix.ag_dropship[a] else None
        pos.append(PurchaseOrder(agreement=ix.agreement_ids[a], period=p, quantity=int(units[s]), lines=lines))
    return Decisions(shipments=shipments, forecast_fills=fills, purchase_orders=pos)


def encode_plan(ix: ProblemIndex, model: MipModel, mp: ModelMap, plan: Decisions,
                feasible_only: bool = True) -> np.ndarray | None:
    """The column vector of ``plan`` (a warm start), or None if the model cannot express it.

    With ``feasible_only=False`` a vector that breaks rows (a plan breaking the policy's) is
    returned too; None then only means the plan has no columns at all (e.g. an odd pack)."""
    T, NL = ix.T, ix.n_locations
    b = model.blocks
    x = np.zeros(model.num_cols)
    orders = {o.id: k for k, o in enumerate(ix.problem.orders)}
    line_of = {(int(o), int(n)): i for i, (o, n) in enumerate(zip(ix.line_order, ix.line_no, strict=True))}
    loc_of = {loc: k for k, loc in enumerate(ix.locations)}
    sku_of = {s: k for k, s in enumerate(ix.skus)}
    ag_of = {a: k for k, a in enumerate(ix.agreement_ids)}

    def place(block: str, keys: np.ndarray, wanted: list[int], values: list[int]) -> bool:
        if not wanted:
            return True
        w = np.asarray(wanted, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        pos = np.searchsorted(keys, w, sorter=order)
        pos = np.minimum(pos, max(keys.shape[0] - 1, 0))
        if keys.shape[0] == 0 or np.any(keys[order[pos]] != w):
            return False
        np.add.at(x, b[block].start + order[pos], np.asarray(values, dtype=np.float64))
        return True

    try:
        x_keys = (mp.x_line * NL + mp.x_loc) * T + mp.x_t
        want = [(line_of[orders[s.order], s.line] * NL + loc_of[s.location]) * T + s.period for s in plan.shipments]
        if not place("x", x_keys, want, [s.quantity for s in plan.shipments]):
            return None
        f_keys = mp.f_pair * T + mp.f_t
        want = [(sku_of[f.sku] * NL + loc_of[f.location]) * T + f.period for f in plan.forecast_fills]
        if not place("f", f_keys, want, [f.quantity for f in plan.forecast_fills]):
            return None
        slot_keys = mp.slot_ag * T + mp.slot_p
        slot_units = np.zeros(mp.slot_ag.shape[0], dtype=np.int64)
        y_keys = (mp.y_ag * ix.n_lines + mp.y_line) * T + mp.y_p
        for po in plan.purchase_orders:
            a = ag_of[po.agreement]
            s = int(np.searchsorted(slot_keys, a * T + po.period))
            if s >= slot_keys.shape[0] or slot_keys[s] != a * T + po.period:
                return None
            slot_units[s] += po.quantity
            for dl in po.lines or ():
                key = (a * ix.n_lines + line_of[orders[dl.order], dl.line]) * T + po.period
                if not place("y", y_keys, [key], [dl.quantity]):
                    return None
    except KeyError:
        return None

    # Price segment, its binary and the supplier's period binary for each ordered slot.
    pack = ix.ag_pack[mp.slot_ag]
    if np.any(slot_units % pack):
        return None
    n_packs = slot_units // pack
    chosen = price_segment(mp, n_packs)
    if np.any((n_packs > 0) & (chosen < 0)):
        return None
    used = chosen[chosen >= 0]
    x[b["n"].start + used] = n_packs[mp.seg_slot[used]]
    w_index = np.full(mp.seg_slot.shape[0], -1, dtype=np.int64)
    w_index[mp.w_seg] = np.arange(mp.w_seg.shape[0])
    wu = w_index[used]
    x[b["w"].start + wu[wu >= 0]] = 1.0
    ordered = np.flatnonzero(n_packs > 0)
    u_keys = mp.u_sup * T + mp.u_p
    sup_keys = np.unique(ix.ag_supplier[mp.slot_ag[ordered]] * T + mp.slot_p[ordered])
    u_pos = np.searchsorted(u_keys, sup_keys)
    u_ok = (u_pos < u_keys.shape[0]) & (u_keys[np.minimum(u_pos, max(u_keys.shape[0] - 1, 0))] == sup_keys) \
        if u_keys.shape[0] else np.zeros(sup_keys.shape[0], bool)
    x[b["u"].start + u_pos[u_ok]] = 1.0

    # Ship-complete: the period each such order is delivered in.
    v_keys = mp.v_order * T + mp.v_t
    xs = x[b["x"]]
    sc = (xs > 0) & ix.line_complete[mp.x_line]
    vk = np.unique(ix.line_order[mp.x_line[sc]] * T + mp.x_t[sc])
    if vk.size:
        vp = np.searchsorted(v_keys, vk)
        if np.any(vp >= v_keys.shape[0]) or np.any(v_keys[vp] != vk):
            return None
        x[b["v"].start + vp] = 1.0

    # Stock follows from the flows: solve the balance rows for I, period by period.
    rows = model.row_blocks["stock_balance"]
    a_bal = model.matrix[rows]
    i_block = b["I"]
    x_i = x.copy()
    x_i[i_block] = 0.0
    flow = model.row_lower[rows] - a_bal @ x_i  # = I(t) - I(t-1)
    stock = np.cumsum(flow.reshape(-1, T), axis=1)
    x[i_block] = stock.ravel()
    s_block = b["s"]
    x[s_block] = np.maximum(0.0, ix.safety_stock[mp.s_pair] - stock[mp.pair_slot[mp.s_pair], mp.s_t])
    if mp.flows is not None:
        fill_segment_flows(ix, mp.flows, b["n"].start, x)
    fill_policy_columns(model, mp.policy, x)
    fill_split_shipments(model, mp.split, x)
    if feasible_only and model.max_violation(x) > 1e-6:
        return None
    return x


def integral_flows(
    model: MipModel, x: np.ndarray, options: SolveOptions, deadline: float | None = None
) -> np.ndarray | None:
    """A solution whose continuous flows are whole units too.

    With integer columns fixed, the rest is a network flow: a simplex vertex of it
    is integral. Solvers usually return one; when not, this re-solves the LP.

    Parameters
    ----------
    model : MipModel
        The model ``x`` solves.
    x : numpy.ndarray
        A solution of ``model`` (its integer columns are kept, rounded).
    options : SolveOptions
        Options of the LP; ``options.time_limit`` caps it when ``deadline`` is None.
    deadline : float, optional
        ``time.perf_counter()`` by which the LP must stop (a caller's budget: the LP
        comes out of it), with at least :data:`MIN_FLOW_LP_SECONDS`.

    Returns
    -------
    numpy.ndarray or None
        ``x`` with integral flows, or None when the LP found none in time.
    """
    if model.max_violation_integral(x) <= 1e-6:
        return x
    limit = options.limit if deadline is None else deadline - time.perf_counter()
    fixed = np.rint(x)
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    lo[model.integrality] = hi[model.integrality] = fixed[model.integrality]
    lp = replace(model, col_lower=lo, col_upper=hi, integrality=np.zeros_like(model.integrality))
    result = get_backend("highs").solve(lp, replace(options, time_limit=max(limit, MIN_FLOW_LP_SECONDS)))
    if result.x is None or model.max_violation_integral(result.x) > 1e-6:
        return None
    return result.x
