"""Tests of the independent plan evaluator, each case small enough to check by hand.

Every problem below starts from :func:`problem`: a horizon of 4 weekly periods
starting on Monday 2026-01-05, so period ``t`` covers the days
``day(t) .. day(t) + 6``.
"""

from __future__ import annotations

import copy
import json
import math
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from stockplan.models.plan import (
    Decisions,
    DropshipLine,
    ForecastFill,
    PurchaseOrder,
    Shipment,
)
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import (
    RULES,
    Evaluation,
    Violation,
    effective_safety_stock,
    evaluate,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
START = date(2026, 1, 5)


def day(period: int, offset: int = 0) -> str:
    """ISO date of the first day of ``period`` (plus ``offset`` days)."""
    return (START + timedelta(days=7 * period + offset)).isoformat()


def problem(**changes: Any) -> dict[str, Any]:
    """The base problem as a dict; keyword arguments replace top-level fields.

    SKU-A and SKU-B, 10 of each on hand at WH-1 and nothing at WH-2; SO-1 wants
    4 SKU-A, due in period 1 (window 0..3). AG-1 buys SKU-A into WH-1 (lead 1
    period, pack 5, MOQ 10, capacity 20); DS-1 dropships SKU-A (lead 0).
    """
    base: dict[str, Any] = {
        "horizon": {"start": START.isoformat(), "periods": 4, "period_days": 7},
        "items": [
            {"sku": "SKU-A", "lost_sale_cost": 10.0},
            {"sku": "SKU-B", "lost_sale_cost": 10.0},
        ],
        "locations": [{"id": "WH-1"}, {"id": "WH-2"}],
        "stock": [
            {"sku": "SKU-A", "location": "WH-1", "on_hand": 10},
            {"sku": "SKU-B", "location": "WH-1", "on_hand": 10},
        ],
        "orders": [
            {
                "id": "SO-1",
                "customer": "alice",
                "due": day(1),
                "lines": [{"sku": "SKU-A", "quantity": 4}],
            }
        ],
        "suppliers": [{"id": "SUP-1"}],
        "agreements": [
            {
                "id": "AG-1",
                "supplier": "SUP-1",
                "sku": "SKU-A",
                "role": "primary",
                "location": "WH-1",
                "unit_cost": 2.0,
                "lead_time_days": 7,
                "moq": 10,
                "pack_size": 5,
                "capacity_per_period": 20,
            },
            {
                "id": "DS-1",
                "supplier": "SUP-1",
                "sku": "SKU-A",
                "role": "dropship",
                "unit_cost": 3.0,
                "lead_time_days": 0,
            },
        ],
    }
    base.update(copy.deepcopy(changes))
    return base


def order(id: str, due: str, *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "customer": "c",
        "due": due,
        "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
        **fields,
    }


def ship(order: str, period: int, quantity: int, location: str = "WH-1", line: int = 0) -> Shipment:
    return Shipment(order=order, line=line, location=location, period=period, quantity=quantity)


def po(
    agreement: str, period: int, quantity: int, lines: list[DropshipLine] | None = None
) -> PurchaseOrder:
    return PurchaseOrder(agreement=agreement, period=period, quantity=quantity, lines=lines)


def drop(order: str, quantity: int, line: int = 0) -> DropshipLine:
    return DropshipLine(order=order, line=line, quantity=quantity)


def rules(evaluation: Evaluation) -> set[str]:
    return {v.rule for v in evaluation.violations}


def load_example(name: str) -> Problem:
    return load_problem(json.loads((EXAMPLES / name).read_text()))


# --------------------------------------------------------------------------- violations
#
# One case per rule code: (problem dict, a plan breaking exactly that rule, the
# corrected plan, which must be feasible).

TWO_LINE_COMPLETE = order("SC-1", day(1), ("SKU-A", 2), ("SKU-B", 2), ship_complete=True)

CASES: dict[str, tuple[dict[str, Any], Decisions, Decisions]] = {
    # WH-2 holds nothing.
    "stock_negative": (
        problem(),
        Decisions(shipments=[ship("SO-1", 1, 4, location="WH-2")]),
        Decisions(shipments=[ship("SO-1", 1, 4, location="WH-1")]),
    ),
    "forecast_overfilled": (
        problem(forecast=[{"sku": "SKU-A", "location": "WH-1", "date": day(0, 3), "quantity": 3}]),
        Decisions(
            forecast_fills=[ForecastFill(sku="SKU-A", location="WH-1", period=0, quantity=4)]
        ),
        Decisions(
            forecast_fills=[ForecastFill(sku="SKU-A", location="WH-1", period=0, quantity=3)]
        ),
    ),
    "line_overdelivered": (
        problem(),
        Decisions(shipments=[ship("SO-1", 1, 3), ship("SO-1", 2, 2)]),
        Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 2, 2)]),
    ),
    # Window 1..2: earliest in period 1, latest in period 2.
    "outside_window": (
        problem(orders=[order("SO-1", day(1), ("SKU-A", 4), earliest=day(1), latest=day(2, 6))]),
        Decisions(shipments=[ship("SO-1", 0, 2), ship("SO-1", 3, 2)]),
        Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 2, 2)]),
    ),
    "ship_from_not_allowed": (
        problem(
            orders=[order("SO-1", day(1), ("SKU-A", 4), ship_cost={"WH-1": 1.0})],
            stock=[
                {"sku": "SKU-A", "location": "WH-1", "on_hand": 10},
                {"sku": "SKU-A", "location": "WH-2", "on_hand": 10},
            ],
        ),
        Decisions(shipments=[ship("SO-1", 1, 4, location="WH-2")]),
        Decisions(shipments=[ship("SO-1", 1, 4, location="WH-1")]),
    ),
    # SO-9 is due in period 5 of a 4-period horizon.
    "order_beyond_horizon": (
        problem(orders=[order("SO-1", day(1), ("SKU-A", 4)), order("SO-9", day(5), ("SKU-A", 1))]),
        Decisions(shipments=[ship("SO-1", 1, 4), ship("SO-9", 3, 1)]),
        Decisions(shipments=[ship("SO-1", 1, 4)]),
    ),
    "ship_complete_dropship": (
        problem(orders=[order("SC-1", day(1), ("SKU-A", 2), ship_complete=True)]),
        Decisions(purchase_orders=[po("DS-1", 1, 2, [drop("SC-1", 2)])]),
        Decisions(shipments=[ship("SC-1", 1, 2)]),
    ),
    "ship_complete_split": (
        problem(orders=[TWO_LINE_COMPLETE]),
        Decisions(shipments=[ship("SC-1", 1, 2, line=0), ship("SC-1", 2, 2, line=1)]),
        # Whole in one period, from two warehouses: allowed.
        Decisions(
            shipments=[ship("SC-1", 1, 2, line=0), ship("SC-1", 1, 2, line=1)],
        ),
    ),
    # 12 is no multiple of the pack size 5.
    "pack_size": (
        problem(),
        Decisions(purchase_orders=[po("AG-1", 0, 12)]),
        Decisions(purchase_orders=[po("AG-1", 0, 15)]),
    ),
    # 5 alone is below the MOQ of 10; two entries of 5 in one period add up to 10.
    "moq": (
        problem(),
        Decisions(purchase_orders=[po("AG-1", 0, 5), po("AG-1", 1, 5)]),
        Decisions(purchase_orders=[po("AG-1", 0, 5), po("AG-1", 0, 5)]),
    ),
    # 15 + 10 in one period exceed the capacity of 20.
    "capacity": (
        problem(),
        Decisions(purchase_orders=[po("AG-1", 0, 15), po("AG-1", 0, 10)]),
        Decisions(purchase_orders=[po("AG-1", 0, 10), po("AG-1", 0, 10)]),
    ),
    # With a smoothing limit of 10, 0, 20, 0 changes by 20 twice; 10, 20, 10, 0 by 10 at most.
    "order_smoothing": (
        problem(agreements=[{**problem()["agreements"][0], "max_change_per_period": 10}, problem()["agreements"][1]]),
        Decisions(purchase_orders=[po("AG-1", 1, 20)]),
        Decisions(purchase_orders=[po("AG-1", 0, 10), po("AG-1", 1, 20), po("AG-1", 2, 10)]),
    ),
    "period_out_of_range": (
        problem(),
        Decisions(shipments=[ship("SO-1", 4, 4)], purchase_orders=[po("AG-1", 7, 10)]),
        Decisions(shipments=[ship("SO-1", 3, 4)], purchase_orders=[po("AG-1", 2, 10)]),
    ),
    "unknown_reference": (
        problem(),
        Decisions(
            shipments=[
                ship("SO-X", 1, 1),
                ship("SO-1", 1, 1, line=1),
                ship("SO-1", 1, 1, location="WH-9"),
            ],
            forecast_fills=[ForecastFill(sku="SKU-Z", location="WH-1", period=0, quantity=0)],
            purchase_orders=[po("AG-X", 0, 10)],
        ),
        Decisions(shipments=[ship("SO-1", 1, 3)]),
    ),
    "dropship_lines_sum": (
        problem(),
        Decisions(purchase_orders=[po("DS-1", 1, 3, [drop("SO-1", 2)])]),
        Decisions(purchase_orders=[po("DS-1", 1, 2, [drop("SO-1", 2)])]),
    ),
    "dropship_missing_lines": (
        problem(),
        Decisions(purchase_orders=[po("DS-1", 1, 2)]),
        Decisions(purchase_orders=[po("DS-1", 1, 2, [drop("SO-1", 2)])]),
    ),
    # DS-1 supplies SKU-A; SO-2 orders SKU-B.
    "dropship_wrong_sku": (
        problem(orders=[order("SO-1", day(1), ("SKU-A", 4)), order("SO-2", day(1), ("SKU-B", 4))]),
        Decisions(purchase_orders=[po("DS-1", 1, 2, [drop("SO-2", 2)])]),
        Decisions(purchase_orders=[po("DS-1", 1, 2, [drop("SO-1", 2)])]),
    ),
    "lines_on_stock_agreement": (
        problem(),
        Decisions(purchase_orders=[po("AG-1", 0, 10, [drop("SO-1", 4)])]),
        Decisions(purchase_orders=[po("AG-1", 0, 10)]),
    ),
    # A minimum partial shipment of 3: 2 units then 2 leave the line at 2 of 4 after the first;
    # 3 then 1 is fine (the 1 completes the line).
    "min_partial_shipment": (
        problem(settings={"min_partial_shipment": 3}),
        Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 2, 2)]),
        Decisions(shipments=[ship("SO-1", 1, 3), ship("SO-1", 2, 1)]),
    ),
    # Pydantic refuses negative quantities; model_construct gets one past it.
    "negative_quantity": (
        problem(),
        Decisions.model_construct(
            shipments=[
                Shipment.model_construct(
                    order="SO-1", line=0, location="WH-1", period=1, quantity=-2
                )
            ],
            forecast_fills=[],
            purchase_orders=[],
        ),
        Decisions(shipments=[ship("SO-1", 1, 2)]),
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_violation_is_reported_and_corrected_plan_is_feasible(rule: str) -> None:
    data, bad, good = CASES[rule]
    p = load_problem(data)

    found = evaluate(p, bad)
    assert not found.feasible
    assert rules(found) == {rule}, [v.message for v in found.violations]
    for v in found.violations:
        assert v.message and v.entities

    fixed = evaluate(p, good)
    assert fixed.feasible, [v.message for v in fixed.violations]
    assert fixed.violations == []


def test_every_rule_code_has_a_case() -> None:
    assert set(CASES) == set(RULES)


def test_messages_name_the_entities() -> None:
    p = load_problem(CASES["stock_negative"][0])
    (short,) = [
        v
        for v in evaluate(p, Decisions(shipments=[ship("SO-1", 1, 3, location="WH-2")])).violations
        if v.entities.get("period") == 1
    ]
    assert short == Violation(
        "stock_negative",
        "SKU-A at WH-2 is short by 3 units in period 1",
        {"sku": "SKU-A", "location": "WH-2", "period": 1},
    )


def test_negative_stock_is_reported_in_every_short_period() -> None:
    p = load_problem(problem())
    found = evaluate(p, Decisions(shipments=[ship("SO-1", 2, 4, location="WH-2")]))
    assert [v.entities["period"] for v in found.violations] == [2, 3]


def test_ship_complete_partly_delivered_in_one_period_is_a_split() -> None:
    p = load_problem(problem(orders=[TWO_LINE_COMPLETE]))
    found = evaluate(p, Decisions(shipments=[ship("SC-1", 1, 2, line=0)]))
    assert rules(found) == {"ship_complete_split"}
    assert "line 1 gets 0 of 2" in found.violations[0].message


def test_ship_complete_order_may_get_nothing() -> None:
    p = load_problem(problem(orders=[TWO_LINE_COMPLETE]))
    assert evaluate(p, Decisions()).feasible


def test_fill_of_a_period_without_forecast_is_an_overfill() -> None:
    p = load_problem(
        problem(forecast=[{"sku": "SKU-A", "location": "WH-1", "date": day(0), "quantity": 3}])
    )
    fill = ForecastFill(sku="SKU-A", location="WH-1", period=1, quantity=1)
    found = evaluate(p, Decisions(forecast_fills=[fill]))
    assert rules(found) == {"forecast_overfilled"}
    assert "there is no forecast" in found.violations[0].message


def test_forecast_entries_of_one_period_add_up() -> None:
    p = load_problem(
        problem(
            forecast=[
                {"sku": "SKU-A", "location": "WH-1", "date": day(1), "quantity": 2},
                {"sku": "SKU-A", "location": "WH-1", "date": day(1, 5), "quantity": 3},
            ]
        )
    )
    fills = [ForecastFill(sku="SKU-A", location="WH-1", period=1, quantity=q) for q in (4, 1)]
    assert evaluate(p, Decisions(forecast_fills=fills)).feasible


def test_earliest_beyond_the_horizon_takes_nothing() -> None:
    p = load_problem(problem(orders=[order("SO-1", day(1), ("SKU-A", 4), earliest=day(4))]))
    found = evaluate(p, Decisions(shipments=[ship("SO-1", 3, 4)]))
    assert rules(found) == {"outside_window"}
    assert evaluate(p, Decisions()).feasible


def test_dropship_arrives_after_its_lead_time() -> None:
    # DS-2 takes 8 days = 2 periods: placed in period 0 it delivers in period 2,
    # after SO-1's last period 1.
    data = problem(orders=[order("SO-1", day(0), ("SKU-A", 4), latest=day(1))])
    data["agreements"].append(
        {
            "id": "DS-2",
            "supplier": "SUP-1",
            "sku": "SKU-A",
            "role": "dropship",
            "unit_cost": 1.0,
            "lead_time_days": 8,
        }
    )
    p = load_problem(data)
    late = evaluate(p, Decisions(purchase_orders=[po("DS-2", 0, 4, [drop("SO-1", 4)])]))
    assert rules(late) == {"outside_window"}
    assert late.violations[0].entities["period"] == 2
    # Delivered after ℓ, so it counts for nothing: all 4 units are still lost (and paid for).
    assert late.costs.lost_sales == pytest.approx(40.0)
    assert late.costs.purchase == pytest.approx(4.0)
    on_time = evaluate(p, Decisions(purchase_orders=[po("DS-1", 1, 4, [drop("SO-1", 4)])]))
    assert on_time.feasible


def test_dropship_to_an_order_with_ship_cost_is_allowed_and_pays_no_shipping() -> None:
    p = load_problem(problem(orders=[order("SO-1", day(1), ("SKU-A", 4), ship_cost={"WH-2": 5.0})]))
    found = evaluate(p, Decisions(purchase_orders=[po("DS-1", 1, 4, [drop("SO-1", 4)])]))
    assert found.feasible
    assert found.costs.shipping == 0.0
    assert found.costs.purchase == pytest.approx(12.0)


def test_a_bad_plan_never_raises() -> None:
    p = load_problem(problem())
    # A negative line index must not wrap around to the last line.
    messy = Decisions.model_construct(
        shipments=[
            Shipment.model_construct(order="SO-1", line=-1, location="WH-1", period=-1, quantity=3),
            Shipment.model_construct(
                order="SO-1", line=0, location="WH-1", period=0, quantity=10**30
            ),
        ],
        forecast_fills=[
            ForecastFill.model_construct(sku="SKU-A", location="WH-9", period=99, quantity=-1)
        ],
        purchase_orders=[
            PurchaseOrder.model_construct(
                agreement="DS-1", period=0, quantity=2, lines=[drop("SO-404", 2), drop("SO-1", 9)]
            )
        ],
    )
    found = evaluate(p, messy)
    assert not found.feasible
    assert {
        "unknown_reference",
        "period_out_of_range",
        "negative_quantity",
        "stock_negative",
        "line_overdelivered",
    } <= rules(found)
    assert math.isfinite(found.cost)


def test_min_partial_shipment_counts_what_the_line_has_by_that_period() -> None:
    """Entries of one line, warehouse and period add up; a dropship arriving that period completes the line."""
    p = load_problem(problem(settings={"min_partial_shipment": 3}))
    assert evaluate(p, Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 1, 2)])).feasible
    completed = evaluate(p, Decisions(shipments=[ship("SO-1", 1, 2)],
                                      purchase_orders=[po("DS-1", 1, 2, [drop("SO-1", 2)])]))
    assert completed.feasible, completed.violations
    # The dropship one period later: the 2 units leave the line short in period 1.
    late = evaluate(p, Decisions(shipments=[ship("SO-1", 1, 2)], purchase_orders=[po("DS-1", 2, 2, [drop("SO-1", 2)])]))
    assert rules(late) == {"min_partial_shipment"}
    (v,) = late.violations
    assert v.entities == {"order": "SO-1", "line": 0, "location": "WH-1", "period": 1}
    # A dropship is no shipment: it may bring fewer units than the minimum.
    assert evaluate(p, Decisions(shipments=[ship("SO-1", 1, 3)],
                                 purchase_orders=[po("DS-1", 2, 1, [drop("SO-1", 1)])])).feasible


