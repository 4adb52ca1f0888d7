"""Problem in, plan out: build, warm-start from the greedy plan, solve, check, report.

Every plan that leaves here has passed the independent evaluator, and its cost
is the evaluator's. The MIP's objective is used only to compute the gap against
the proven bound.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from stockplan.models.plan import Costs, Decisions, Plan, PolicyNote, Status
from stockplan.models.problem import Problem
from stockplan.solver import progress
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import DEFAULT_GAP, DEFAULT_TIME_LIMIT, BackendResult, Outcome, SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import decode_plan, encode_plan, integral_flows
from stockplan.solver.decompose import solve_decomposed
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.explain import explain as explain_plan
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import ProblemIndex, build_index
from stockplan.solver.mip import MipModel
from stockplan.solver.processes import die_with_parent
from stockplan.solver.reconcile import (
    bound_warnings,
    decoded_vector,
    objective_warnings,
    plan_objective,
    solution_warnings,
)

DEFAULT_BACKEND = "highs"
METHODS = ("auto", "mip", "decompose")
# method="auto": one monolithic MIP up to this many order lines, the decomposition above.
# Measured in benchmarks/results/auto_threshold.md (python -m benchmarks.auto_threshold, commit 69824ce;
# small family with fewer orders, ~100-700 lines, seeds 0 and 1, 5 s and 20 s, workers=2), cost in % above
# the best any run found, mean over seeds, mip vs decompose: at 5 s decompose is better at every size
# (100 lines: 1.36 vs 0.31; 200: 3.66 vs 2.18; 300: 24.90 vs 7.71; 400: 25.51 vs 0.90; 550: 59.56 vs 3.72;
# 700: 43.62 vs 2.00), so mip is at least as good at both limits at no size: the threshold is below 100.
# Fallback (the smallest size where mip still won at some limit): ~100 lines (problems of 98 and 100 lines),
# where at 20 s mip proves the optimum on both seeds (0.00 vs 0.01) while decompose's bound is 10-19 % off.
# At 300 lines mip also won at 20 s (1.32 vs 2.90) but lost at 200, 400, 550 and 700 (e.g. 400: 6.48 vs 0.00).
# Not measured at the default 60 s limit, where mip catches up: one spot check on mixed-medium (196 lines,
# optimum 5,391.66) gave mip 5,452.27 against decompose 5,544.90 at 60 s (at 10 s: 6,066.33 against 5,625.15).
AUTO_MIP_MAX_LINES = 100
# Wall-clock grace beyond the time limit before an isolated solver process is killed (default).
KILL_GRACE_SECONDS = 5.0
# An explained solve keeps min(15 % of T, 30 s) for the report and pricing: pricing 20
# lines takes about 8 s on 1,000 orders, the report itself 0.06 s there (0.9 s on 10,000).
EXPLAIN_SHARE = 0.15
EXPLAIN_CAP_SECONDS = 30.0
# The report takes 1.3-2.4 times as long as evaluating a plan of the same problem (measured
# on 1,000 and 10,000 orders): the greedy plan's evaluation predicts it.
REPORT_PER_EVALUATION = 2.5
# After the MIP: flows, decoding and evaluating its plan, about two evaluations.
TAIL_PER_EVALUATION = 2.0
TAIL_SECONDS = 0.05
# "optimal" is claimed only for a proven relative gap this small.
OPTIMAL_GAP = 1e-6


def relative_gap(cost: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def _solve_in_child(
    conn: Connection, parent_pid: int, backend: str, model: MipModel, options: SolveOptions,
    warm: np.ndarray | None,
) -> None:
    die_with_parent(parent_pid)
    # The inherited sinks belong to the parent (a terminal, a database row): progress goes
    # back over the pipe, and the parent reports it there.
    progress.drop_sinks()
    try:
        with progress.progress_sink(lambda event: conn.send(event)):
            result = get_backend(backend).solve(model, options, warm)
        conn.send(result)
    except Exception as exc:  # reported to the parent, which falls back to the greedy plan
        conn.send(BackendResult(Outcome.ERROR, None, None, None, 0.0, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_backend(
    backend: str,
    model: MipModel,
    options: SolveOptions,
    warm: np.ndarray | None,
    isolate: bool,
    kill_after: float = KILL_GRACE_SECONDS,
) -> BackendResult:
    """Solve in this process, or in a child process killed ``kill_after`` seconds past its time limit.

    Solvers have overrun their own time limits by 40 s on large models on these
    machines; a child process is the only deadline that cannot be ignored. The
    child's progress reports are passed on to this process's sinks.
    """
    if not isolate:
        return get_backend(backend).solve(model, options, warm)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_solve_in_child, args=(child, os.getpid(), backend, model, options, warm),
                       daemon=True)
    started = time.perf_counter()
    kill_at = started + options.limit + kill_after
    proc.start()
    child.close()
    try:
        while parent.poll(max(0.0, kill_at - time.perf_counter())):
            message = parent.recv()
            if isinstance(message, BackendResult):
                return message
            progress.report(message.phase, message.detail, best_cost=message.best_cost, bound=message.bound,
                            round=message.round)
        return BackendResult(
            Outcome.NO_SOLUTION, None, None, None, time.perf_counter() - started,
            f"{backend} overran its {options.limit:g} s limit and was stopped",
        )
    except EOFError:
        return BackendResult(Outcome.ERROR, None, None, None, time.perf_counter() - started,
                             f"{backend} process died (exit code {proc.exitcode})")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        parent.close()


def effective_options(problem: Problem, options: SolveOptions | None) -> SolveOptions:
    """``options`` with a time limit and gap: each as given, else the problem's setting, else the default.

    A value the caller gave is never replaced by a problem setting (a given 60 s is
    60 s, whatever ``settings.time_limit`` says). Caps on a problem's own settings
    are the door's business (API, batch, CLI), applied before this.
    """
    options = options or SolveOptions()
    time_limit = options.time_limit if options.time_limit is not None else problem.settings.time_limit
    gap = options.gap if options.gap is not None else problem.settings.gap
    return replace(options, time_limit=float(DEFAULT_TIME_LIMIT if time_limit is None else time_limit),
                   gap=float(DEFAULT_GAP if gap is None else gap))


def deadline_grace(time_limit: float) -> float:
    """Seconds a solve may take beyond ``time_limit``: the promise is T + max(2 s, 5 % of T), from every door."""
    return max(2.0, 0.05 * time_limit)


def explain_reserve(time_limit: float, report_seconds: float) -> float:
    """Seconds kept at the end of an explained solve for the report and pricing late lines.

    Parameters
    ----------
    time_limit : float
        The solve's time limit T.
    report_seconds : float
        What the report alone is expected to take.

    Returns
    -------
    float
        ``min(15 % of T, 30 s)``, or the report's expected time when that is more,
        but never over half of T: the plan comes first.
    """
    share = min(EXPLAIN_SHARE * time_limit, EXPLAIN_CAP_SECONDS)
    return max(share, min(0.5 * time_limit, report_seconds))


def resolve_method(method: str, n_lines: int) -> str:
    """``mip`` or ``decompose``: what ``auto`` means for a problem of ``n_lines`` order lines.

    ``auto`` is ``mip`` up to :data:`AUTO_MIP_MAX_LINES` (100) order lines and ``decompose``
    above, as measured in ``benchmarks/results/auto_threshold.md``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method == "auto":
        return "mip" if n_lines <= AUTO_MIP_MAX_LINES else "decompose"
    return method


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

    One deadline, ``options.time_limit`` seconds from the call, covers everything:
    index, greedy plan, model, MIP or decomposition, flows, evaluation and, with
    ``explain``, the report and pricing, which get :func:`explain_reserve` seconds
    at the end plus whatever the solve leaves. Progress goes to
    :mod:`stockplan.solver.progress` (phases greedy, mip or round, pricing, done).

    Parameters
    ----------
    problem : Problem
        The problem; it is solved in its canonical order.
    options : SolveOptions, optional
        Time limit, gap, threads, seed, workers; the problem's settings supply
        the time limit and gap left at their defaults.
    backend : str
        The MIP backend (:data:`stockplan.solver.backends.BACKENDS`).
    warm_start : bool
        Start the MIP from the greedy plan.
    isolate : bool
        Run the single MIP in a child process, killed half the grace
        (:func:`deadline_grace`) past its limit.
    method : str
        ``mip`` (one model, proven optimal when time allows), ``decompose``
        (parts of coupled SKUs with a Lagrangian bound, for large problems) or
        ``auto`` (``mip`` up to :data:`AUTO_MIP_MAX_LINES` order lines).
    explain : bool
        Attach the planner's report (:func:`stockplan.solver.explain.explain`),
        late lines priced on time within the same deadline.

    Returns
    -------
    Plan
        Checked by the evaluator; ``status`` ``error`` when no feasible plan was found.
    """
    started = time.perf_counter()
    progress.start_clock()
    # The canonical order: the same plan whatever the order of the input's arrays.
    canonical = problem.canonical()
    options = effective_options(canonical, options)
    deadline = started + options.limit
    ix = build_index(canonical)
    method = resolve_method(method, ix.n_lines)
    greedy = greedy_plan(ix)
    evaluated = time.perf_counter()
    greedy_eval = evaluate(canonical, greedy)
    eval_seconds = time.perf_counter() - evaluated
    if greedy_eval.feasible:
        progress.report("greedy", "the rule-based plan", best_cost=greedy_eval.objective)
    reserve = explain_reserve(options.limit, REPORT_PER_EVALUATION * eval_seconds) if explain else 0.0
    solve_by = deadline - reserve
    if method == "decompose" and greedy_eval.feasible:
        plan, ev = _solve_decomposed(canonical, ix, greedy, greedy_eval, options, backend, started, solve_by)
    else:
        # Decoding and evaluating the MIP's plan come after it: keep time for them.
        tail = TAIL_PER_EVALUATION * eval_seconds + TAIL_SECONDS
        plan, ev = _solve_monolithic(canonical, ix, greedy, greedy_eval, options, backend, warm_start, isolate,
                                     started, solve_by - tail, solve_by)
    if explain and plan.status != Status.ERROR:
        left = max(0.0, deadline - time.perf_counter())
        progress.report("pricing", f"report, and late lines priced on time in {left:.1f} s")
        plan.report = explain_plan(canonical, plan, backend=backend, current=ev, deadline=deadline)
    progress.report("done", str(plan.status), best_cost=plan.objective, bound=plan.bound)
    return plan


def _solve_decomposed(
    problem: Problem,
    ix: ProblemIndex,
    greedy: Decisions,
    greedy_eval: Evaluation,
    options: SolveOptions,
    backend: str,
    started: float,
    solve_by: float,
) -> tuple[Plan, Evaluation]:
    build_seconds = time.perf_counter() - started
    remaining = max(0.5, solve_by - time.perf_counter())
    workers = options.workers or os.cpu_count() or 1
    result = solve_decomposed(problem, ix, greedy, replace(options, time_limit=remaining), backend, workers,
                              incumbent_eval=greedy_eval)
    # Every plan solve_decomposed keeps was checked by the evaluator; this is that verdict.
    ev = result.evaluation
    if not ev.feasible:  # pragma: no cover - only evaluated, feasible plans are kept
        raise RuntimeError("decomposition returned an infeasible plan")
    # The bound as the parts proved it (never lowered to the plan's objective).
    bound_problems = bound_warnings(result.bound, ev)
    warnings = result.warnings + bound_problems
    gap = None if bound_problems else relative_gap(ev.objective, result.bound)
    out_of_time = time.perf_counter() >= started + 0.95 * (solve_by - started)
    status = Status.OPTIMAL if gap is not None and gap <= OPTIMAL_GAP and not warnings else (
        Status.TIME_LIMIT if out_of_time else Status.FEASIBLE)
    progress.report("round", f"decomposition: {result.parts} parts, {result.rounds} rounds",
                    best_cost=ev.objective, bound=result.bound)
    plan = Plan(
        **result.plan.model_dump(),
        status=status,
        **_verdict(problem, ev),
        bound=result.bound,
        gap=gap,
        solve_seconds=time.perf_counter() - started,
        build_seconds=build_seconds,
        backend=backend,
        method="decompose",
        message=f"{result.parts} parts on {result.where}, {result.rounds} rounds"
        + (f", {result.moves} moves over SKU groups ({result.kept} kept)" if result.moves else "")
        + (f"; {result.lost} part solves lost, late or failed kept the incumbent's decisions" if result.lost
           else ""),
        warnings=warnings,
    )
    return plan, ev


def _whole_problem_progress(backend: str) -> AbstractContextManager[None]:
    """Let the backend report its MIP bounds as the solve's progress (HiGHS can)."""
    if backend != "highs":
        return nullcontext()
    from stockplan.solver.backends.highs import whole_problem_progress

    return whole_problem_progress()


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
    mip_by: float,
    solve_by: float,
) -> tuple[Plan, Evaluation | None]:
    # CP-SAT takes integer columns only; the flows are integral at every vertex anyway.
    model, mapping = build_model(ix, all_integer="cpsat" in backend)
    warm = encode_plan(ix, model, mapping, greedy) if warm_start and greedy_eval.feasible else None
    build_seconds = time.perf_counter() - started

    remaining = max(0.1, mip_by - time.perf_counter())
    progress.report("mip", f"one MIP with {backend}, {remaining:.1f} s")
    # An isolated solver overrunning its limit is stopped within half the promised grace.
    kill_after = 0.5 * deadline_grace(options.limit)
    with _whole_problem_progress(backend):
        result = run_backend(backend, model, replace(options, time_limit=remaining), warm, isolate, kill_after)
    candidates: list[tuple[Decisions, Evaluation]] = []
    notes = [result.message] if result.message and result.outcome != Outcome.OPTIMAL else []
    warnings: list[str] = []
    solution = integral_flows(model, result.x, options, deadline=solve_by) if result.x is not None else None
    if result.x is not None and solution is None:
        notes.append("the solver's flows could not be made whole units")
    if solution is not None:
        decoded = decoded_vector(model, solution)
        decisions = decode_plan(ix, model, mapping, decoded)
        ev = evaluate(problem, decisions)
        if ev.feasible:
            candidates.append((decisions, ev))
            # The model's objective of the decoded plan (its decisions and the columns that follow
            # from them) against the evaluator's; and the solver's own vector against that.
            decoded_objective = plan_objective(ix, model, mapping, decisions)
            warnings += objective_warnings(decoded_objective, ev, "the solver's plan")
            vector_warnings, vector_notes = solution_warnings(model.objective(decoded), decoded_objective)
            warnings += vector_warnings
            notes += vector_notes
        else:
            rejected = "; ".join(v.message for v in ev.violations[:3])
            notes.append("solver plan rejected by the evaluator: " + rejected)
            warnings.append(f"the model accepts the solver's plan but the evaluator rejects it: {rejected}")
    if greedy_eval.feasible:
        candidates.append((greedy, greedy_eval))
    seconds = time.perf_counter() - started
    if not candidates:
        return Plan(status=Status.ERROR, cost=0.0, costs=Costs(), backend=backend, solve_seconds=seconds,
                    build_seconds=build_seconds, message="; ".join(notes) or "no feasible plan",
                    warnings=warnings), None
    decisions, ev = candidates[0]
    for other in candidates[1:]:
        if other[1].better_than(ev):
            decisions, ev = other
    if decisions is greedy:
        if len(candidates) > 1:
            notes.append("the greedy plan was better than the solver's")
        greedy_objective = model.objective(warm) if warm is not None else plan_objective(ix, model, mapping, greedy)
        warnings += objective_warnings(greedy_objective, ev, "the greedy plan")
    if result.outcome == Outcome.INFEASIBLE:
        warnings.append(f"{backend} reports the model infeasible, but the evaluator accepts the greedy plan")
    objective = ev.objective
    # The bound as the solver proved it: never lowered to the plan's objective.
    bound = result.bound
    bound_problems = bound_warnings(bound, ev)
    warnings += bound_problems
    gap = None if bound_problems else relative_gap(objective, bound)
    status = _status(result.outcome, gap)
    if warnings and status == Status.OPTIMAL:  # a proof about a model that disagrees with the evaluator
        status = Status.FEASIBLE
    if result.x is None:
        notes.append("returned the greedy plan")
    progress.report("mip", f"MIP {result.outcome}", best_cost=objective, bound=bound)
    plan = Plan(
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
        warnings=warnings,
    )
    return plan, ev


