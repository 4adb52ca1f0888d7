"""What delivering a late line on time would cost: an exact re-solve with the line forced on time.

For a backordered or lost line the planner asks "what would it take?". The answer
re-solves the line's SKU (for a ship-complete line, every SKU of its order) with
the rest of the plan kept as it is — other SKUs, and the delivery periods of other
ship-complete orders — and one more row: the line whole by its due period (a
ship-complete order: delivered whole by then). Supplier fixed costs of periods that the rest of the plan already
pays for are sunk, so the part's model prices them at zero, and so are the shipment fees (an extension) of
orders the rest of the plan ships from that warehouse in that period. The forced part plan
merged with the rest is checked by the evaluator, and the extra cost is the
evaluator's difference between that plan and the current one. It is exact when
the forced re-solve is proven optimal: no on-time plan that keeps the rest of the
plan costs less.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from stockplan.models.plan import Decisions
from stockplan.models.problem import Policy, Problem
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import Outcome, SolveOptions, stop_requested
from stockplan.solver.builder import ModelMap, build_model
from stockplan.solver.decode import decode_plan, encode_plan, integral_flows
from stockplan.solver.decompose import complete_order_periods, merge_plans, split_plan
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.indexing import ProblemIndex, ShipmentKeys, build_index, subset_index
from stockplan.solver.mip import MipModel

# A re-solve with less time than this finds nothing worth reporting: the line is left unpriced.
MIN_RESOLVE_SECONDS = 0.05
# Evaluating a plan takes 4-7 times as long as indexing its problem (measured on 1,000 and
# 10,000 orders): the first line's evaluation is expected to take that long.
EVALUATION_PER_INDEX = 4.0


@dataclass(frozen=True)
class OnTimePrice:
    """The price of one line on time.

    Attributes
    ----------
    status : str
        ``exact`` (the forced re-solve was proven optimal), ``upper_bound`` (an
        on-time plan was found but not proven cheapest: the true extra cost is at
        most ``extra_cost``), ``impossible`` (no plan delivers it on time, keeping
        the rest of the plan), ``unknown`` (the time limit passed first) or
        ``not_proven`` (on time is cheaper than the plan, even re-solved: the plan
        is not proven optimal and there is no price to show).
    extra_cost : float or None
        Cost of the on-time plan minus the plan's cost (objective, with any
        promise-slip penalty); where the on-time plan is cheaper than the plan
        (a plan not proven optimal), minus the plan's SKU re-solved instead.
        Never negative.
    on_time_cost : float or None
        Cost of that on-time plan.
    plan : Decisions or None
        The whole on-time plan, checked by the evaluator.
    breaks_policy : bool
        No plan following ``settings.policy`` has the line on time; the price is
        that of the cheapest plan that sets the policy aside for it.
    """

    status: str
    extra_cost: float | None = None
    on_time_cost: float | None = None
    plan: Decisions | None = None
    breaks_policy: bool = False


def skus_to_resolve(ix: ProblemIndex, line: int) -> np.ndarray:
    """The line's SKU, and for a ship-complete line every SKU of its order (they move together)."""
    if not ix.line_complete[line]:
        return np.array([ix.line_sku[line]])
    return np.unique(ix.line_sku[ix.line_order == ix.line_order[line]])


def keep_complete_orders(model: MipModel, mp: ModelMap, periods: dict[int, int], free_order: int) -> None:
    """Ship-complete orders other than ``free_order`` are delivered exactly as in the plan (in place).

    They may have lines outside the re-solved SKUs; moving them would change the rest of the plan.
    """
    v = model.blocks["v"]
    for order, period in periods.items():
        if order == free_order:
            continue
        cols = np.flatnonzero(mp.v_order == order)
        model.col_upper[v.start + cols] = (mp.v_t[cols] == period).astype(float)
        model.col_lower[v.start + cols] = (mp.v_t[cols] == period).astype(float)


def _with_row(model: MipModel, cols: np.ndarray, coefs: np.ndarray, lower: float, upper: float) -> MipModel:
    row = sp.csr_matrix((coefs.astype(float), (np.zeros(cols.shape[0], dtype=np.int64), cols)),
                        shape=(1, model.num_cols))
    return replace(
        model,
        matrix=sp.vstack([model.matrix, row], format="csr"),
        row_lower=np.append(model.row_lower, lower),
        row_upper=np.append(model.row_upper, upper),
    )