def test_min_partial_shipment_of_an_order_replaces_the_setting() -> None:
    """The order's own minimum wins, 0 included (no minimum for it)."""
    plan = Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 2, 2)])
    free = problem(settings={"min_partial_shipment": 3})
    free["orders"][0]["min_partial_shipment"] = 0
    assert evaluate(load_problem(free), plan).feasible
    strict = problem()
    strict["orders"][0]["min_partial_shipment"] = 3
    assert rules(evaluate(load_problem(strict), plan)) == {"min_partial_shipment"}


# --------------------------------------------------------------------------- costs


def test_backorder_runs_from_due_to_last_period_and_lost_sales_at_last() -> None:
    # SO-1: 4 units due in period 1, latest in period 2 (ℓ = 2), backorder 1.0/unit/period.
    # One unit early in period 0 and one in period 2: delivered(1) = 1, delivered(2) = 2.
    # backorder = 1.0 × ((4-1) + (4-2)) = 5; lost = 10 × (4-2) = 20.
    data = problem(orders=[order("SO-1", day(1), ("SKU-A", 4), latest=day(2, 3))])
    data["items"][0]["backorder_cost"] = 1.0
    p = load_problem(data)
    found = evaluate(p, Decisions(shipments=[ship("SO-1", 0, 1), ship("SO-1", 2, 1)]))
    assert found.feasible
    assert found.costs.backorder == pytest.approx(5.0)
    assert found.costs.lost_sales == pytest.approx(20.0)
    assert found.cost == pytest.approx(25.0)


