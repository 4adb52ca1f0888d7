"""Split-shipment control (issue 14, point 5): shipment fees and a minimum partial shipment, solved.

The rule families of the model are tested one by one in ``test_builder_families``, the
evaluator's checks in ``test_evaluator`` and the greedy plan in ``test_greedy``; here the
solver, both methods, on problems small enough to plan by hand.

The reported case: 40 units of ``A`` due in period 2, 25 on hand, 10 arriving in period 1 and
5 in period 2, holding 0.10 per unit and period. Without a fee the optimum ships 25, 10 and 5
as they come (holding nothing); one shipment of 40 in period 2 holds 25 units for two periods
and 10 for one (6.00). With a fee of 10 per shipment that is the cheaper plan (16.00 against 30.00).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from benchmarks.generator import generate
from stockplan.models.plan import Decisions, Plan, Shipment, Status
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import encode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.indexing import build_index
from stockplan.solver.solve import solve

START = date(2027, 1, 4)
EXACT = SolveOptions(time_limit=30, gap=0.0)
METHODS = ("mip", "decompose")


def day(t: int) -> str:
    return (START + timedelta(days=7 * t)).isoformat()


def forty_units(**settings: Any) -> dict[str, Any]:
    return {
        "horizon": {"start": day(0), "periods": 4, "period_days": 7},
        "items": [{"sku": "A", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 50.0}],
        "locations": [{"id": "WH-1"}],
        "stock": [{"sku": "A", "location": "WH-1", "on_hand": 25}],
        "inbound": [{"sku": "A", "location": "WH-1", "quantity": 10, "arrives": day(1)},
                    {"sku": "A", "location": "WH-1", "quantity": 5, "arrives": day(2)}],
        "orders": [{"id": "SO-1", "customer": "c", "due": day(2), "lines": [{"sku": "A", "quantity": 40}]}],
        "settings": settings,
    }


def parcels(plan: Decisions) -> list[tuple[int, int]]:
    """(period, units) of each shipment, in period order."""
    return sorted((s.period, s.quantity) for s in plan.shipments if s.quantity > 0)


def model_objective(problem: Problem, plan: Decisions) -> float | None:
    """c·x + offset of ``plan`` in the whole problem's model."""
    ix = build_index(problem.canonical())
    model, mapping = build_model(ix)
    x = encode_plan(ix, model, mapping, plan)
    return None if x is None else model.objective(x)


def assert_reconciled(problem: Problem, plan: Plan) -> None:
    """The evaluator accepts the plan, reports what the plan reports, and the model agrees to the cent."""
    assert plan.warnings == [], plan.warnings
    ev = evaluate(problem, plan)
    assert ev.feasible, [v.message for v in ev.violations[:3]]
    assert (plan.cost, plan.shipment_fees, plan.objective) == pytest.approx((ev.cost, ev.shipment_fees, ev.objective))
    objective = model_objective(problem, plan)
    assert objective is not None
    assert objective == pytest.approx(ev.objective, rel=1e-9, abs=1e-9)
    if plan.bound is not None:
        assert plan.bound <= ev.objective + 1e-6 * max(1.0, ev.objective)


@pytest.mark.parametrize("method", METHODS)
def test_split_shipments_are_free_without_a_fee(method: str) -> None:
    problem = load_problem(forty_units())
    plan = solve(problem, EXACT, method=method)
    assert plan.status == Status.OPTIMAL
    assert parcels(plan) == [(0, 25), (1, 10), (2, 5)]
    assert plan.shipment_fees == 0.0 and plan.objective == pytest.approx(plan.cost) == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_a_shipment_fee_ships_the_order_once(method: str) -> None:
    problem = load_problem(forty_units(shipment_cost=10.0))
    plan = solve(problem, EXACT, method=method)
    assert plan.status == Status.OPTIMAL
    assert parcels(plan) == [(2, 40)]
    assert plan.costs.holding == pytest.approx(6.0) and plan.cost == pytest.approx(6.0)  # the fee is no cost part
    assert plan.shipment_fees == pytest.approx(10.0) and plan.objective == pytest.approx(16.0)
    assert plan.bound is not None and plan.bound == pytest.approx(16.0, abs=1e-6)
    assert_reconciled(problem, plan)


def test_a_fee_below_what_the_parcels_save_keeps_them() -> None:
    """A fee of 1, what shipping the 10 units of period 1 on their own saves in holding (10 x 0.10).

    Three parcels cost 3 fees and hold nothing; 25 in period 0 and 15 in period 2, 2 fees and 1.00 held;
    one parcel 1 fee and 6.00 held. The optimum is 3.00, with two or three parcels.
    """
    problem = load_problem(forty_units(shipment_cost=1.0))
    plan = solve(problem, EXACT, method="mip")
    assert plan.objective == pytest.approx(3.0)
    assert len(parcels(plan)) in (2, 3)
    assert_reconciled(problem, plan)


