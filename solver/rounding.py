"""LP rounding: a strong first plan from the LP relaxation, for problems too large for one MIP.

Solve the relaxation, round each purchase slot's quantity up to a whole number of
packs that honours MOQ and capacity (small fractional orders are dropped), fix
the price segment, supplier and pack columns accordingly, allow each
ship-complete order only in the period its relaxation preferred, and solve what
is left — flows plus those few binaries — as a small MIP. The relaxation's value
is a valid lower bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import ModelMap, price_segment
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import MipModel

# An LP order below this share of its smallest feasible quantity is dropped rather than rounded up.
DROP_BELOW = 0.35


@dataclass
class RoundingResult:
    x: np.ndarray | None  # solution of the rounded model (None: it failed)
    lp_bound: float | None  # the relaxation's optimum: a valid lower bound
    seconds: float
    lp_x: np.ndarray | None = None  # the relaxation's solution


def round_purchases(ix: ProblemIndex, mp: ModelMap, model: MipModel, x: np.ndarray) -> np.ndarray:
    """Whole-pack quantity per purchase slot from a relaxed solution (units).

    Stock agreements: the relaxation's quantities are accumulated period by
    period and ordered, rounded up to whole packs, MOQ and the slot's capacity,
    in the first period of the run that asked for them — earlier, never later,
    than the relaxation wanted them — and the rounding surplus covers what later
    periods ask for. Dropship orders round down per period (they cannot carry
    surplus).
    """
    packs = x[model.blocks["n"]]
    n_slots = mp.slot_ag.shape[0]
    pack = ix.ag_pack[mp.slot_ag]
    lp_units = np.bincount(mp.seg_slot, weights=packs * pack[mp.seg_slot], minlength=n_slots)
    lo = np.full(n_slots, np.iinfo(np.int64).max)
    np.minimum.at(lo, mp.seg_slot, mp.seg_lo)
    hi = np.zeros(n_slots, dtype=np.int64)
    np.maximum.at(hi, mp.seg_slot, mp.seg_hi)
    out = np.zeros(n_slots, dtype=np.int64)
    drop = ix.ag_dropship[mp.slot_ag]
    d = np.flatnonzero(drop)
    want = np.floor(lp_units[d] / pack[d] + 1e-6).astype(np.int64)
    out[d] = np.where(want >= lo[d], np.minimum(want, hi[d]), 0) * pack[d]
    # Slots are sorted by agreement, then period: walk each agreement's run.
    stock = np.flatnonzero(~drop)
    starts = np.flatnonzero(np.r_[True, mp.slot_ag[stock][1:] != mp.slot_ag[stock][:-1]])
    for run in np.split(stock, starts[1:]):
        if run.size == 0:
            continue
        pk = int(pack[run[0]])
        surplus = pending = 0.0
        first = -1
        for s in run.tolist():
            need = max(0.0, lp_units[s] - surplus)
            surplus = max(0.0, surplus - lp_units[s])
            if need > 1e-6:
                first = s if first < 0 else first
                pending += need
            if first >= 0 and (pending >= lo[first] * pk - 1e-6 or s == run[-1]):
                q = int(np.ceil(pending / pk - 1e-6))
                if q < lo[first] and pending < DROP_BELOW * lo[first] * pk:
                    q = 0  # a sliver the relaxation barely wanted
                q = min(max(q, int(lo[first])), int(hi[first])) if q > 0 else 0
                out[first] += q * pk
                surplus += q * pk - pending if q * pk >= pending else 0.0
                pending, first = (0.0, -1) if q * pk >= pending else (pending - q * pk, -1)
    return out


def fix_purchases(ix: ProblemIndex, mp: ModelMap, model: MipModel, units: np.ndarray) -> MipModel:
    """A copy of ``model`` that may order at most ``units`` per slot, and only where ``units > 0``.

    Each rounded order can still shrink (within its price segment) or be
    dropped, and a supplier period can close, so the small MIP that remains
    undoes roundings that were not worth their fixed cost.
    """
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    b = model.blocks
    pack = ix.ag_pack[mp.slot_ag]
    n_packs = units // pack
    chosen = price_segment(mp, n_packs)
    n_max = np.zeros(mp.seg_slot.shape[0])
    used = chosen[chosen >= 0]
    n_max[used] = n_packs[mp.seg_slot[used]]
    lo[b["n"]] = 0.0
    hi[b["n"]] = n_max
    w_open = n_max[mp.w_seg] > 0
    lo[b["w"]] = 0.0
    hi[b["w"]] = w_open.astype(float)
    T = ix.T
    ordered = np.flatnonzero(units > 0)
    sp_used = np.unique(ix.ag_supplier[mp.slot_ag[ordered]] * T + mp.slot_p[ordered])
    lo[b["u"]] = 0.0
    hi[b["u"]] = np.isin(mp.u_sup * T + mp.u_p, sp_used).astype(float)
    return replace(model, col_lower=lo, col_upper=hi)


def restrict_complete_orders(mp: ModelMap, model: MipModel, x: np.ndarray) -> None:
    """Allow each ship-complete order only in the period its relaxation delivered most of it in."""
    v = x[model.blocks["v"]]
    if v.size == 0:
        return
    order_key = mp.v_order
    best = np.full(order_key.max() + 1, -1.0)
    np.maximum.at(best, order_key, v)
    # First period reaching the order's maximum; orders the relaxation barely serves stay closed.
    top = (v >= best[order_key] - 1e-9) & (best[order_key] >= 0.5)
    first = np.zeros(order_key.max() + 1, dtype=bool)
    keep = np.zeros(v.shape[0], dtype=bool)
    for i in np.flatnonzero(top):
        if not first[order_key[i]]:
            first[order_key[i]] = True
            keep[i] = True
    cols = np.arange(model.blocks["v"].start, model.blocks["v"].stop)
    model.col_upper[cols[~keep]] = 0.0


def slope_scaling(
    ix: ProblemIndex, mp: ModelMap, model: MipModel, x: np.ndarray, options: SolveOptions, backend: str,
    iterations: int, deadline: float,
) -> np.ndarray:
    """Dynamic slope scaling: re-solve the LP with fixed charges spread over the last volumes.

    The relaxation spreads orders thinly over many periods, paying a sliver of
    each fixed order cost and the deepest price break on small quantities. Each
    iteration charges every unit the supplier-period's fixed cost divided by the
    volume ordered there last time, and the unit price that volume actually gets
    (all-units breaks, MOQ), so volume gathers into fewer, fuller orders.
    """
    b = model.blocks
    T = ix.T
    n_slots = mp.slot_ag.shape[0]
    pack = ix.ag_pack[mp.slot_ag]
    sup = ix.ag_supplier[mp.slot_ag]
    fixed = ix.fixed_order_cost()[sup, mp.slot_p]
    hi_units = np.zeros(n_slots)
    np.maximum.at(hi_units, mp.seg_slot, mp.seg_hi * pack[mp.seg_slot])
    moq = ix.ag_moq[mp.slot_ag]
    with_breaks = [k for k in range(n_slots) if ix.agreements[mp.slot_ag[k]].price_breaks]
    solver = get_backend(backend)
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    lo[b["u"]], hi[b["u"]] = 0.0, 1.0
    for _ in range(iterations):
        if time.perf_counter() > deadline:
            break
        units = np.bincount(mp.seg_slot, weights=x[b["n"]] * pack[mp.seg_slot], minlength=n_slots)
        volume = np.zeros(len(ix.supplier_ids) * T)
        np.add.at(volume, sup * T + mp.slot_p, units)
        v_slot = volume[sup * T + mp.slot_p]
        share = np.where(v_slot > 1e-6, fixed / np.maximum(v_slot, 1e-6), fixed / np.maximum(hi_units, 1.0))
        price = ix.ag_price[mp.slot_ag].copy()
        q = np.maximum(np.ceil(units), 1.0)
        for k in with_breaks:
            price[k] = ix.agreements[mp.slot_ag[k]].price_at(int(q[k]))
        # Below the MOQ the whole MOQ is paid for: spread it over the units wanted.
        price = np.where(q < moq, price * moq / q, price)
        cost = model.cost.copy()
        cost[b["n"]] = ((price + share) * pack)[mp.seg_slot]
        cost[b["u"]] = 0.0
        lp = replace(model, cost=cost, col_lower=lo, col_upper=hi, integrality=np.zeros_like(model.integrality))
        res = solver.solve(lp, replace(options, gap=0.0, time_limit=max(0.2, deadline - time.perf_counter())))
        if res.x is None:
            break
        x = res.x
    return x


def lp_rounding(
    ix: ProblemIndex,
    model: MipModel,
    mp: ModelMap,
    options: SolveOptions,
    backend: str = "highs",
    restrict: Callable[[MipModel], None] | None = None,
    slope_iterations: int = 3,
) -> RoundingResult:
    """Relax, round, fix and solve what is left; ``restrict`` further limits the rounded model."""
    started = time.perf_counter()
    solver = get_backend(backend)
    relaxed = replace(model, integrality=np.zeros_like(model.integrality))
    lp = solver.solve(relaxed, replace(options, gap=0.0))
    if lp.x is None:
        return RoundingResult(None, None, time.perf_counter() - started)
    bound = lp.objective if lp.outcome == "optimal" else None
    x = lp.x
    if slope_iterations:
        deadline = started + options.limit * 0.5
        x = slope_scaling(ix, mp, model, x, options, backend, slope_iterations, deadline)
    fixed = fix_purchases(ix, mp, model, round_purchases(ix, mp, model, x))
    restrict_complete_orders(mp, fixed, x)
    if restrict is not None:
        restrict(fixed)
    left = max(0.5, options.limit - (time.perf_counter() - started))
    result = solver.solve(fixed, replace(options, time_limit=left))
    return RoundingResult(result.x, bound, time.perf_counter() - started, lp.x)