def test_line_backorder_cost_overrides_the_item_and_runs_to_the_horizon_end() -> None:
    # No latest: ℓ = T-1 = 3; due in period 1, so periods 1, 2, 3 are late.
    # Undelivered: backorder = 2.5 × 4 × 3 = 30, lost = 10 × 4 = 40.
    data = problem()
    data["items"][0]["backorder_cost"] = 1.0
    data["orders"][0]["lines"][0]["backorder_cost"] = 2.5
    found = evaluate(load_problem(data), Decisions())
    assert found.costs.backorder == pytest.approx(30.0)
    assert found.costs.lost_sales == pytest.approx(40.0)


def test_a_line_delivered_in_full_by_due_costs_nothing() -> None:
    data = problem()
    data["items"][0]["backorder_cost"] = 1.0
    found = evaluate(load_problem(data), Decisions(shipments=[ship("SO-1", 1, 4)]))
    assert found.costs.backorder == 0.0
    assert found.costs.lost_sales == 0.0


def test_due_before_start_is_period_zero() -> None:
    # d = 0, ℓ = 3: four late periods of 4 units at 1.0.
    data = problem(orders=[order("SO-1", day(-3), ("SKU-A", 4))])
    data["items"][0]["backorder_cost"] = 1.0
    assert evaluate(load_problem(data), Decisions()).costs.backorder == pytest.approx(16.0)


