"""One deadline per solve (issue 11): T + max(2 s, 5 % of T) whatever the method, report and pricing included.

Wall-clock assertions are the point here: they test the promise (T plus its
grace), not speed. The problem is the small benchmark family (1,000 orders).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pytest

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver import pricing, progress
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import MIN_FLOW_LP_SECONDS, encode_plan, integral_flows
from stockplan.solver.evaluator import evaluate
from stockplan.solver.explain import explain, lines_to_price
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.pricing import price_on_time
from stockplan.solver.report import plan_report
from stockplan.solver.solve import deadline_grace, explain_reserve, solve
from tests.conftest import example

# Past its budget, pricing finishes the evaluation of the line it was pricing.
PRICING_SLACK_SECONDS = 0.5


@pytest.fixture(scope="session")
def small_problem(small_problem_data: dict[str, Any]) -> Problem:
    """The small benchmark family, seed 0: 1,000 orders (1,737 lines), 100 SKUs, 8 periods."""
    return load_problem(small_problem_data).canonical()


@pytest.fixture(scope="session")
def small_greedy(small_problem: Problem) -> Decisions:
    """The greedy plan of the small problem: about 200 late lines."""
    return greedy_plan(build_index(small_problem))


def test_the_grace_is_two_seconds_or_five_percent() -> None:
    assert deadline_grace(5) == 2.0
    assert deadline_grace(40) == 2.0
    assert deadline_grace(300) == pytest.approx(15.0)


def test_the_explain_reserve_is_a_share_capped_at_30_s_and_fits_the_report() -> None:
    assert explain_reserve(10, 0.06) == pytest.approx(1.5)
    assert explain_reserve(600, 0.06) == 30.0
    assert explain_reserve(10, 3.0) == 3.0  # the report's own time, when more
    assert explain_reserve(2, 3.0) == 1.0  # never more than half the limit


@pytest.mark.parametrize("method", ["mip", "decompose"])
@pytest.mark.parametrize("time_limit", [5.0, pytest.param(10.0, marks=pytest.mark.slow)])
def test_an_explained_solve_returns_within_the_promise(small_problem: Problem, method: str,
                                                       time_limit: float) -> None:
    started = time.perf_counter()
    plan = solve(small_problem, SolveOptions(time_limit=time_limit), method=method, explain=True)
    wall = time.perf_counter() - started
    assert wall <= time_limit + deadline_grace(time_limit), wall
    assert plan.method == method
    assert evaluate(small_problem, plan).feasible
    report = plan.report
    assert report is not None and report.pricing is not None
    # Pricing had what was left of the same budget, and says what it could not price.
    assert report.pricing.budget_seconds is not None and report.pricing.budget_seconds < time_limit
    assert report.pricing.lines_chosen == 20
    assert report.pricing.lines_priced + report.pricing.not_priced_for_time == 20
    unpriced = [ln for ln in report.lines if ln.pricing == "not_priced"]
    assert len(unpriced) >= report.pricing.not_priced_for_time


def test_pricing_many_late_lines_stops_at_its_budget(small_problem: Problem, small_greedy: Decisions) -> None:
    problem = small_problem.model_copy(
        update={"settings": small_problem.settings.model_copy(update={"max_priced_lines": 200})})
    started = time.perf_counter()
    report = explain(problem, small_greedy, budget=1.0)
    assert report.pricing is not None
    assert report.pricing.seconds <= 1.0 + PRICING_SLACK_SECONDS
    assert time.perf_counter() - started <= 1.0 + PRICING_SLACK_SECONDS + 1.0  # + the report itself
    assert report.pricing.lines_chosen == 200
    assert report.pricing.not_priced_for_time > 100  # a re-solve takes about 0.4 s here
    chosen = {(ln.order, ln.line) for ln in lines_to_price(report, 200)}
    unpriced = [ln for ln in report.lines if (ln.order, ln.line) in chosen and ln.pricing == "not_priced"]
    assert len(unpriced) == report.pricing.not_priced_for_time


def test_a_deadline_already_passed_prices_nothing(small_problem: Problem, small_greedy: Decisions) -> None:
    started = time.perf_counter()
    report = explain(small_problem, small_greedy, deadline=time.perf_counter() - 1.0)
    assert time.perf_counter() - started < 2.0  # the report alone
    assert report.pricing is not None and report.pricing.budget_seconds == 0.0
    assert report.pricing.lines_priced == 0 and report.pricing.not_priced_for_time == 20


def test_the_policy_free_re_solve_shares_the_lines_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = example("three-customers").canonical()  # fair share: every late line breaks it on time
    plan = solve(problem)
    late = [(ln.order, ln.line) for ln in plan_report(problem, plan).lines if ln.status != "on_time"]
    real = pricing._price_line
    deadlines: list[float] = []

    def slow_first_re_solve(*args: Any) -> Any:
        price = real(*args)
        deadline = next(a for a in args if isinstance(a, pricing._Budget)).deadline
        deadlines.append(deadline)
        if len(deadlines) == 1:  # the policy's re-solve used the budget up
            time.sleep(max(0.0, deadline - time.perf_counter()))
        return price

    monkeypatch.setattr(pricing, "_price_line", slow_first_re_solve)
    started = time.perf_counter()
    prices = price_on_time(problem, plan, late, budget=1.0)
    assert time.perf_counter() - started <= 1.0 + PRICING_SLACK_SECONDS
    assert len(deadlines) == 1  # no time was left for the second re-solve
    assert deadlines[0] == pytest.approx(started + 1.0, abs=0.05)
    assert prices[late[0]].status == "unknown"  # impossible under the policy; without it, not known in time
    assert len(prices) == 1


def test_the_flow_lp_gets_its_minimum_when_the_deadline_has_passed(small_problem: Problem,
                                                                     small_greedy: Decisions) -> None:
    ix = build_index(small_problem)
    model, mapping = build_model(ix)
    x = encode_plan(ix, model, mapping, small_greedy)
    assert x is not None
    half = x.copy()
    flows = np.flatnonzero(~model.integrality.astype(bool) & (model.col_upper > x + 1))
    half[flows[0]] += 0.5  # a non-integral flow: the LP must run
    started = time.perf_counter()
    fixed = integral_flows(model, half, SolveOptions(time_limit=100), deadline=time.perf_counter() - 1.0)
    assert time.perf_counter() - started <= MIN_FLOW_LP_SECONDS + 0.5
    assert fixed is not None and model.max_violation_integral(fixed) <= 1e-6


def test_a_solve_reports_its_progress(small_problem: Problem, small_greedy: Decisions) -> None:
    events: list[progress.Progress] = []
    with progress.progress_sink(events.append):
        plan = solve(small_problem, SolveOptions(time_limit=3), method="mip", isolate=True, explain=True)
    phases = [e.phase for e in events]
    assert phases[0] == "greedy" and phases[-1] == "done"
    assert phases.index("mip") < phases.index("pricing") < phases.index("done")
    assert events[0].best_cost == pytest.approx(evaluate(small_problem, small_greedy).objective)
    # HiGHS's own reports, passed on from the isolated solver process: its bounds, at most two a second.
    search = [e for e in events if e.detail.startswith("branch and bound")]
    assert len(search) >= 2
    assert all(e.bound is not None and e.gap is not None for e in search[1:])
    assert all(b.elapsed - a.elapsed >= 0.45 for a, b in itertools.pairwise(search))
    assert events[-1].best_cost == pytest.approx(plan.objective)
    assert events[-1].bound is not None
