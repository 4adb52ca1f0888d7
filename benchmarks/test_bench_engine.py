"""Benchmarks of the engine: model build, greedy baseline, and full solves per backend.

By default (``addopts = --benchmark-disable``) every body runs once, as a smoke
test of the benchmarked paths; ``--benchmark-enable`` times them::

    python -m pytest benchmarks/test_bench_engine.py --benchmark-enable
    python -m pytest benchmarks/test_bench_engine.py --benchmark-enable --run-slow \\
        --benchmark-save=engine

Speed is reported (``extra_info`` and the timing table), never asserted: the
machines are shared and noisy. What is asserted is correctness: every plan is
feasible by the independent evaluator, and no solve is worse than the greedy
plan it starts from.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from benchmarks.registry import HEAVY, problem
from stockplan.models.plan import Decisions, Plan, Status
from stockplan.models.problem import Problem
from stockplan.solver.backends import BACKENDS, SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.solve import solve

#: Time limit of a solve when timing (``--benchmark-enable``) and in the smoke run.
SOLVE_TIME_LIMIT = 20.0
SMOKE_TIME_LIMIT = 3.0
SOLVE_GAP = 0.01
COST_TOL = 1e-6

BUILD_INSTANCES = ("small-100", "small-300", "small", "medium")
GREEDY_INSTANCES = ("tiny", "small-100", "small-300", "small", "medium")
#: Instances each backend is solved on. A monolithic MIP is slow: only HiGHS
#: (native) gets the larger ones; every other backend gets ``DEFAULT_SOLVE``.
SOLVE_INSTANCES: dict[str, tuple[str, ...]] = {
    "highs": ("tiny", "small-100", "small-300", "small", "medium"),
}
DEFAULT_SOLVE = ("tiny", "small-100")


def _cases(names: tuple[str, ...]) -> list[Any]:
    return [pytest.param(n, id=n, marks=[pytest.mark.slow] if n in HEAVY else []) for n in names]


def _solve_cases() -> list[Any]:
    cases = []
    for backend in BACKENDS:
        for name in SOLVE_INSTANCES.get(backend, DEFAULT_SOLVE):
            marks = [pytest.mark.slow] if name in HEAVY else []
            cases.append(pytest.param(backend, name, id=f"{backend}-{name}", marks=marks))
    return cases


@functools.cache
def greedy(name: str) -> tuple[Decisions, Evaluation]:
    """The greedy plan of instance ``name`` and its evaluation (cached)."""
    p = problem(name)
    plan = greedy_plan(build_index(p))
    return plan, evaluate(p, plan)


@pytest.fixture
def solve_time_limit(request: pytest.FixtureRequest, benchmark: Any) -> float:
    given: float | None = request.config.getoption("--solve-time-limit")
    if given is not None:
        return given
    return SMOKE_TIME_LIMIT if benchmark.disabled else SOLVE_TIME_LIMIT


# --------------------------------------------------------------------------- build


@pytest.mark.benchmark(group="build")
@pytest.mark.parametrize("instance", _cases(BUILD_INSTANCES))
def test_build_model(benchmark: Any, instance: str) -> None:
    """Index the problem and build the MIP arrays (no solver involved)."""
    p = problem(instance)

    def build() -> Any:
        return build_model(build_index(p))

    model, _ = benchmark(build)
    assert model.num_cols > 0
    assert model.num_rows > 0
    assert model.matrix.shape == (model.num_rows, model.num_cols)
    benchmark.extra_info.update(
        instance=instance,
        orders=len(p.orders),
        columns=model.num_cols,
        rows=model.num_rows,
        integers=model.num_integer,
        nonzeros=int(model.matrix.nnz),
    )


# --------------------------------------------------------------------------- greedy


@pytest.mark.benchmark(group="greedy")
@pytest.mark.parametrize("instance", _cases(GREEDY_INSTANCES))
def test_greedy(benchmark: Any, instance: str) -> None:
    """The greedy baseline on a prebuilt index (the index is timed in test_build_model)."""
    p = problem(instance)
    ix = build_index(p)
    plan = benchmark(greedy_plan, ix)
    ev = evaluate(p, plan)
    assert ev.feasible, [v.message for v in ev.violations[:5]]
    assert ev.cost == pytest.approx(greedy(instance)[1].cost)  # deterministic
    benchmark.extra_info.update(
        instance=instance,
        cost=ev.cost,
        shipments=len(plan.shipments),
        purchase_orders=len(plan.purchase_orders),
    )


# --------------------------------------------------------------------------- solve


@pytest.mark.parametrize(("backend", "instance"), _solve_cases())
def test_solve(benchmark: Any, solve_time_limit: float, backend: str, instance: str) -> None:
    """The whole pipeline (build, greedy warm start, backend, evaluator) under a time limit."""
    p: Problem = problem(instance)
    _, greedy_ev = greedy(instance)
    assert greedy_ev.feasible
    greedy_cost = greedy_ev.cost
    options = SolveOptions(time_limit=solve_time_limit, gap=SOLVE_GAP)
    benchmark.group = f"solve {instance}"

    # isolate: a child process killed past the deadline, so an overrunning
    # solver cannot stall the suite (HiGHS overruns on "medium").
    plan: Plan = benchmark.pedantic(
        solve, args=(p, options), kwargs={"backend": backend, "isolate": True}, rounds=1, iterations=1
    )

    improvement = (greedy_cost - plan.cost) / greedy_cost if greedy_cost else 0.0
    benchmark.extra_info.update(
        backend=backend,
        instance=instance,
        time_limit=solve_time_limit,
        status=str(plan.status),
        build_seconds=plan.build_seconds,
        solve_seconds=plan.solve_seconds,
        cost=plan.cost,
        bound=plan.bound,
        gap=plan.gap,
        greedy_cost=greedy_cost,
        improvement_vs_greedy=improvement,
        message=plan.message,
    )

    assert plan.status != Status.ERROR, plan.message
    assert plan.backend == backend
    ev = evaluate(p, plan)
    assert ev.feasible, [v.message for v in ev.violations[:5]]
    assert plan.cost == pytest.approx(ev.cost, rel=1e-9, abs=COST_TOL)
    assert plan.cost <= greedy_cost + COST_TOL, "the solver starts from the greedy plan"
    # The backend's bound as proven (nothing clamps it), and model and evaluator agree on the plan.
    assert plan.warnings == [], plan.warnings
    if plan.bound is not None:
        assert plan.bound <= plan.objective + COST_TOL

    # Honest outcome: a plan no better than the greedy one is either proven
    # within the requested gap or comes with the reason (time limit, overrun...).
    no_better = plan.cost >= greedy_cost - COST_TOL
    proven = plan.gap is not None and plan.gap <= SOLVE_GAP
    assert not no_better or proven or plan.message, "greedy plan returned without a reason"