def test_order_beyond_horizon_costs_nothing() -> None:
    data = problem(orders=[order("SO-9", day(4), ("SKU-A", 4))])
    data["items"][0]["backorder_cost"] = 1.0
    found = evaluate(load_problem(data), Decisions())
    assert found.feasible
    assert found.cost == 0.0


def test_forecast_lost_sales() -> None:
    # Forecast 5 in period 1, 3 filled: 2 lost at 10. The period-5 entry lies beyond the horizon.
    p = load_problem(
        problem(
            orders=[],
            forecast=[
                {"sku": "SKU-A", "location": "WH-1", "date": day(1), "quantity": 5},
                {"sku": "SKU-A", "location": "WH-1", "date": day(5), "quantity": 7},
            ],
        )
    )
    fill = ForecastFill(sku="SKU-A", location="WH-1", period=1, quantity=3)
    found = evaluate(p, Decisions(forecast_fills=[fill]))
    assert found.feasible
    assert found.costs.lost_sales == pytest.approx(20.0)


def test_price_breaks_are_all_units_on_the_summed_quantity() -> None:
    # unit 2.0; from 10 units 1.5; from 20 units 1.0.
    # period 0: 6 + 6 = 12 units → 12 × 1.5 = 18
    # period 1: 20 units → 20 × 1.0 = 20
    # period 2: 5 units → 5 × 2.0 = 10
    data = problem(orders=[])
    data["agreements"][0].update(
        moq=0,
        pack_size=1,
        capacity_per_period=None,
        price_breaks=[{"min_qty": 20, "unit_cost": 1.0}, {"min_qty": 10, "unit_cost": 1.5}],
    )
    plan = Decisions(
        purchase_orders=[po("AG-1", 0, 6), po("AG-1", 0, 6), po("AG-1", 1, 20), po("AG-1", 2, 5)]
    )
    found = evaluate(load_problem(data), plan)
    assert found.feasible
    assert found.costs.purchase == pytest.approx(48.0)


