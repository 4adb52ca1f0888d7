"""Problem in, plan out: build, warm-start from the greedy plan, solve, check, report.

Every plan that leaves here has passed the independent evaluator, and its cost
is the evaluator's. The MIP's objective is used only to compute the gap against
the proven bound.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from stockplan.models.plan import Costs, Decisions, Plan, PolicyNote, Status
from stockplan.models.problem import Problem
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import decode_plan, encode_plan, integral_flows
from stockplan.solver.decompose import solve_decomposed
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.explain import explain as explain_plan
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import ProblemIndex, build_index
from stockplan.solver.mip import MipModel

DEFAULT_BACKEND = "highs"
METHODS = ("auto", "mip", "decompose")
# Above this many order lines one monolithic MIP stops paying off within a minute (benchmarks).
AUTO_MIP_MAX_LINES = 300
# Wall-clock grace beyond the time limit before an isolated solver process is killed.
KILL_GRACE_SECONDS = 5.0
# "optimal" is claimed only for a proven relative gap this small.
OPTIMAL_GAP = 1e-6


def relative_gap(cost: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def _solve_in_child(
    conn: Connection, backend: str, model: MipModel, options: SolveOptions, warm: np.ndarray | None
) -> None:
    try:
        conn.send(get_backend(backend).solve(model, options, warm))
    except Exception as exc:  # reported to the parent, which falls back to the greedy plan
        conn.send(BackendResult(Outcome.ERROR, None, None, None, 0.0, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_backend(
    backend: str, model: MipModel, options: SolveOptions, warm: np.ndarray | None, isolate: bool
) -> BackendResult:
    """Solve in this process, or in a child process killed if it overruns the deadline.

    Solvers have overrun their own time limits by 40 s on large models on these
    machines; a child process is the only deadline that cannot be ignored.
    """
    if not isolate:
        return get_backend(backend).solve(model, options, warm)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_solve_in_child, args=(child, backend, model, options, warm), daemon=True)
    started = time.perf_counter()
    proc.start()
    child.close()
    try:
        if parent.poll(options.time_limit + KILL_GRACE_SECONDS):
            result: BackendResult = parent.recv()
            return result
        return BackendResult(
            Outcome.NO_SOLUTION, None, None, None, time.perf_counter() - started,
            f"{backend} overran its {options.time_limit:g} s limit and was stopped",
        )
    except EOFError:
        return BackendResult(Outcome.ERROR, None, None, None, time.perf_counter() - started,
                             f"{backend} process died (exit code {proc.exitcode})")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        parent.close()


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    backend: str = DEFAULT_BACKEND,
    warm_start: bool = True,
    isolate: bool = False,
    method: str = "auto",
    explain: bool = False,
) -> Plan:
    """Solve ``problem`` for minimum cost and return a plan checked by the evaluator.

    ``method``: ``mip`` (one model, proven optimal when time allows), ``decompose``
    (parts of coupled SKUs with a Lagrangian bound, for large problems) or ``auto``
    (``mip`` up to :data:`AUTO_MIP_MAX_LINES` order lines). ``explain`` attaches the
    planner's report (:func:`stockplan.solver.explain.explain`), late lines priced on time.
    """
    # The canonical order: the same plan whatever the order of the input's arrays.
    canonical = problem.canonical()
    plan = _solve(canonical, options, backend, warm_start, isolate, method)
    if explain and plan.status != Status.ERROR:
        plan.report = explain_plan(canonical, plan, backend=backend)
    return plan


def _solve(
    problem: Problem,
    options: SolveOptions | None,
    backend: str,
    warm_start: bool,
    isolate: bool,
    method: str,
) -> Plan:
    options = options or SolveOptions()
    if problem.settings.time_limit is not None and options.time_limit == SolveOptions.time_limit:
        options = replace(options, time_limit=problem.settings.time_limit)
    if problem.settings.gap is not None and options.gap == SolveOptions.gap:
        options = replace(options, gap=problem.settings.gap)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    started = time.perf_counter()
    ix = build_index(problem)
    greedy = greedy_plan(ix)
    greedy_eval = evaluate(problem, greedy)
    if method == "auto":
        method = "mip" if ix.n_lines <= AUTO_MIP_MAX_LINES else "decompose"
    if method == "decompose" and greedy_eval.feasible:
        return _solve_decomposed(problem, ix, greedy, greedy_eval, options, backend, started)
    return _solve_monolithic(problem, ix, greedy, greedy_eval, options, backend, warm_start, isolate, started)


def _solve_decomposed(
    problem: Problem,
    ix: ProblemIndex,
    greedy: Decisions,
    greedy_eval: Evaluation,
    options: SolveOptions,
    backend: str,
    started: float,
) -> Plan:
    build_seconds = time.perf_counter() - started
    remaining = max(0.5, options.time_limit - build_seconds)
    workers = options.workers or os.cpu_count() or 1
    result = solve_decomposed(problem, ix, greedy, replace(options, time_limit=remaining), backend, workers,
                              incumbent_eval=greedy_eval)
    # Every plan solve_decomposed keeps was checked by the evaluator; this is that verdict.
    ev = result.evaluation
    if not ev.feasible:  # pragma: no cover - only evaluated, feasible plans are kept
        raise RuntimeError("decomposition returned an infeasible plan")
    gap = relative_gap(ev.objective, result.bound)
    out_of_time = time.perf_counter() - started >= options.time_limit * 0.95
    status = Status.OPTIMAL if gap is not None and gap <= OPTIMAL_GAP else (
        Status.TIME_LIMIT if out_of_time else Status.FEASIBLE)
    return Plan(
        **result.plan.model_dump(),
        status=status,
        **_verdict(problem, ev),
        bound=result.bound,
        gap=gap,
        solve_seconds=time.perf_counter() - started,
        build_seconds=build_seconds,
        backend=backend,
        method="decompose",
        message=f"{result.parts} parts, {result.rounds} rounds",
    )


def _solve_monolithic(
    problem: Problem,
    ix: ProblemIndex,
    greedy: Decisions,
    greedy_eval: Evaluation,
    options: SolveOptions,
    backend: str,
    warm_start: bool,
    isolate: bool,
    started: float,
) -> Plan:
    # CP-SAT takes integer columns only; the flows are integral at every vertex anyway.
    model, mapping = build_model(ix, all_integer="cpsat" in backend)
    warm = encode_plan(ix, model, mapping, greedy) if warm_start and greedy_eval.feasible else None
    build_seconds = time.perf_counter() - started

    remaining = max(0.1, options.time_limit - build_seconds)
    result = run_backend(backend, model, replace(options, time_limit=remaining), warm, isolate)
    candidates: list[tuple[Decisions, Evaluation]] = []
    notes = [result.message] if result.message and result.outcome != Outcome.OPTIMAL else []
    solution = integral_flows(model, result.x, options) if result.x is not None else None
    if result.x is not None and solution is None:
        notes.append("the solver's flows could not be made whole units")
    if solution is not None:
        decisions = decode_plan(ix, model, mapping, solution)
        ev = evaluate(problem, decisions)
        if ev.feasible:
            candidates.append((decisions, ev))
        else:
            notes.append("solver plan rejected by the evaluator: " + "; ".join(v.message for v in ev.violations[:3]))
    if greedy_eval.feasible:
        candidates.append((greedy, greedy_eval))
    seconds = time.perf_counter() - started
    if not candidates:
        return Plan(status=Status.ERROR, cost=0.0, costs=Costs(), backend=backend, solve_seconds=seconds,
                    build_seconds=build_seconds, message="; ".join(notes) or "no feasible plan")
    decisions, ev = candidates[0]
    for other in candidates[1:]:
        if other[1].better_than(ev):
            decisions, ev = other
    if decisions is greedy and len(candidates) > 1:
        notes.append("the greedy plan was better than the solver's")
    objective = ev.objective
    bound = result.bound
    if bound is not None and bound > objective:
        bound = objective  # a bound above an evaluated plan's objective is numerical noise
    gap = relative_gap(objective, bound)
    status = _status(result.outcome, gap)
    if result.x is None:
        notes.append("returned the greedy plan")
    return Plan(
        **decisions.model_dump(),
        status=status,
        **_verdict(problem, ev),
        bound=bound,
        gap=gap,
        solve_seconds=seconds,
        build_seconds=build_seconds,
        backend=backend,
        method="mip",
        message="; ".join(notes),
    )


def _verdict(problem: Problem, ev: Evaluation) -> dict[str, Any]:
    """The evaluator's numbers a plan reports: cost, its parts, the objective, policy notes."""
    return {
        "cost": ev.cost,
        "costs": ev.costs,
        "objective": ev.objective,
        "promise_slip": ev.promise_slip,
        "policy": str(problem.settings.policy),
        "policy_violations": [PolicyNote(rule=v.rule, message=v.message, entities=v.entities)
                              for v in ev.policy_violations],
    }


def _status(outcome: Outcome, gap: float | None) -> Status:
    if outcome in (Outcome.TIME_LIMIT, Outcome.NO_SOLUTION):
        return Status.TIME_LIMIT
    if outcome == Outcome.OPTIMAL and gap is not None and gap <= OPTIMAL_GAP:
        return Status.OPTIMAL
    return Status.FEASIBLE
