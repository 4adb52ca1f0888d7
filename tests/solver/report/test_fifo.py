"""Where each purchase order's units go, first in, first out (solver/report/fifo.py)."""

from __future__ import annotations

from datetime import date

from stockplan.models.plan import Decisions, DropshipLine, ForecastFill
from stockplan.models.report import PlanReport, PurchaseReason
from stockplan.solver.report.fifo import fifo_trace
from tests.solver.report.builders import agreement, day, order, po, problem, report, ship, stock


def test_fifo_trace_matches_earliest_units_first() -> None:
    import numpy as np

    # Group 0: lots 3 then 10; outflows 2, 3, 1. Group 1: a lot of 4, nothing leaves.
    i, o, u = fifo_trace(np.array([0, 0, 1]), np.array([3, 10, 4]), np.array([0, 0, 0]), np.array([2, 3, 1]))
    assert list(zip(i.tolist(), o.tolist(), u.tolist(), strict=True)) == [
        (0, 0, 2), (0, 1, 1), (1, 1, 2), (1, 2, 1), (1, -1, 7), (2, -1, 4)]


def test_three_customers_purchase_order_serves_lines_fifo(three: PlanReport) -> None:
    (p,) = three.purchase_orders
    assert (p.agreement, p.role, p.period, p.arrival_period, p.arrival_date) == (
        "AG-1", "primary", 0, 2, date(2026, 12, 21))
    assert (p.unit_price, p.cost) == (3.0, 21.0)
    # The 7 on hand went out in period 0, so the 7 arriving serve everything shipped in period 2.
    assert [(x.order, x.quantity, x.period, x.on_time) for x in p.serves] == [
        ("SO-1", 1, 2, False), ("SO-2", 2, 2, False), ("SO-3", 2, 2, False), ("SO-4", 2, 2, True)]
    assert p.reason_code == PurchaseReason.PRIMARY
    assert p.reason == "AG-1 is the primary agreement for CHOC-BOX at WH-1"


TRACE = problem(
    stock=[stock("SKU-A", "WH-1", 3, safety_stock=4)],
    orders=[order("SO-1", 0, ("SKU-A", 2)), order("SO-2", 1, ("SKU-A", 3)), order("SO-3", 1, ("SKU-A", 2))],
    forecast=[{"sku": "SKU-A", "location": "WH-1", "date": day(2), "quantity": 1}],
    agreements=[agreement("AG-1", "primary", 1, moq=10, pack_size=5, capacity_per_period=20),
                agreement("DS-1", "dropship", 0, unit_cost=3.0)],
)


TRACE_PLAN = Decisions(
    shipments=[ship("SO-1", 0, 2), ship("SO-2", 1, 3)],
    forecast_fills=[ForecastFill(sku="SKU-A", location="WH-1", period=2, quantity=1)],
    purchase_orders=[po("AG-1", 0, 10), po("DS-1", 1, 2, [DropshipLine(order="SO-3", line=0, quantity=2)])],
)


def test_purchase_order_units_are_traced_to_lines_forecast_and_safety_stock() -> None:
    rep = report(TRACE, TRACE_PLAN)
    ag1, ds1 = rep.purchase_orders
    # On hand 3: SO-1 takes 2 in period 0, SO-2 the third in period 1 and 2 of AG-1's 10.
    assert [(x.order, x.quantity, x.period) for x in ag1.serves] == [("SO-2", 2, 1)]
    # Then 1 unit to the forecast in period 2; of the 7 left at the end, 4 are the safety stock.
    assert (ag1.to_forecast, ag1.to_safety_stock, ag1.left_in_stock, ag1.beyond_horizon) == (1, 4, 3, 0)
    assert ag1.quantity == sum(x.quantity for x in ag1.serves) + 1 + 4 + 3
    assert (ds1.location, ds1.arrival_period) == (None, 1)
    assert [(x.order, x.quantity, x.period, x.on_time) for x in ds1.serves] == [("SO-3", 2, 1, True)]
    # The primary could land it in time with capacity to spare, but only 10 at a time.
    assert ds1.reason_code == PurchaseReason.PRIMARY_MOQ_PACK
    assert ds1.reason == "primary AG-1 sells only in packs of 5 and at least 10 units at a time; 2 units are ordered"


def test_purchase_order_arriving_beyond_the_horizon() -> None:
    data = problem(agreements=[agreement("AG-P", "primary", 2)])
    rep = report(data, Decisions(purchase_orders=[po("AG-P", 3, 6)]))
    (p,) = rep.purchase_orders
    assert (p.arrival_period, p.arrival_date, p.beyond_horizon, p.left_in_stock) == (5, date(2026, 2, 9), 6, 0)