def test_order_fixed_cost_once_per_supplier_and_period() -> None:
    # SUP-1 (7.0) orders through AG-1 and AG-2 in period 0 → 7 once; AG-1 in period 1 → 7;
    # a zero quantity in period 2 → nothing. SUP-2 (5.0) through DS-3 in period 0 → 5.
    # order_fixed = 7 + 7 + 5 = 19.
    data = problem()
    data["suppliers"] = [{"id": "SUP-1", "order_cost": 7.0}, {"id": "SUP-2", "order_cost": 5.0}]
    data["agreements"][0].update(moq=0, pack_size=1, capacity_per_period=None)
    data["agreements"].append(
        {
            "id": "AG-2",
            "supplier": "SUP-1",
            "sku": "SKU-B",
            "role": "alternate",
            "location": "WH-2",
            "unit_cost": 1.0,
            "lead_time_days": 0,
        }
    )
    data["agreements"].append(
        {
            "id": "DS-3",
            "supplier": "SUP-2",
            "sku": "SKU-A",
            "role": "dropship",
            "unit_cost": 1.0,
            "lead_time_days": 7,
        }
    )
    plan = Decisions(
        purchase_orders=[
            po("AG-1", 0, 1),
            po("AG-2", 0, 1),
            po("AG-1", 1, 1),
            po("AG-1", 2, 0),
            po("DS-3", 0, 4, [drop("SO-1", 4)]),
        ]
    )
    found = evaluate(load_problem(data), plan)
    assert found.feasible, [v.message for v in found.violations]
    assert found.costs.order_fixed == pytest.approx(19.0)


