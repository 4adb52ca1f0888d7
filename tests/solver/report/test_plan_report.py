"""The whole report of bigger plans is consistent with the plan (solver/report/__init__.py)."""

from __future__ import annotations

from datetime import date

import pytest

from stockplan.models.report import LineStatus, PlanReport
from stockplan.models.validation import load_problem
from stockplan.solver.indexing import build_index
from stockplan.solver.report import plan_report
from tests.conftest import example, example_data
from tests.solver.report.builders import greedy_plan_of


def test_mixed_small_report_is_consistent_with_the_plan() -> None:
    prob = example("mixed-small")
    plan = greedy_plan_of(prob)
    rep = plan_report(prob, plan)
    n_lines = sum(len(o["lines"]) for o in example_data("mixed-small")["orders"]
                  if prob.horizon.period_of(date.fromisoformat(o["due"])) < prob.horizon.periods)
    assert len(rep.lines) == rep.kpis.lines_total == n_lines
    assert all((ln.reason is None) == (ln.status == LineStatus.ON_TIME) for ln in rep.lines)
    late = {ln.order for ln in rep.lines if ln.status != LineStatus.ON_TIME}
    assert {n.order for n in rep.notices} == late  # no order carries a promise here
    assert len(rep.purchase_orders) == len(plan.purchase_orders)
    for p in rep.purchase_orders:
        used = sum(x.quantity for x in p.serves) + p.to_forecast + p.to_safety_stock + p.left_in_stock
        assert used + p.beyond_horizon == p.quantity
    assert rep.kpis.fill_rate == pytest.approx(
        sum(ln.delivered for ln in rep.lines) / sum(ln.quantity for ln in rep.lines))
    PlanReport.model_validate_json(rep.model_dump_json())  # round-trips as JSON


def test_generated_problem_reports_every_line_and_purchase_order() -> None:
    from benchmarks.generator import generate

    prob = load_problem(generate("small", 0))
    ix = build_index(prob)
    from stockplan.solver.greedy import greedy_plan

    plan = greedy_plan(ix)
    rep = plan_report(prob, plan, ix)
    assert len(rep.lines) == ix.n_lines
    assert all((ln.reason_code is None) == (ln.status == LineStatus.ON_TIME) for ln in rep.lines)
    for p in rep.purchase_orders:
        used = sum(x.quantity for x in p.serves) + p.to_forecast + p.to_safety_stock + p.left_in_stock
        assert used + p.beyond_horizon == p.quantity
    assert len(rep.orders) + len(rep.orders_outside_horizon) == len(prob.orders)
