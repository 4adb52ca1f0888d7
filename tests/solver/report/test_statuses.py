"""Line and order statuses, promised dates and KPIs (solver/report/statuses.py)."""

from __future__ import annotations

from datetime import date

import pytest

from stockplan.models.plan import Decisions
from stockplan.models.report import LineStatus, PlanReport
from stockplan.solver.report import plan_report
from stockplan.solver.report.statuses import line_status
from tests.conftest import example
from tests.solver.report.builders import line_of, order, problem, report, ship, stock


def test_three_customers_line_status_and_promised_dates(three: PlanReport) -> None:
    got = {ln.order: (ln.status, ln.delivered_by_due, ln.delivered, ln.promised_date, ln.periods_late)
           for ln in three.lines}
    dec21 = date(2026, 12, 21)  # first day of period 2, when the last units go out
    assert got == {
        "SO-1": (LineStatus.BACKORDERED, 3, 4, dec21, 2),
        "SO-2": (LineStatus.BACKORDERED, 2, 4, dec21, 2),
        "SO-3": (LineStatus.BACKORDERED, 2, 4, dec21, 2),
        "SO-4": (LineStatus.ON_TIME, 2, 2, dec21, 0),  # due in period 2 itself
    }
    so1 = line_of(three, "SO-1")
    assert (so1.due, so1.due_period, so1.last_delivery_period, so1.customer) == (date(2026, 12, 7), 0, 2, "alice")
    assert so1.extra_cost is None and so1.on_time_cost is None and so1.pricing is None
    assert three.period_dates[2] == dec21


def test_three_customers_kpis(three: PlanReport) -> None:
    k = three.kpis
    assert (k.orders_total, k.orders_on_time, k.orders_on_time_share) == (4, 1, 0.25)
    assert (k.lines_total, k.lines_on_time, k.lines_backordered, k.lines_lost) == (4, 1, 3, 0)
    assert (k.units_ordered, k.units_delivered, k.units_delivered_by_due, k.units_lost) == (14, 14, 9, 0)
    assert k.fill_rate == 1.0 and k.on_time_fill_rate == pytest.approx(9 / 14)


def test_line_status_rule() -> None:
    import numpy as np

    qty = np.array([4, 4, 4, 4])
    got = line_status(qty, np.array([4, 4, 1, 0]), np.array([4, 1, 1, 0]))
    assert got.tolist() == [0, 1, 2, 3]  # on time, backordered, partially lost, lost


def test_ship_complete_order_is_one_unit() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 5), stock("SKU-B", "WH-1", 5)],
                   orders=[order("SC-1", 0, ("SKU-A", 2), ("SKU-B", 3), ship_complete=True)])
    rep = report(data, Decisions(shipments=[ship("SC-1", 1, 2, line=0), ship("SC-1", 1, 3, line=1)]))
    (o,) = rep.orders
    assert (o.status, o.line_count, o.quantity, o.delivered, o.promised_period) == (
        LineStatus.BACKORDERED, 2, 5, 5, 1)
    (n,) = rep.notices
    assert [x.line for x in n.lines] == [0, 1]


def test_three_customers_solved_plan_is_consistent() -> None:
    from stockplan.solver.solve import solve

    prob = example("three-customers")
    rep = plan_report(prob, solve(prob))
    assert {ln.status for ln in rep.lines} <= {LineStatus.ON_TIME, LineStatus.BACKORDERED}
    assert rep.kpis.units_delivered == 14
    late = {ln.order for ln in rep.lines if ln.status != LineStatus.ON_TIME}
    assert {n.order for n in rep.notices} == late
    assert all(ln.promised_date == rep.period_dates[ln.last_delivery_period] for ln in rep.lines)


@pytest.mark.parametrize("name", ["three-customers", "mixed-small", "mixed-medium"])
def test_lateness_costs_of_the_lines_add_up_to_the_evaluators_backorder_and_lost_sales(name: str) -> None:
    """Each line's money at stake: summed, the evaluator's backorder cost and lost sales (without forecast)."""
    from stockplan.solver.evaluator import evaluate
    from stockplan.solver.solve import SolveOptions, solve

    prob = example(name).model_copy(update={"forecast": []})  # unfilled forecast is lost sales of no line
    plan = solve(prob, SolveOptions(time_limit=10))
    rep = plan_report(prob, plan)
    ev = evaluate(prob, plan)
    at_stake = [ln.lateness_cost for ln in rep.lines]
    assert all(c is not None and c >= 0 for c in at_stake)
    assert sum(c for c in at_stake if c is not None) == pytest.approx(ev.costs.backorder + ev.costs.lost_sales)
    assert all(ln.lateness_cost == 0 for ln in rep.lines if ln.status == LineStatus.ON_TIME)
    assert any(c for c in at_stake), "the example has late lines: some money is at stake"