def test_holding_and_safety_stock_follow_the_balance() -> None:
    # SKU-A at WH-1: on_hand 10, holding 0.5, safety stock 8 at 2.0 per unit short.
    # ship 4 in period 1; inbound 3 arrives in period 2; inbound 50 arrives beyond the horizon;
    # AG-1 buys 10 in period 3, arriving in period 4 (beyond: costs 20, brings nothing).
    # I = 10, 6, 9, 9 → holding = 0.5 × 34 = 17; shortfall = 0, 2, 0, 0 → safety = 2 × 2 = 4.
    data = problem(
        stock=[
            {
                "sku": "SKU-A",
                "location": "WH-1",
                "on_hand": 10,
                "safety_stock": 8,
                "safety_stock_cost": 2.0,
            }
        ],
        inbound=[
            {"sku": "SKU-A", "location": "WH-1", "quantity": 3, "arrives": day(2, 6)},
            {"sku": "SKU-A", "location": "WH-1", "quantity": 50, "arrives": day(4)},
        ],
    )
    data["items"][0]["holding_cost"] = 0.5
    plan = Decisions(shipments=[ship("SO-1", 1, 4)], purchase_orders=[po("AG-1", 3, 10)])
    found = evaluate(load_problem(data), plan)
    assert found.feasible
    assert found.costs.holding == pytest.approx(17.0)
    assert found.costs.safety_stock == pytest.approx(4.0)
    assert found.costs.purchase == pytest.approx(20.0)


def test_purchase_arrives_after_lead_time_and_can_ship_that_period() -> None:
    # No stock at WH-1; AG-1 (lead 7 days = 1 period) placed in period 0 arrives in period 1.
    data = problem(stock=[])
    plan = Decisions(purchase_orders=[po("AG-1", 0, 10)], shipments=[ship("SO-1", 1, 4)])
    assert evaluate(load_problem(data), plan).feasible
    early = Decisions(purchase_orders=[po("AG-1", 0, 10)], shipments=[ship("SO-1", 0, 4)])
    assert rules(evaluate(load_problem(data), early)) == {"stock_negative"}


def test_shipping_cost_per_unit_and_location() -> None:
    # 2 from WH-1 at 0.25 and 2 from WH-2 at 1.0 → 0.5 + 2.0 = 2.5.
    data = problem(
        orders=[order("SO-1", day(1), ("SKU-A", 4), ship_cost={"WH-1": 0.25, "WH-2": 1.0})],
        stock=[
            {"sku": "SKU-A", "location": "WH-1", "on_hand": 10},
            {"sku": "SKU-A", "location": "WH-2", "on_hand": 10},
        ],
    )
    plan = Decisions(shipments=[ship("SO-1", 1, 2), ship("SO-1", 1, 2, location="WH-2")])
    found = evaluate(load_problem(data), plan)
    assert found.feasible
    assert found.costs.shipping == pytest.approx(2.5)


