"""Property tests: random small problems give plans that pass the evaluator, and backends agree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generator import generate
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import encode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.solve import solve

EXACT = SolveOptions(time_limit=60, gap=0.0)
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

problems = st.builds(
    lambda seed, orders, periods: load_problem(generate("tiny", seed=seed, orders=orders, periods=periods)),
    seed=st.integers(0, 10_000),
    orders=st.integers(1, 12),
    periods=st.integers(2, 6),
)


@SETTINGS
@given(problem=problems)
def test_solved_plan_passes_evaluator_and_beats_greedy(problem) -> None:  # type: ignore[no-untyped-def]
    plan = solve(problem, EXACT)
    ev = evaluate(problem, plan)
    assert ev.feasible, ev.violations[:3]
    assert abs(ev.cost - plan.cost) <= 1e-9 * max(1.0, abs(plan.cost))
    greedy = evaluate(problem, greedy_plan(build_index(problem)))
    assert greedy.feasible, greedy.violations[:3]
    assert plan.cost <= greedy.cost + 1e-6
    # The solver's own plan, not the greedy fallback: nothing went wrong, model and evaluator agree.
    assert plan.warnings == [] and "greedy" not in plan.message, (plan.warnings, plan.message)
    # The bound as the solver proved it (nothing clamps it), under the plan's objective and under the
    # objective of a known feasible plan (the greedy one) independently of which plan was returned.
    tol = 1e-6 * max(1.0, abs(plan.cost))
    assert plan.bound is not None and plan.bound <= plan.objective + tol
    assert plan.bound <= greedy.objective + tol


@SETTINGS
@given(problem=problems)
def test_model_objective_equals_evaluator_cost_for_greedy_plans(problem) -> None:  # type: ignore[no-untyped-def]
    ix = build_index(problem)
    model, mapping = build_model(ix)
    greedy = greedy_plan(ix)
    x = encode_plan(ix, model, mapping, greedy)
    assert x is not None
    assert abs(model.objective(x) - evaluate(problem, greedy).cost) <= 1e-6 * max(1.0, model.objective(x))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems)
def test_backends_agree_on_the_optimum(problem) -> None:  # type: ignore[no-untyped-def]
    costs = {b: solve(problem, EXACT, backend=b).cost for b in ("highs", "ortools-scip", "pulp-cbc")}
    top = max(abs(c) for c in costs.values())
    assert max(costs.values()) - min(costs.values()) <= 1e-6 * max(1.0, top), costs