def force_on_time(ix: ProblemIndex, model: MipModel, mp: ModelMap, line: int) -> MipModel | None:
    """``model`` with one more row: ``line`` whole by its due period; None when no column can do it."""
    due = int(ix.line_due[line])
    if ix.line_complete[line]:
        order = int(ix.line_order[line])
        cols = model.blocks["v"].start + np.flatnonzero((mp.v_order == order) & (mp.v_t <= due))
        if cols.size == 0:
            return None
        return _with_row(model, cols, np.ones(cols.shape[0]), 1.0, 1.0)
    xs = model.blocks["x"].start + np.flatnonzero((mp.x_line == line) & (mp.x_t <= due))
    ys = model.blocks["y"].start + np.flatnonzero((mp.y_line == line) & (mp.y_p + ix.ag_lead[mp.y_ag] <= due))
    cols = np.concatenate([xs, ys])
    if cols.size == 0:
        return None
    qty = float(ix.line_qty[line])
    return _with_row(model, cols, np.ones(cols.shape[0]), qty, qty)


def price_on_time(
    problem: Problem,
    plan: Decisions,
    lines: list[tuple[str, int]],
    time_limit: float = 10.0,
    backend: str = "highs",
    current: Evaluation | None = None,
    budget: float | None = None,
) -> dict[tuple[str, int], OnTimePrice]:
    """Price each of ``lines`` (order id, line number) on time; see the module doc.

    Parameters
    ----------
    problem : Problem
        The problem ``plan`` solves.
    plan : Decisions
        A feasible plan.
    lines : list of (str, int)
        The lines to price, in the order to price them.
    time_limit : float
        Seconds for each re-solve.
    backend : str
        The MIP backend of the re-solves.
    current : Evaluation, optional
        The evaluator's verdict on ``plan``, when the caller has it.
    budget : float, optional
        Seconds for all of it (index, models, every re-solve including the
        policy-free second one, flows); the lines left when it runs out are not
        priced. A line whose policy-free re-solve finds no time left is ``unknown``.

    Returns
    -------
    dict
        An :class:`OnTimePrice` per line priced; lines left for lack of time are absent.
    """
    started = time.perf_counter()
    # One deadline for every re-solve, the policy-free second one included.
    run_budget = _Budget(math.inf if budget is None else started + budget)
    out: dict[tuple[str, int], OnTimePrice] = {}
    if not lines or run_budget.left() <= MIN_RESOLVE_SECONDS:
        return out
    ix = build_index(problem)
    run_budget.after = EVALUATION_PER_INDEX * (time.perf_counter() - started)  # until a line is measured
    current = current or evaluate(problem, plan)
    line_of = {ix.line_label(i): i for i in range(ix.n_lines)}
    sup_index = {sid: k for k, sid in enumerate(ix.supplier_ids)}
    ag_supplier = {a.id: sup_index[a.supplier] for a in problem.agreements}
    ag_sku = {a.id: a.sku for a in problem.agreements}
    shipment_keys = ShipmentKeys(ix) if ix.order_fee.any() else None
    for key in lines:
        if not run_budget.room_for_a_line() or stop_requested():  # out of time, or the job was canceled
            break
        run_budget.line_started = time.perf_counter()
        line = line_of.get(key)
        if line is None:  # outside the horizon: nothing can be delivered
            out[key] = OnTimePrice("impossible")
            continue
        skus = skus_to_resolve(ix, line)
        inside = {ix.skus[k] for k in skus.tolist()}
        part_of = {s: (0 if s in inside else 1) for s in ix.skus}
        own, rest = split_plan(problem, plan, part_of, 2)
        # Supplier periods the rest of the plan orders in are paid already.
        fixed = ix.fixed_order_cost().copy()
        for po in rest.purchase_orders:
            if po.quantity > 0 and ag_sku[po.agreement] not in inside:
                fixed[ag_supplier[po.agreement], po.period] = 0.0
        sub = subset_index(ix, skus, fixed, fee_waived=None if shipment_keys is None else shipment_keys(rest.shipments))
        complete = complete_order_periods(problem, plan, np.unique(sub.line_order[sub.line_complete]))
        price = _price_line(problem, sub, key, own, rest, current, time_limit, run_budget, backend, complete)
        if price is None:  # the budget ran out while its model was built
            break
        if price.status == "impossible" and problem.settings.policy != Policy.MIN_COST:
            if not run_budget.room_for_a_line():
                # Not on time under the policy, and no time left to ask without it.
                out[key] = OnTimePrice("unknown")
                continue
            # Not on time under the policy: what it costs to set the policy aside for this line.
            run_budget.line_started = time.perf_counter()
            free = problem.model_copy(update={"settings": problem.settings.model_copy(update={"policy": "min_cost"})})
            free_price = _price_line(problem, replace(sub, problem=free), key, own, rest, current, time_limit,
                                     run_budget, backend, complete)
            price = OnTimePrice("unknown") if free_price is None else replace(
                free_price, breaks_policy=free_price.status != "impossible")
        out[key] = price
    return out


