"""The planner's view of a plan: every expected value below is worked out by hand.

Small problems start from :func:`problem`: 4 weekly periods from Monday 2026-01-05
(period ``t`` starts on ``day(t)``), SKU-A and SKU-B, warehouses WH-1 and WH-2.
Every hand-written plan is checked feasible by the evaluator before it is reported.
"""

from __future__ import annotations

import copy
import math
from datetime import date, timedelta
from typing import Any

import pytest

from stockplan.models.plan import Decisions, DropshipLine, ForecastFill, PurchaseOrder, Shipment
from stockplan.models.report import (
    BackorderReason,
    LineStatus,
    NoticeKind,
    PlanReport,
    PurchaseReason,
)
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from stockplan.solver.indexing import build_index
from stockplan.solver.report import fifo_trace, line_status, net_position, plan_report
from tests.conftest import example, example_data

START = date(2026, 1, 5)


def day(period: int, offset: int = 0) -> str:
    return (START + timedelta(days=7 * period + offset)).isoformat()


def order(id: str, due: int, *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {"id": id, "customer": f"cust-{id}", "due": day(due),
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines], **fields}


def agreement(id: str, role: str, lead: int, sku: str = "SKU-A", location: str | None = "WH-1",
              unit_cost: float = 2.0, **fields: Any) -> dict[str, Any]:
    ag = {"id": id, "supplier": "SUP-1", "sku": sku, "role": role, "unit_cost": unit_cost,
          "lead_time_days": 7 * lead, **fields}
    if role != "dropship":
        ag["location"] = location
    return ag


