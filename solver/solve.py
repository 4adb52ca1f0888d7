"""Problem in, plan out: build, warm-start from the greedy plan, solve, check, report.

Every plan that leaves here has passed the independent evaluator, and its cost
is the evaluator's. The MIP's objective is used only to compute the gap against
the proven bound.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import replace
from multiprocessing.connection import Connection

import numpy as np

from stockplan.models.plan import Costs, Decisions, Plan, Status
from stockplan.models.problem import Problem
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import decode_plan, encode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.mip import MipModel

DEFAULT_BACKEND = "highs"
# Wall-clock grace beyond the time limit before an isolated solver process is killed.
KILL_GRACE_SECONDS = 5.0
# "optimal" is claimed only for a proven relative gap this small.
OPTIMAL_GAP = 1e-6


def relative_gap(cost: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def integral_flows(model: MipModel, x: np.ndarray, options: SolveOptions) -> np.ndarray | None:
    """A solution whose continuous flows are whole units too.

    With integer columns fixed, the rest is a network flow: a simplex vertex of it
    is integral. Solvers usually return one; when not, this re-solves the LP.
    """
    if model.max_violation_integral(x) <= 1e-6:
        return x
    fixed = np.rint(x)
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    lo[model.integrality] = hi[model.integrality] = fixed[model.integrality]
    lp = replace(model, col_lower=lo, col_upper=hi, integrality=np.zeros_like(model.integrality))
    result = get_backend("highs").solve(lp, replace(options, time_limit=max(options.time_limit, 10.0)))
    if result.x is None or model.max_violation_integral(result.x) > 1e-6:
        return None
    return result.x


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
) -> Plan:
    """Solve ``problem`` for minimum cost and return a plan checked by the evaluator."""
    options = options or SolveOptions()
    if problem.settings.time_limit is not None and options.time_limit == SolveOptions.time_limit:
        options = replace(options, time_limit=problem.settings.time_limit)
    if problem.settings.gap is not None and options.gap == SolveOptions.gap:
        options = replace(options, gap=problem.settings.gap)
    started = time.perf_counter()
    ix = build_index(problem)
    # CP-SAT takes integer columns only; the flows are integral at every vertex anyway.
    model, mapping = build_model(ix, all_integer="cpsat" in backend)
    greedy = greedy_plan(ix)
    greedy_eval = evaluate(problem, greedy)
    warm = encode_plan(ix, model, mapping, greedy) if warm_start and greedy_eval.feasible else None
    build_seconds = time.perf_counter() - started

    remaining = max(0.1, options.time_limit - build_seconds)
    result = run_backend(backend, model, replace(options, time_limit=remaining), warm, isolate)

    candidates: list[tuple[Decisions, float, Costs]] = []
    notes = [result.message] if result.message and result.outcome != Outcome.OPTIMAL else []
    solution = integral_flows(model, result.x, options) if result.x is not None else None
    if result.x is not None and solution is None:
        notes.append("the solver's flows could not be made whole units")
    if solution is not None:
        decisions = decode_plan(ix, model, mapping, solution)
        ev = evaluate(problem, decisions)
        if ev.feasible:
            candidates.append((decisions, ev.cost, ev.costs))
        else:
            notes.append("solver plan rejected by the evaluator: " + "; ".join(v.message for v in ev.violations[:3]))
    if greedy_eval.feasible:
        candidates.append((greedy, greedy_eval.cost, greedy_eval.costs))
    seconds = time.perf_counter() - started
    if not candidates:
        return Plan(status=Status.ERROR, cost=0.0, costs=Costs(), backend=backend, solve_seconds=seconds,
                    build_seconds=build_seconds, message="; ".join(notes) or "no feasible plan")
    decisions, cost, costs = min(candidates, key=lambda c: c[1])
    if decisions is greedy and result.x is not None and cost < candidates[0][1]:
        notes.append("the greedy plan was cheaper than the solver's")
    bound = result.bound
    if bound is not None and bound > cost:
        bound = cost  # a bound above an evaluated plan's cost is numerical noise
    gap = relative_gap(cost, bound)
    status = _status(result.outcome, gap)
    if result.x is None:
        notes.append("returned the greedy plan")
    return Plan(
        **decisions.model_dump(),
        status=status,
        cost=cost,
        costs=costs,
        bound=bound,
        gap=gap,
        solve_seconds=seconds,
        build_seconds=build_seconds,
        backend=backend,
        message="; ".join(notes),
    )


def _status(outcome: Outcome, gap: float | None) -> Status:
    if outcome in (Outcome.TIME_LIMIT, Outcome.NO_SOLUTION):
        return Status.TIME_LIMIT
    if outcome == Outcome.OPTIMAL and gap is not None and gap <= OPTIMAL_GAP:
        return Status.OPTIMAL
    return Status.FEASIBLE