@dataclass
class _Budget:
    """The one deadline of a pricing run, and what a line costs besides its re-solve (learned line by line)."""

    deadline: float  # time.perf_counter(); inf without a budget
    before: float = 0.0  # seconds from a line's start to its re-solve: plan split, part index and model
    after: float = 0.0  # seconds after its re-solve: flows, merge, evaluation of the whole plan
    line_started: float = 0.0

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def room_for_a_line(self) -> bool:
        """Whether another line can be priced in full before the deadline."""
        return self.left() > self.before + self.after + MIN_RESOLVE_SECONDS


def _price_line(
    problem: Problem,
    sub: ProblemIndex,
    key: tuple[str, int],
    own: Decisions,
    rest: Decisions,
    current: Evaluation,
    time_limit: float,
    budget: _Budget,
    backend: str,
    complete: dict[int, int],
) -> OnTimePrice | None:
    """Price one line: ``time_limit`` seconds for its re-solve, all of it done by ``budget.deadline``.

    None when no time is left for the re-solve once its model is built.
    """
    model, mp = build_model(sub)
    order_index = next(k for k, o in enumerate(problem.orders) if o.id == key[0])
    sub_line = int(np.flatnonzero((sub.line_order == order_index) & (sub.line_no == key[1]))[0])
    keep_complete_orders(model, mp, complete, order_index)
    forced = force_on_time(sub, model, mp, sub_line)
    if forced is None:
        return OnTimePrice("impossible")
    solve_started = time.perf_counter()
    budget.before = max(budget.before, solve_started - budget.line_started)
    # What follows the re-solve comes out of the same budget.
    limit = min(time_limit, budget.left() - budget.after)
    if limit <= MIN_RESOLVE_SECONDS:
        return None
    # No warm start: the current part plan has the line late, so it breaks the new row.
    options = SolveOptions(time_limit=limit, gap=1e-6, threads=1)
    result = get_backend(backend).solve(forced, options, None)
    after_started = time.perf_counter()
    flows_by = after_started + limit if math.isinf(budget.deadline) else budget.deadline
    x = integral_flows(forced, result.x, options, deadline=flows_by) if result.x is not None else None
    if x is None:
        return OnTimePrice("impossible" if result.outcome == Outcome.INFEASIBLE else "unknown")
    candidate = merge_plans([decode_plan(sub, model, mp, x), rest])
    ev = evaluate(problem, candidate)
    budget.after = max(budget.after, time.perf_counter() - after_started)
    if not ev.feasible:  # pragma: no cover - the part model and the evaluator agree on feasibility
        return OnTimePrice("unknown")
    status = "exact" if result.outcome == Outcome.OPTIMAL else "upper_bound"
    if ev.objective < current.objective - 1e-6 * max(1.0, abs(current.objective)):
        # Cheaper on time than the plan: the plan is not optimal for this SKU. The price is taken
        # against the SKU re-solved without the row, never as a negative "cost of fixing".
        return _against_resolved_sku(problem, sub, model, mp, own, rest, ev.objective, candidate, status,
                                     limit, budget, backend)
    return OnTimePrice(status, ev.objective - current.objective, ev.objective, candidate)


def _against_resolved_sku(
    problem: Problem, sub: ProblemIndex, model: MipModel, mp: ModelMap, own: Decisions, rest: Decisions,
    on_time: float, candidate: Decisions, status: str, limit: float, budget: _Budget, backend: str,
) -> OnTimePrice:
    """The on-time price against the plan's SKU re-solved as well as the forced one was.

    The re-solve starts from the plan (it can only get cheaper); when it still costs more than
    the on-time plan, the plan is ``not_proven``: a better plan has the line on time, and
    there is no price to show.
    """
    limit = min(limit, budget.left() - budget.after)
    if limit > MIN_RESOLVE_SECONDS:
        x0 = encode_plan(sub, model, mp, own)
        result = get_backend(backend).solve(model, SolveOptions(time_limit=limit, gap=1e-6, threads=1), x0)
        x = integral_flows(model, result.x, SolveOptions(time_limit=limit, threads=1)) if result.x is not None else None
        if x is not None:
            base = evaluate(problem, merge_plans([decode_plan(sub, model, mp, x), rest]))
            if base.feasible and base.objective <= on_time + 1e-9:
                both = "exact" if status == "exact" and result.outcome == Outcome.OPTIMAL else "upper_bound"
                return OnTimePrice(both, on_time - base.objective, on_time, candidate)
    return OnTimePrice("not_proven", None, on_time, candidate)