def problem(**changes: Any) -> dict[str, Any]:
    """Base: nothing in stock, no orders, no agreements; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "horizon": {"start": START.isoformat(), "periods": 4, "period_days": 7},
        "items": [
            {"sku": "SKU-A", "lost_sale_cost": 10.0, "backorder_cost": 1.0, "holding_cost": 0.1},
            {"sku": "SKU-B", "lost_sale_cost": 10.0, "backorder_cost": 1.0},
        ],
        "locations": [{"id": "WH-1"}, {"id": "WH-2"}],
        "stock": [],
        "orders": [],
        "suppliers": [{"id": "SUP-1"}],
        "agreements": [],
    }
    base.update(copy.deepcopy(changes))
    return base


def stock(sku: str, location: str, on_hand: int, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "location": location, "on_hand": on_hand, **fields}


def ship(order: str, period: int, quantity: int, location: str = "WH-1", line: int = 0) -> Shipment:
    return Shipment(order=order, line=line, location=location, period=period, quantity=quantity)


def po(agreement: str, period: int, quantity: int, lines: list[DropshipLine] | None = None) -> PurchaseOrder:
    return PurchaseOrder(agreement=agreement, period=period, quantity=quantity, lines=lines)


def report(data: dict[str, Any], plan: Decisions) -> PlanReport:
    prob = load_problem(data)
    ev = evaluate(prob, plan)
    assert ev.feasible, [v.message for v in ev.violations]
    return plan_report(prob, plan)


def line_of(rep: PlanReport, order_id: str, line: int = 0) -> Any:
    return next(ln for ln in rep.lines if ln.order == order_id and ln.line == line)


def notice_of(rep: PlanReport, order_id: str) -> Any:
    found = [n for n in rep.notices if n.order == order_id]
    assert len(found) <= 1
    return found[0] if found else None


# ------------------------------------------------------------------------------------------ three customers

# Fair share of the 7 boxes on hand: 3, 2, 2 in period 0; AG-1 (lead 2) brings 7 more in period 2.
FAIR_SHARE = Decisions(
    shipments=[ship("SO-1", 0, 3), ship("SO-2", 0, 2), ship("SO-3", 0, 2),
               ship("SO-1", 2, 1), ship("SO-2", 2, 2), ship("SO-3", 2, 2), ship("SO-4", 2, 2)],
    purchase_orders=[po("AG-1", 0, 7)],
)


@pytest.fixture(scope="module")
def three() -> PlanReport:
    prob = example("three-customers")
    assert evaluate(prob, FAIR_SHARE).feasible
    return plan_report(prob, FAIR_SHARE)


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


def test_three_customers_backorder_reason_is_the_lead_time(three: PlanReport) -> None:
    for o in ("SO-1", "SO-2", "SO-3"):
        ln = line_of(three, o)
        assert ln.reason_code == BackorderReason.LEAD_TIME
        assert ln.reason == "the fastest agreement for CHOC-BOX (AG-1) arrives in period 2, after the due period 0"
    assert line_of(three, "SO-4").reason is None


def test_three_customers_orders_and_notices(three: PlanReport) -> None:
    status = {o.order: (o.status, o.promised_date, o.slip_periods) for o in three.orders}
    assert status["SO-2"] == (LineStatus.BACKORDERED, date(2026, 12, 21), None)
    assert status["SO-4"][0] == LineStatus.ON_TIME
    assert [n.order for n in three.notices] == ["SO-1", "SO-2", "SO-3"]
    n = notice_of(three, "SO-2")
    assert n.kind == NoticeKind.BACKORDERED and n.new_date == date(2026, 12, 21) and n.refund_offer is None
    assert [(x.line, x.quantity, x.delivered_by_due, x.short) for x in n.lines] == [(0, 4, 2, 0)]
    assert n.message == ("Part of your order SO-2 is on backorder: 2 of 4 units arrive by 2026-12-07 "
                         "and the rest by 2026-12-21.")


def test_three_customers_kpis(three: PlanReport) -> None:
    k = three.kpis
    assert (k.orders_total, k.orders_on_time, k.orders_on_time_share) == (4, 1, 0.25)
    assert (k.lines_total, k.lines_on_time, k.lines_backordered, k.lines_lost) == (4, 1, 3, 0)
    assert (k.units_ordered, k.units_delivered, k.units_delivered_by_due, k.units_lost) == (14, 14, 9, 0)
    assert k.fill_rate == 1.0 and k.on_time_fill_rate == pytest.approx(9 / 14)


def test_three_customers_order_smoothing(three: PlanReport) -> None:
    # Ordered per period 7,0,0,0,0,0; demand by due period 12,0,2,0,0,0 (population variances).
    (sku,) = three.kpis.order_smoothing
    assert sku.order_variance == pytest.approx(49 / 6 - (7 / 6) ** 2)
    assert sku.demand_variance == pytest.approx(148 / 6 - (14 / 6) ** 2)
    assert sku.bullwhip_ratio == pytest.approx(sku.order_variance / sku.demand_variance)
    assert three.kpis.total_order_variance == pytest.approx(sku.order_variance)


def test_three_customers_projected_stock_and_net_position(three: PlanReport) -> None:
    (s,) = three.stock
    assert s.start == [7, 0, 0, 0, 0, 0]
    assert s.arrivals == [0, 0, 7, 0, 0, 0]
    assert s.shipped == [7, 0, 7, 0, 0, 0]
    assert s.end == [0] * 6
    # 1 + 2 + 2 units of SO-1..SO-3 are owed in periods 0 and 1.
    assert s.open_backorders == [5, 5, 0, 0, 0, 0]
    assert s.net_position == [-5, -5, 0, 0, 0, 0]


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


def test_three_customers_solved_plan_is_consistent() -> None:
    from stockplan.solver.solve import solve

    prob = example("three-customers")
    rep = plan_report(prob, solve(prob))
    assert {ln.status for ln in rep.lines} <= {LineStatus.ON_TIME, LineStatus.BACKORDERED}
    assert rep.kpis.units_delivered == 14
    late = {ln.order for ln in rep.lines if ln.status != LineStatus.ON_TIME}
    assert {n.order for n in rep.notices} == late
    assert all(ln.promised_date == rep.period_dates[ln.last_delivery_period] for ln in rep.lines)


# ------------------------------------------------------------------------------------------ status rules


def test_line_status_rule() -> None:
    import numpy as np

    qty = np.array([4, 4, 4, 4])
    got = line_status(qty, np.array([4, 4, 1, 0]), np.array([4, 1, 1, 0]))
    assert got.tolist() == [0, 1, 2, 3]  # on time, backordered, partially lost, lost


LOSSES = problem(
    stock=[stock("SKU-A", "WH-1", 2)],
    orders=[
        order("SO-1", 1, ("SKU-A", 5), latest=day(2, 3)),
        order("SO-2", 0, ("SKU-B", 3)),
        order("SO-9", 6, ("SKU-A", 1)),  # due beyond the 4-period horizon
    ],
)


def test_lost_units_get_a_refund_offer_and_order_status_is_the_worst_line() -> None:
    rep = report(LOSSES, Decisions(shipments=[ship("SO-1", 1, 2)]))
    so1, so2 = line_of(rep, "SO-1"), line_of(rep, "SO-2")
    assert (so1.status, so1.delivered, so1.promised_date, so1.last_period) == (
        LineStatus.PARTIALLY_LOST, 2, date(2026, 1, 12), 2)
    assert (so2.status, so2.promised_date, so2.periods_late) == (LineStatus.LOST, None, None)
    assert rep.orders_outside_horizon == ["SO-9"] and all(ln.order != "SO-9" for ln in rep.lines)

    n1 = notice_of(rep, "SO-1")
    assert n1.kind == NoticeKind.WILL_MISS_LATEST
    assert n1.refund_offer is not None and n1.refund_offer.units == 3
    assert [(r.line, r.sku, r.units) for r in n1.refund_offer.lines] == [(0, "SKU-A", 3)]
    assert n1.message == ("We cannot deliver 3 of the 5 units of your order SO-1 by 2026-01-22 and offer you "
                          "a refund for them; the other units arrive by 2026-01-12.")
    n2 = notice_of(rep, "SO-2")
    assert n2.kind == NoticeKind.WILL_MISS_LATEST and n2.new_date is None
    # No latest date: the last day of the horizon.
    assert n2.message == ("We cannot deliver 3 of the 3 units of your order SO-2 by 2026-02-01 and offer you "
                          "a refund for them.")
    k = rep.kpis
    assert (k.lines_partially_lost, k.lines_lost, k.units_lost, k.fill_rate) == (1, 1, 6, 0.25)


def test_lost_line_reasons_no_agreement_and_no_stock() -> None:
    rep = report(LOSSES, Decisions(shipments=[ship("SO-1", 1, 2)]))
    assert line_of(rep, "SO-1").reason_code == BackorderReason.NO_AGREEMENT
    assert line_of(rep, "SO-1").reason == "no agreement supplies SKU-A to any warehouse"
    assert line_of(rep, "SO-2").reason_code == BackorderReason.NO_STOCK
    assert line_of(rep, "SO-2").reason == "no stock of SKU-B at any warehouse up to its last period 3"


PROMISES = problem(
    stock=[stock("SKU-A", "WH-1", 12)],
    orders=[
        order("SO-1", 0, ("SKU-A", 4), promised=day(1, 2)),  # promised period 1, delivered in 2: delayed
        order("SO-2", 0, ("SKU-A", 4), promised=day(2)),  # late against due, kept the promise
        order("SO-3", 1, ("SKU-A", 4), promised=day(1)),  # on time, promise kept: nothing to say
    ],
)


def test_promise_broken_gives_delayed_and_kept_promise_does_not() -> None:
    rep = report(PROMISES, Decisions(shipments=[ship("SO-1", 2, 4), ship("SO-2", 2, 4), ship("SO-3", 1, 4)]))
    so1 = next(o for o in rep.orders if o.order == "SO-1")
    assert (so1.promised_date, so1.previous_promise, so1.previous_promise_period, so1.slip_periods) == (
        date(2026, 1, 19), date(2026, 1, 14), 1, 1)
    n1 = notice_of(rep, "SO-1")
    assert (n1.kind, n1.new_date, n1.previous_promise) == (NoticeKind.DELAYED, date(2026, 1, 19), date(2026, 1, 14))
    assert n1.message == ("Your order SO-1 is delayed: we promised it for 2026-01-14 and now expect to deliver "
                          "it by 2026-01-19.")
    n2 = notice_of(rep, "SO-2")
    assert n2.kind == NoticeKind.BACKORDERED
    assert n2.message == "Your order SO-2 will arrive by 2026-01-19, as we promised."
    assert next(o for o in rep.orders if o.order == "SO-2").slip_periods == 0
    assert notice_of(rep, "SO-3") is None
    assert len(rep.notices) == 2


def test_on_time_order_delivered_after_an_earlier_promise_is_delayed() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 4)], orders=[order("SO-1", 2, ("SKU-A", 4), promised=day(0))])
    rep = report(data, Decisions(shipments=[ship("SO-1", 1, 4)]))
    assert line_of(rep, "SO-1").status == LineStatus.ON_TIME
    (n,) = rep.notices
    assert (n.kind, [x.line for x in n.lines], rep.orders[0].slip_periods) == (NoticeKind.DELAYED, [0], 1)


def test_a_broken_promise_with_lost_units_is_will_miss_latest() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 2)],
                   orders=[order("SO-1", 0, ("SKU-A", 4), promised=day(0), latest=day(1))])
    rep = report(data, Decisions(shipments=[ship("SO-1", 1, 2)]))
    (n,) = rep.notices
    assert n.kind == NoticeKind.WILL_MISS_LATEST and n.refund_offer is not None and n.refund_offer.units == 2


def test_ship_complete_order_is_one_unit() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 5), stock("SKU-B", "WH-1", 5)],
                   orders=[order("SC-1", 0, ("SKU-A", 2), ("SKU-B", 3), ship_complete=True)])
    rep = report(data, Decisions(shipments=[ship("SC-1", 1, 2, line=0), ship("SC-1", 1, 3, line=1)]))
    (o,) = rep.orders
    assert (o.status, o.line_count, o.quantity, o.delivered, o.promised_period) == (
        LineStatus.BACKORDERED, 2, 5, 5, 1)
    (n,) = rep.notices
    assert [x.line for x in n.lines] == [0, 1]


# ------------------------------------------------------------------------------------------ stock


def test_projected_stock_matches_the_evaluators_holding_and_safety_costs() -> None:
    prob = example("mixed-small")
    plan = greedy_plan_of(prob)
    ev = evaluate(prob, plan)
    assert ev.feasible
    rep = plan_report(prob, plan)
    holding = {i.sku: i.holding_cost for i in prob.items}
    ss_cost = {(s.sku, s.location): s.safety_stock_cost for s in prob.stock}
    on_hand = {(s.sku, s.location): s.on_hand for s in prob.stock}
    total_holding = total_safety = 0.0
    for s in rep.stock:
        assert s.start[0] == on_hand.get((s.sku, s.location), 0)
        for t in range(len(s.end)):
            assert s.end[t] == s.start[t] + s.inbound[t] + s.arrivals[t] - s.shipped[t] - s.forecast_served[t]
            assert s.end[t] >= 0 and (t == 0 or s.start[t] == s.end[t - 1])
            assert s.below_safety[t] == (s.end[t] < s.safety_stock)
            assert s.net_position[t] == s.end[t] - s.open_backorders[t]
        total_holding += holding[s.sku] * sum(s.end)
        total_safety += ss_cost.get((s.sku, s.location), 0.0) * sum(max(0, s.safety_stock - e) for e in s.end)
    assert total_holding == pytest.approx(ev.costs.holding)
    assert total_safety == pytest.approx(ev.costs.safety_stock)
    # Lost sales: the lines' lost units plus the unserved forecast, priced like the evaluator.
    lost_cost = {i.sku: i.lost_sale_cost for i in prob.items}
    lost = sum(lost_cost[ln.sku] * (ln.quantity - ln.delivered) for ln in rep.lines)
    lost += sum(lost_cost[s.sku] * (f - g) for s in rep.stock for f, g in zip(s.forecast, s.forecast_served,
                                                                               strict=True))
    assert lost == pytest.approx(ev.costs.lost_sales)


def greedy_plan_of(prob: Any) -> Decisions:
    from stockplan.solver.greedy import greedy_plan

    return greedy_plan(build_index(prob))


def test_open_backorders_are_attributed_to_the_shipping_or_first_allowed_location() -> None:
    data = problem(
        stock=[stock("SKU-A", "WH-2", 1)],
        orders=[
            order("SO-1", 0, ("SKU-A", 3)),  # any warehouse, nothing shipped: WH-1 (first in locations[])
            order("SO-2", 1, ("SKU-A", 2), ship_cost={"WH-2": 1.0}),  # only WH-2
            order("SO-3", 0, ("SKU-A", 4), latest=day(2)),  # shipped from WH-2: WH-2, owed up to period 2
        ],
    )
    rep = report(data, Decisions(shipments=[ship("SO-3", 1, 1, location="WH-2")]))
    assert [line_of(rep, o).location for o in ("SO-1", "SO-2", "SO-3")] == ["WH-1", "WH-2", "WH-2"]
    by_loc = {s.location: s for s in rep.stock}
    assert by_loc["WH-1"].open_backorders == [3, 3, 3, 3]
    # SO-3: 4 owed in period 0, 3 after its unit in period 1, lost after period 2; SO-2: 2 from period 1.
    assert by_loc["WH-2"].open_backorders == [4, 5, 5, 2]
    assert by_loc["WH-2"].end == [1, 0, 0, 0]
    assert by_loc["WH-2"].net_position == [-3, -5, -5, -2]


def test_net_position_rule() -> None:
    import numpy as np

    assert net_position(np.array([[5, 0]]), np.array([[2, 3]])).tolist() == [[3, -3]]


def test_reorder_points_from_demand_statistics() -> None:
    # z(0.95) = 1.6449; primary lead 2 periods: safety ceil(1.6449 * 3 * sqrt 2) = 7, reorder ceil(2 * 2) + 7 = 11.
    data = problem(
        stock=[stock("SKU-A", "WH-1", 10, demand_per_period=2.0, demand_std=3.0, service_level=0.95),
               stock("SKU-B", "WH-1", 1, safety_stock=2)],
        agreements=[agreement("AG-P", "primary", 2)],
    )
    rep = report(data, Decisions())
    rop = {(r.sku, r.location): (r.safety_stock, r.reorder_point) for r in rep.reorder_points}
    assert rop == {("SKU-A", "WH-1"): (7, 11), ("SKU-B", "WH-1"): (2, None)}
    proj = {s.sku: s for s in rep.stock}
    assert (proj["SKU-A"].safety_stock, proj["SKU-A"].reorder_point) == (7, 11)
    assert proj["SKU-A"].below_safety == [False] * 4
    assert proj["SKU-B"].below_safety == [True] * 4
    assert math.ceil(1.6448536269514722 * 3 * math.sqrt(2)) == 7


# ------------------------------------------------------------------------------------------ purchase orders


def test_fifo_trace_matches_earliest_units_first() -> None:
    import numpy as np

    # Group 0: lots 3 then 10; outflows 2, 3, 1. Group 1: a lot of 4, nothing leaves.
    i, o, u = fifo_trace(np.array([0, 0, 1]), np.array([3, 10, 4]), np.array([0, 0, 0]), np.array([2, 3, 1]))
    assert list(zip(i.tolist(), o.tolist(), u.tolist(), strict=True)) == [
        (0, 0, 2), (0, 1, 1), (1, 1, 2), (1, 2, 1), (1, -1, 7), (2, -1, 4)]


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


def alt_case(alt: dict[str, Any], primary: dict[str, Any], due: int, plan: Decisions) -> PlanReport:
    data = problem(orders=[order("SO-1", due, ("SKU-A", plan.purchase_orders[-1].quantity))],
                   agreements=[primary, alt], stock=[stock("SKU-A", "WH-1", 0)])
    return report(data, plan)


def test_purchase_reason_primary_too_slow() -> None:
    rep = alt_case(agreement("AG-A", "alternate", 0, unit_cost=3.0), agreement("AG-P", "primary", 2), 1,
                   Decisions(shipments=[ship("SO-1", 1, 4)], purchase_orders=[po("AG-A", 1, 4)]))
    (p,) = rep.purchase_orders
    assert p.reason_code == PurchaseReason.PRIMARY_TOO_SLOW
    assert p.reason == "primary AG-P (lead 2 periods) would arrive in period 2 at the earliest, after the due period 1"


def test_purchase_reason_primary_capacity() -> None:
    plan = Decisions(shipments=[ship("SO-1", 0, 8)], purchase_orders=[po("AG-P", 0, 5), po("AG-A", 0, 3)])
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 8))],
                   agreements=[agreement("AG-P", "primary", 0, capacity_per_period=5),
                               agreement("AG-A", "alternate", 0, unit_cost=3.0)])
    rep = report(data, plan)
    primary, alt = rep.purchase_orders
    assert primary.reason_code == PurchaseReason.PRIMARY
    assert alt.reason_code == PurchaseReason.PRIMARY_CAPACITY
    assert alt.reason == "primary AG-P capacity (5 per period) is used up in period 0"


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


def test_purchase_order_arriving_beyond_the_horizon() -> None:
    data = problem(agreements=[agreement("AG-P", "primary", 2)])
    rep = report(data, Decisions(purchase_orders=[po("AG-P", 3, 6)]))
    (p,) = rep.purchase_orders
    assert (p.arrival_period, p.arrival_date, p.beyond_horizon, p.left_in_stock) == (5, date(2026, 2, 9), 6, 0)


# ------------------------------------------------------------------------------------------ backorder reasons


def test_reason_no_stock_before_the_delivery() -> None:
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 4), ship_cost={"WH-1": 0.0})],
                   agreements=[agreement("AG-P", "primary", 2)])
    rep = report(data, Decisions(shipments=[ship("SO-1", 2, 4)], purchase_orders=[po("AG-P", 0, 4)]))
    ln = line_of(rep, "SO-1")
    assert (ln.status, ln.reason_code) == (LineStatus.BACKORDERED, BackorderReason.NO_STOCK)
    assert ln.reason == "no stock of SKU-A at WH-1 before period 2"


def test_reason_ship_complete_order_held_back_by_another_sku() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 10)],
                   orders=[order("SC-1", 0, ("SKU-A", 2), ("SKU-B", 3), ship_complete=True)],
                   agreements=[agreement("AG-B", "primary", 2, sku="SKU-B")])
    plan = Decisions(shipments=[ship("SC-1", 2, 2, line=0), ship("SC-1", 2, 3, line=1)],
                     purchase_orders=[po("AG-B", 0, 3)])
    rep = report(data, plan)
    a, b = line_of(rep, "SC-1", 0), line_of(rep, "SC-1", 1)
    assert (a.reason_code, a.reason) == (BackorderReason.SHIP_COMPLETE_HELD,
                                         "ship-complete order held back by SKU SKU-B")
    assert b.reason_code == BackorderReason.NO_STOCK


CONTEST = problem(
    stock=[stock("SKU-A", "WH-1", 4)],
    orders=[order("SO-1", 0, ("SKU-A", 4), priority=1), order("SO-2", 0, ("SKU-A", 4), priority=3)],
    agreements=[agreement("AG-P", "primary", 1)],
)
CONTEST_PLAN = Decisions(shipments=[ship("SO-1", 0, 4), ship("SO-2", 1, 4)], purchase_orders=[po("AG-P", 0, 4)])


def test_reason_stock_went_to_higher_priority_orders() -> None:
    data = copy.deepcopy(CONTEST)
    data["settings"] = {"policy": "priority"}
    ln = line_of(report(data, CONTEST_PLAN), "SO-2")
    assert (ln.reason_code, ln.reason) == (BackorderReason.HIGHER_PRIORITY,
                                           "stock of SKU-A went to higher-priority orders")


def test_reason_lead_time_under_min_cost() -> None:
    ln = line_of(report(CONTEST, CONTEST_PLAN), "SO-2")
    assert (ln.reason_code, ln.reason) == (
        BackorderReason.LEAD_TIME, "the fastest agreement for SKU-A (AG-P) arrives in period 1, after the due period 0")


def test_reason_lead_time_after_the_latest_period() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 1)], orders=[order("SO-1", 0, ("SKU-A", 3), latest=day(1))],
                   agreements=[agreement("AG-P", "primary", 3)])
    ln = line_of(report(data, Decisions(shipments=[ship("SO-1", 0, 1)])), "SO-1")
    assert ln.status == LineStatus.PARTIALLY_LOST
    assert ln.reason == "the fastest agreement for SKU-A (AG-P) arrives in period 3, after the latest period 1"


def test_reason_primary_capacity_used_up() -> None:
    # SO-1 takes the 5 on hand; AG-P (lead 1, 5 a period) brings 5 in period 1 and 3 more in period 2.
    data = problem(stock=[stock("SKU-A", "WH-1", 5)],
                   orders=[order("SO-1", 0, ("SKU-A", 5)), order("SO-2", 1, ("SKU-A", 8))],
                   agreements=[agreement("AG-P", "primary", 1, capacity_per_period=5)])
    plan = Decisions(shipments=[ship("SO-1", 0, 5), ship("SO-2", 1, 5), ship("SO-2", 2, 3)],
                     purchase_orders=[po("AG-P", 0, 5), po("AG-P", 1, 3)])
    ln = line_of(report(data, plan), "SO-2")
    assert (ln.status, ln.delivered_by_due) == (LineStatus.BACKORDERED, 5)
    assert (ln.reason_code, ln.reason) == (BackorderReason.CAPACITY,
                                           "primary agreement AG-P capacity is used up in period 0")


def test_reason_cost_tradeoff_and_earliest_after_due() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 8)],
                   orders=[order("SO-1", 0, ("SKU-A", 4)), order("SO-2", 0, ("SKU-A", 4), earliest=day(1))],
                   agreements=[agreement("AG-P", "primary", 0)])
    rep = report(data, Decisions(shipments=[ship("SO-1", 1, 4), ship("SO-2", 1, 4)]))
    assert line_of(rep, "SO-1").reason_code == BackorderReason.COST_TRADEOFF
    assert line_of(rep, "SO-1").reason == "delivering on time costs more than the backorder"
    assert line_of(rep, "SO-2").reason_code == BackorderReason.EARLIEST_AFTER_DUE
    assert line_of(rep, "SO-2").reason == "the customer takes delivery from period 1, after the due period 0"


# ------------------------------------------------------------------------------------------ bigger plans


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
