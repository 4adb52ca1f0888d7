"""Why a purchase order uses its agreement rather than the primary (solver/report/purchase_reasons.py)."""

from __future__ import annotations

from typing import Any

from stockplan.models.plan import Decisions, DropshipLine
from stockplan.models.report import LineStatus, PlanReport, PurchaseReason
from tests.solver.report.builders import agreement, line_of, order, po, problem, report, ship, stock


def alt_case(alt: dict[str, Any], primary: dict[str, Any], due: int, plan: Decisions) -> PlanReport:
    data = problem(orders=[order("SO-1", due, ("SKU-A", plan.purchase_orders[-1].quantity))],
                   agreements=[primary, alt], stock=[stock("SKU-A", "WH-1", 0)])
    return report(data, plan)


def test_purchase_reason_primary_too_slow() -> None:
    rep = alt_case(agreement("AG-A", "alternate", 0, unit_cost=3.0), agreement("AG-P", "primary", 2), 1,
                   Decisions(shipments=[ship("SO-1", 1, 4)], purchase_orders=[po("AG-A", 1, 4)]))
    (p,) = rep.purchase_orders
    assert p.reason_code == PurchaseReason.PRIMARY_TOO_SLOW
    assert p.reason == ("primary AG-P (lead time 14 days) would arrive 2026-01-19 at the earliest, after the period "
                        "the lines are due in (from 2026-01-12)")


def test_purchase_reason_primary_capacity() -> None:
    plan = Decisions(shipments=[ship("SO-1", 0, 8)], purchase_orders=[po("AG-P", 0, 5), po("AG-A", 0, 3)])
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 8))],
                   agreements=[agreement("AG-P", "primary", 0, capacity_per_period=5),
                               agreement("AG-A", "alternate", 0, unit_cost=3.0)])
    rep = report(data, plan)
    primary, alt = rep.purchase_orders
    assert primary.reason_code == PurchaseReason.PRIMARY
    assert alt.reason_code == PurchaseReason.PRIMARY_CAPACITY
    assert alt.reason == "primary AG-P capacity (5 per period) is used up from 2026-01-05 to 2026-01-11"


def test_purchase_reason_cheaper_at_quantity() -> None:
    alt = agreement("AG-A", "alternate", 0, unit_cost=2.5, price_breaks=[{"min_qty": 10, "unit_cost": 1.5}])
    rep = alt_case(alt, agreement("AG-P", "primary", 0), 1,
                   Decisions(shipments=[ship("SO-1", 1, 10)], purchase_orders=[po("AG-A", 1, 10)]))
    (p,) = rep.purchase_orders
    assert (p.reason_code, p.unit_price, p.cost) == (PurchaseReason.CHEAPER_AT_QUANTITY, 1.5, 15.0)
    assert p.reason == "AG-A costs 1.5 per unit at 10 units (price break from 10), primary AG-P 2"


def test_purchase_reason_no_primary_and_lower_total_cost() -> None:
    rep = alt_case(agreement("AG-A", "alternate", 0, location="WH-2"), agreement("AG-P", "primary", 0), 1,
                   Decisions(shipments=[ship("SO-1", 1, 4, location="WH-2")], purchase_orders=[po("AG-A", 1, 4)]))
    assert rep.purchase_orders[0].reason_code == PurchaseReason.NO_PRIMARY
    assert rep.purchase_orders[0].reason == "no primary agreement for SKU-A at WH-2"
    rep = alt_case(agreement("AG-A", "alternate", 0), agreement("AG-P", "primary", 0), 1,
                   Decisions(shipments=[ship("SO-1", 1, 4)], purchase_orders=[po("AG-A", 1, 4)]))
    assert rep.purchase_orders[0].reason_code == PurchaseReason.LOWER_TOTAL_COST


def test_purchase_reason_dropship_holds_no_stock() -> None:
    plan = Decisions(purchase_orders=[po("DS-1", 1, 4, [DropshipLine(order="SO-1", line=0, quantity=4)])])
    rep = alt_case(agreement("DS-1", "dropship", 0), agreement("AG-P", "primary", 0), 1, plan)
    (p,) = rep.purchase_orders
    assert (p.reason_code, p.location) == (PurchaseReason.DROPSHIP_NO_STOCK, None)
    assert line_of(rep, "SO-1").status == LineStatus.ON_TIME