def test_an_orders_own_fee_replaces_the_setting() -> None:
    data = forty_units(shipment_cost=10.0)
    data["orders"][0]["shipment_cost"] = 0.0
    plan = solve(load_problem(data), EXACT, method="mip")
    assert parcels(plan) == [(0, 25), (1, 10), (2, 5)] and plan.shipment_fees == 0.0


def test_min_partial_shipment_refuses_a_too_small_parcel() -> None:
    """Minimum 20: the free optimum's 10 units in period 1 leave the line at 35 of 40; the 5 complete it."""
    problem = load_problem(forty_units(min_partial_shipment=20))
    free = Decisions(shipments=[Shipment(order="SO-1", line=0, location="WH-1", period=t, quantity=q)
                                for t, q in ((0, 25), (1, 10), (2, 5))])
    ev = evaluate(problem, free)
    assert [(v.rule, v.entities["period"]) for v in ev.violations] == [("min_partial_shipment", 1)]
    assert model_objective(problem, free) is None  # the model cannot express it either


@pytest.mark.parametrize("method", METHODS)
def test_the_solvers_plan_keeps_the_minimum_partial_shipment(method: str) -> None:
    """25 in period 0 (a partial of at least 20), then the last 15 (they complete the line): holding 1.00."""
    problem = load_problem(forty_units(min_partial_shipment=20))
    plan = solve(problem, EXACT, method=method)
    assert plan.status == Status.OPTIMAL
    assert parcels(plan) == [(0, 25), (2, 15)]
    assert plan.objective == pytest.approx(1.0)
    assert_reconciled(problem, plan)


def test_a_dropship_completes_the_line_after_a_small_shipment() -> None:
    """6 on hand, a 12-unit line with a minimum of 8, a dropship of at most 6 a period (lead time 0).

    The 6 from stock are too few on their own: they may leave only in a period when the dropship
    has arrived, which completes the line. Both halves are delivered by the due period.
    """
    data = forty_units(min_partial_shipment=8)
    data["items"][0]["holding_cost"] = 0.0
    data["stock"][0]["on_hand"] = 6
    data["inbound"] = []
    data["orders"][0]["lines"][0]["quantity"] = 12
    data["suppliers"] = [{"id": "S"}]
    data["agreements"] = [{"id": "DS", "supplier": "S", "sku": "A", "role": "dropship", "unit_cost": 1.0,
                           "lead_time_days": 0, "capacity_per_period": 6}]
    problem = load_problem(data)
    plan = solve(problem, EXACT, method="mip")
    assert plan.status == Status.OPTIMAL
    assert plan.costs.lost_sales == 0.0 and plan.costs.backorder == 0.0
    shipped = {s.period: s.quantity for s in plan.shipments if s.quantity}
    dropped = {po.period: po.quantity for po in plan.purchase_orders if po.quantity}
    assert sum(shipped.values()) == 6 and sum(dropped.values()) == 6
    assert min(shipped) >= min(dropped)  # the shipment never leaves the line short
    assert_reconciled(problem, plan)


def test_lines_of_an_order_shipped_together_pay_one_fee() -> None:
    """Two lines of one order and one warehouse: with a fee they leave in the same period, in one shipment."""
    data = forty_units(shipment_cost=10.0)
    data["items"].append({"sku": "B", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 50.0})
    data["stock"].append({"sku": "B", "location": "WH-1", "on_hand": 8})
    data["inbound"] = []
    data["orders"][0]["lines"] = [{"sku": "A", "quantity": 20}, {"sku": "B", "quantity": 8}]
    data["orders"][0]["earliest"] = day(0)
    problem = load_problem(data)
    for method in METHODS:
        plan = solve(problem, EXACT, method=method)
        assert {s.period for s in plan.shipments} == {0}, method
        assert plan.shipment_fees == pytest.approx(10.0)
        assert_reconciled(problem, plan)


@pytest.mark.parametrize("method", METHODS)
def test_shipment_fees_reconcile_on_generated_problems(method: str) -> None:
    """Generated problems with fees (some orders with their own) and minimums: model == evaluator, bound below."""
    for seed in (1, 5):
        data = generate("tiny", seed=seed, orders=12, ship_complete_share=0.3, dropship_share=0.5)
        data["settings"].update(shipment_cost=4.0, min_partial_shipment=3)
        for k, order in enumerate(data["orders"]):
            if k % 3 == 0:
                order["shipment_cost"] = 0.5 * k
            if k % 4 == 1:
                order["min_partial_shipment"] = 0
        problem = load_problem(data)
        plan = solve(problem, SolveOptions(time_limit=5, gap=0.0, workers=2), method=method)
        assert plan.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT), plan.message
        assert_reconciled(problem, plan)
