"""The extra cost of a late line on time: exact re-solves, checked by the evaluator, and their limits."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stockplan.models.plan import Decisions, PurchaseOrder, Shipment
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from stockplan.solver.explain import explain
from stockplan.solver.pricing import price_on_time
from stockplan.solver.solve import solve
from tests.conftest import example


def urgent_problem(**settings: Any) -> dict[str, Any]:
    """4 on hand, two orders of 4 due now. The primary (2.0) takes a period, the urgent clause (10.0) none.

    Optimal: SO-A (backorder 10.0 a period) takes the stock, SO-B (1.0) waits one period for the
    primary: 4 x 2.0 + 4 x 1.0 = 12. SO-B on time: the urgent clause, 4 x 10.0 = 40 (giving SO-B
    the stock instead would cost 8 + 40 = 48), so 28 more.
    """
    return {
        "horizon": {"start": "2027-01-04", "periods": 4, "period_days": 7},
        "items": [{"sku": "A", "lost_sale_cost": 50.0, "backorder_cost": 1.0}],
        "locations": [{"id": "WH"}],
        "stock": [{"sku": "A", "location": "WH", "on_hand": 4}],
        "orders": [
            {"id": "SO-A", "customer": "a", "due": "2027-01-04",
             "lines": [{"sku": "A", "quantity": 4, "backorder_cost": 10.0}]},
            {"id": "SO-B", "customer": "b", "due": "2027-01-04", "lines": [{"sku": "A", "quantity": 4}]},
        ],
        "suppliers": [{"id": "S"}],
        "agreements": [
            {"id": "PRIMARY", "supplier": "S", "sku": "A", "role": "primary", "location": "WH",
             "unit_cost": 2.0, "lead_time_days": 7},
            {"id": "URGENT", "supplier": "S", "sku": "A", "role": "alternate", "location": "WH",
             "unit_cost": 10.0, "lead_time_days": 0},
        ],
        "settings": settings,
    }


def late_line(plan: Any) -> tuple[str, int]:
    (line,) = [ln for ln in plan.report.lines if ln.status != "on_time"]
    return line.order, line.line


def test_extra_cost_of_a_line_on_time_is_exact() -> None:
    problem = load_problem(urgent_problem())
    plan = solve(problem, explain=True)
    assert plan.cost == pytest.approx(12.0)
    key = late_line(plan)
    price = price_on_time(problem, plan, [key])[key]
    assert price.status == "exact"
    assert price.extra_cost == pytest.approx(28.0)
    assert price.on_time_cost == pytest.approx(40.0)
    # The on-time plan is a whole plan: feasible, with that line delivered in full by its due period.
    assert price.plan is not None
    ev = evaluate(problem, price.plan)
    assert ev.feasible and ev.cost == pytest.approx(40.0)
    assert sum(s.quantity for s in price.plan.shipments if (s.order, s.line) == key and s.period == 0) == 4
    # The report carries the same price.
    (line,) = [ln for ln in plan.report.lines if (ln.order, ln.line) == key]
    assert line.extra_cost == pytest.approx(28.0) and line.pricing == "exact"


def test_a_line_no_plan_can_deliver_on_time_is_impossible() -> None:
    data = urgent_problem()
    data["agreements"].pop()  # no urgent clause: only the 4 on hand can arrive in period 0 ...
    data["orders"][1]["lines"][0]["quantity"] = 5  # ... and SO-B wants 5
    problem = load_problem(data)
    plan = solve(problem, explain=True)
    key = late_line(plan)
    assert price_on_time(problem, plan, [key])[key].status == "impossible"
    (line,) = [ln for ln in plan.report.lines if (ln.order, ln.line) == key]
    assert line.pricing == "impossible" and line.extra_cost is None
    assert line.reason  # and it still says why it is late


def test_ship_complete_order_is_priced_whole() -> None:
    data = urgent_problem()
    data["orders"][1]["ship_complete"] = True
    data["orders"][1]["lines"].append({"sku": "A", "quantity": 1})
    problem = load_problem(data)
    plan = solve(problem, explain=True)
    late = [ln for ln in plan.report.lines if ln.order == "SO-B"]
    assert late and all(ln.pricing == "exact" for ln in late)
    # SO-B whole now: 5 urgent units at 10.0 = 50 (the stock for SO-B instead: 10 + 8 + 40 = 58).
    assert all(ln.on_time_cost == pytest.approx(50.0) for ln in late)


def test_under_a_policy_the_price_says_when_it_breaks_it() -> None:
    plan = solve(example("three-customers"), explain=True)  # fair share: 3, 2, 2
    assert plan.report is not None
    late = [ln for ln in plan.report.lines if ln.status != "on_time"]
    assert {ln.order for ln in late} == {"SO-1", "SO-2", "SO-3"}
    # Any one of them whole now breaks fair share, and costs nothing more.
    for ln in late:
        assert ln.pricing == "exact, breaks fair_share"
        assert ln.extra_cost == pytest.approx(0.0)


def test_max_priced_lines_bounds_the_re_solves() -> None:
    data = urgent_problem(max_priced_lines=1)
    data["orders"].append(copy.deepcopy(data["orders"][1]) | {"id": "SO-C", "priority": 4})
    problem = load_problem(data)
    plan = solve(problem)
    report = explain(problem, plan)
    late = {ln.order: ln for ln in report.lines if ln.status != "on_time"}
    assert len(late) == 2
    priced = [ln for ln in late.values() if ln.pricing != "not_priced"]
    assert len(priced) == 1 and priced[0].extra_cost is not None
    # The higher-priority order is priced first.
    assert priced[0].priority == min(ln.priority for ln in late.values())


def test_against_a_plan_that_is_not_optimal_the_price_is_never_negative() -> None:
    """A poor plan lets SO-A wait a period and buys SO-B's units urgently (cost 8 + 40 + 10 = 58): SO-A on
    time is cheaper than the plan itself. The price is taken against the SKU re-solved (12), where SO-A is
    on time already: 0 more, exact, where subtracting the plan would say "-46"."""
    problem = load_problem(urgent_problem())
    poor = Decisions(
        shipments=[Shipment(order="SO-A", line=0, location="WH", period=1, quantity=4),
                   Shipment(order="SO-B", line=0, location="WH", period=0, quantity=4)],
        purchase_orders=[PurchaseOrder(agreement="URGENT", period=1, quantity=4)],
    )
    current = evaluate(problem, poor)
    assert current.feasible and current.cost > 12.0
    price = price_on_time(problem, poor, [("SO-A", 0)], current=current)[("SO-A", 0)]
    assert price.status == "exact" and price.extra_cost == pytest.approx(0.0)
    assert price.on_time_cost is not None and price.on_time_cost < current.objective