def test_shipment_fee_once_per_order_location_and_period() -> None:
    """Lines of one order from one warehouse in one period are one shipment; dropships are none.

    SO-1 (fee 5): both lines from WH-1 in period 1 (one shipment), SKU-A from WH-2 in period 1
    (a second); SO-2 (the order's own fee 2): one in period 0, one in period 2; a zero-unit entry
    and a dropship cost nothing. The fees are not a cost part: the objective adds them.
    """
    data = problem(
        orders=[order("SO-1", day(1), ("SKU-A", 4), ("SKU-B", 4)),
                order("SO-2", day(1), ("SKU-A", 4), shipment_cost=2.0)],
        stock=[{"sku": "SKU-A", "location": "WH-1", "on_hand": 10}, {"sku": "SKU-B", "location": "WH-1", "on_hand": 10},
               {"sku": "SKU-A", "location": "WH-2", "on_hand": 2}],
        settings={"shipment_cost": 5.0},
    )
    plan = Decisions(
        shipments=[ship("SO-1", 1, 2), ship("SO-1", 1, 4, line=1), ship("SO-1", 1, 2, location="WH-2"),
                   ship("SO-1", 2, 0), ship("SO-2", 0, 1), ship("SO-2", 2, 1)],
        purchase_orders=[po("DS-1", 1, 2, [drop("SO-2", 2)])],
    )
    ev = evaluate(load_problem(data), plan)
    assert ev.feasible, ev.violations
    assert ev.shipment_fees == pytest.approx(2 * 5.0 + 2 * 2.0)
    assert ev.objective == pytest.approx(ev.cost + 14.0)
    # Without the setting only SO-2 pays (its own fee); the cost is the same either way.
    without = evaluate(load_problem({**data, "settings": {}}), plan)
    assert without.shipment_fees == pytest.approx(2 * 2.0) and without.cost == pytest.approx(ev.cost)


def test_infeasible_plan_is_priced_on_max_zero() -> None:
    # Ship 6 to SO-1 (wants 4) from WH-1 holding 5, holding 1.0, backorder 1.0:
    # I = 5, -1, -1, -1 → holding = 5 (negatives count as 0);
    # the over-delivered line is open max(0, 4-6) = 0 → no backorder, no lost sales.
    data = problem(stock=[{"sku": "SKU-A", "location": "WH-1", "on_hand": 5}])
    data["items"][0].update(holding_cost=1.0, backorder_cost=1.0)
    found = evaluate(load_problem(data), Decisions(shipments=[ship("SO-1", 1, 6)]))
    assert rules(found) == {"stock_negative", "line_overdelivered"}
    assert found.costs.holding == pytest.approx(5.0)
    assert found.costs.backorder == 0.0
    assert found.costs.lost_sales == 0.0


# --------------------------------------------------------------------------- safety stock


def test_effective_safety_stock_from_statistics() -> None:
    # Primary agreements for SKU-A at WH-1: AG-1 (2.0, 7 days) and AG-3 (2.0, 10 days) tie on
    # price, the shorter lead time wins... unless cheaper: AG-4 costs 1.5 with 10 days → L = 2.
    # z(0.95) = 1.6449; ceil(1.6449 × 2 × sqrt(2)) = ceil(4.65) = 5.
    # SKU-B at WH-1 has no primary agreement: L = 0 → 0. SKU-B at WH-2 gives safety_stock 6.
    data = problem(
        stock=[
            {
                "sku": "SKU-A",
                "location": "WH-1",
                "on_hand": 10,
                "demand_per_period": 3.0,
                "demand_std": 2.0,
                "service_level": 0.95,
            },
            {
                "sku": "SKU-B",
                "location": "WH-1",
                "demand_per_period": 3.0,
                "demand_std": 2.0,
                "service_level": 0.95,
            },
            {"sku": "SKU-B", "location": "WH-2", "safety_stock": 6},
            {"sku": "SKU-A", "location": "WH-2"},
        ]
    )
    for id_, cost, days in (("AG-3", 2.0, 10), ("AG-4", 1.5, 10), ("AG-5", 1.0, 1)):
        data["agreements"].append(
            {
                "id": id_,
                "supplier": "SUP-1",
                "sku": "SKU-A",
                "role": "primary" if id_ != "AG-5" else "alternate",
                "location": "WH-1",
                "unit_cost": cost,
                "lead_time_days": days,
            }
        )
    assert effective_safety_stock(load_problem(data)) == {
        ("SKU-A", "WH-1"): 5,
        ("SKU-B", "WH-1"): 0,
        ("SKU-B", "WH-2"): 6,
        ("SKU-A", "WH-2"): 0,
    }


