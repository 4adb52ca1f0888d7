"""Customer notices: backordered, delayed, not_planned_yet, will_miss_latest with a refund offer (report/notices.py)."""

from __future__ import annotations

from datetime import date

from stockplan.models.plan import Decisions
from stockplan.models.report import LineStatus, NoticeKind, PlanReport
from tests.solver.report.builders import LOSSES, day, line_of, notice_of, order, problem, report, ship, stock


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
    # No latest date: the customer has not said how long they wait. No refund, the date follows.
    assert n2.kind == NoticeKind.NOT_PLANNED_YET and n2.new_date is None and n2.refund_offer is None
    assert n2.message == ("3 of the 3 units of your order SO-2 are not planned before 2026-02-01: we will tell "
                          "you their date as soon as we know it.")
    k = rep.kpis
    assert (k.lines_partially_lost, k.lines_lost, k.units_lost, k.fill_rate) == (1, 1, 6, 0.25)


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


def test_an_order_without_latest_on_a_short_horizon_gets_no_refund_offer() -> None:
    """The issue's horizon case: supply lands after the 4-week horizon; no latest, so no refund."""
    data = problem(orders=[order("SO-1", 1, ("SKU-A", 4))])
    rep = report(data, Decisions())
    n = notice_of(rep, "SO-1")
    assert n.kind == NoticeKind.NOT_PLANNED_YET and n.refund_offer is None
    # With a latest date inside the horizon the same plan owes the refund.
    dated = problem(orders=[order("SO-1", 1, ("SKU-A", 4), latest=day(2))])
    n = notice_of(report(dated, Decisions()), "SO-1")
    assert n.kind == NoticeKind.WILL_MISS_LATEST and n.refund_offer is not None and n.refund_offer.units == 4
    # A latest date beyond the horizon: the customer still waits; the date follows.
    later = problem(orders=[order("SO-1", 1, ("SKU-A", 4), latest=day(9))])
    assert notice_of(report(later, Decisions()), "SO-1").kind == NoticeKind.NOT_PLANNED_YET


def test_a_pre_order_delivered_on_its_earliest_date_gets_no_backorder_notice() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 4)], orders=[order("PRE-1", 0, ("SKU-A", 4), earliest=day(2))])
    rep = report(data, Decisions(shipments=[ship("PRE-1", 2, 4)]))
    assert line_of(rep, "PRE-1").status == LineStatus.BACKORDERED  # the spec's status against due
    assert notice_of(rep, "PRE-1") is None
    # Delivered a week after the earliest date, it is late for the customer.
    rep = report(data, Decisions(shipments=[ship("PRE-1", 3, 4)]))
    assert notice_of(rep, "PRE-1").kind == NoticeKind.BACKORDERED