def greedy_fallback(problem: Problem, backend: str, method: str, explain: bool) -> tuple[Plan | None, float]:
    """The greedy plan as a solve returns it when the solver gives nothing in time.

    For a caller that must answer even if the whole solve is stopped: the CLI
    computes it while the solve runs in a child process.

    Parameters
    ----------
    problem : Problem
        The problem, in canonical order.
    backend, method : str
        As passed to :func:`solve` (they are recorded in the plan).
    explain : bool
        Attach the report, with no line priced (no time was left for it).

    Returns
    -------
    tuple of (Plan or None, float)
        The plan (status ``time_limit``, no bound), or None if the greedy plan is
        infeasible; and the seconds it took.
    """
    started = time.perf_counter()
    ix = build_index(problem)
    greedy = greedy_plan(ix)
    ev = evaluate(problem, greedy)
    if not ev.feasible:
        return None, time.perf_counter() - started
    plan = Plan(**greedy.model_dump(), status=Status.TIME_LIMIT, **_verdict(problem, ev), backend=backend,
                method=resolve_method(method, ix.n_lines), message="returned the greedy plan")
    if explain:
        plan.report = explain_plan(problem, plan, backend=backend, current=ev, budget=0.0)
    return plan, time.perf_counter() - started


def _verdict(problem: Problem, ev: Evaluation) -> dict[str, Any]:
    """The evaluator's numbers a plan reports: cost, its parts, the objective, policy notes."""
    return {
        "cost": ev.cost,
        "costs": ev.costs,
        "objective": ev.objective,
        "promise_slip": ev.promise_slip,
        "shipment_fees": ev.shipment_fees,
        "policy": str(problem.settings.policy),
        "policy_violations": [PolicyNote(rule=v.rule, message=v.message, entities=v.entities)
                              for v in ev.policy_violations],
    }


def _status(outcome: Outcome, gap: float | None) -> Status:
    """What happened to the MIP, as the plan reports it.

    ``error`` and ``infeasible`` say that the backend failed or called the model
    infeasible (the plan is then the greedy plan, if that one is feasible);
    ``time_limit`` that it was stopped by the deadline; ``optimal`` needs the
    solver's proof and a gap (against a bound that does not exceed the plan's
    objective: None otherwise) of at most :data:`OPTIMAL_GAP`.
    """
    if outcome == Outcome.ERROR:
        return Status.ERROR
    if outcome == Outcome.INFEASIBLE:
        return Status.INFEASIBLE
    if outcome in (Outcome.TIME_LIMIT, Outcome.NO_SOLUTION):
        return Status.TIME_LIMIT
    if outcome == Outcome.OPTIMAL and gap is not None and gap <= OPTIMAL_GAP:
        return Status.OPTIMAL
    return Status.FEASIBLE