def test_effective_safety_stock_tie_on_price_takes_the_shorter_lead_time() -> None:
    # AG-1 (2.0, 7 days → L = 1) beats AG-3 (2.0, 10 days → L = 2): ceil(1.6449 × 2 × 1) = 4.
    data = problem(
        stock=[
            {
                "sku": "SKU-A",
                "location": "WH-1",
                "demand_per_period": 3.0,
                "demand_std": 2.0,
                "service_level": 0.95,
            }
        ]
    )
    data["agreements"].append(
        {
            "id": "AG-3",
            "supplier": "SUP-1",
            "sku": "SKU-A",
            "role": "primary",
            "location": "WH-1",
            "unit_cost": 2.0,
            "lead_time_days": 10,
        }
    )
    p = load_problem(data)
    assert effective_safety_stock(p) == {("SKU-A", "WH-1"): 4}
    # The derived safety stock is what the cost uses: empty plan, I = 0, cost 1.0 per unit short.
    p.stock[0].safety_stock_cost = 1.0
    assert evaluate(p, Decisions(shipments=[])).costs.safety_stock == pytest.approx(4 * 4 * 1.0)


# --------------------------------------------------------------------------- examples


def test_three_customers_empty_plan() -> None:
    # 7 CHOC-BOX at WH-1, 6 weekly periods; holding 0.05, backorder 0.5, lost sale 10.
    # holding: 7 units × 6 periods × 0.05 = 2.1
    # SO-1..3: 4 units each, due period 0, latest 2027-01-04 = period 4 → d..ℓ = 0..4 (5 periods):
    #   backorder 3 × 4 × 5 × 0.5 = 30, lost 3 × 4 × 10 = 120
    # SO-4: 2 units, due = earliest = period 2, no latest → ℓ = 5 (4 periods):
    #   backorder 2 × 4 × 0.5 = 4, lost 2 × 10 = 20
    # total = 2.1 + 34 + 140 = 176.1
    found = evaluate(load_example("three-customers.json"), Decisions())
    assert found.feasible
    assert found.costs.holding == pytest.approx(2.1)
    assert found.costs.backorder == pytest.approx(34.0)
    assert found.costs.lost_sales == pytest.approx(140.0)
    assert found.cost == pytest.approx(176.1)


def test_three_customers_fair_share_optimum() -> None:
    # Period 0: the 7 on hand go 3, 2, 2 to SO-1, SO-2, SO-3 (stock 0 afterwards).
    # AG-1 (3.0, 14 days = 2 periods) ordered in period 0 brings 7 in period 2:
    # 1, 2, 2 complete SO-1..3 and 2 serve SO-4 on its due (and earliest) period.
    # purchase 7 × 3 = 21; backorder: 5 units open in periods 0 and 1 → 5 × 2 × 0.5 = 5;
    # holding 0 (stock is 0 at every period end); no lost sales. Total 26.0 = expected optimum.
    p = load_example("three-customers.json")
    expected = json.loads((EXAMPLES / "expected.json").read_text())["three-customers.json"]
    plan = Decisions(
        shipments=[
            ship("SO-1", 0, 3),
            ship("SO-2", 0, 2),
            ship("SO-3", 0, 2),
            ship("SO-1", 2, 1),
            ship("SO-2", 2, 2),
            ship("SO-3", 2, 2),
            ship("SO-4", 2, 2),
        ],
        purchase_orders=[po("AG-1", 0, 7)],
    )
    found = evaluate(p, plan)
    assert found.feasible, [v.message for v in found.violations]
    assert found.costs.purchase == pytest.approx(21.0)
    assert found.costs.backorder == pytest.approx(5.0)
    assert found.costs.holding == 0.0
    assert found.costs.lost_sales == 0.0
    assert found.cost == pytest.approx(26.0)
    assert found.cost == pytest.approx(expected["min_cost_optimum"])


@pytest.mark.parametrize("name", ["mixed-small.json", "mixed-medium.json"])
def test_empty_plan_on_the_larger_examples_is_feasible(name: str) -> None:
    found = evaluate(load_example(name), Decisions())
    assert found.feasible
    assert found.costs.purchase == 0.0
    assert found.cost > 0


def test_a_hundred_thousand_shipments_in_seconds() -> None:
    # 25,000 orders of 4 one-unit lines each, each line shipped in one entry: no O(n²) anywhere.
    n_orders = 25_000
    data = problem(
        horizon={"start": START.isoformat(), "periods": 52, "period_days": 7},
        stock=[{"sku": "SKU-A", "location": "WH-1", "on_hand": 200_000}],
        orders=[order(f"SO-{k}", day(k % 52), *[("SKU-A", 1)] * 4) for k in range(n_orders)],
    )
    p = load_problem(data)
    plan = Decisions(
        shipments=[ship(f"SO-{k}", k % 52, 1, line=j) for k in range(n_orders) for j in range(4)]
    )
    started = time.perf_counter()
    found = evaluate(p, plan)
    elapsed = time.perf_counter() - started
    assert found.feasible
    assert found.costs.backorder == 0.0
    assert elapsed < 10.0, elapsed
