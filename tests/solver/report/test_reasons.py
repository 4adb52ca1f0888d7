"""Why a line is late or short, one purpose-built problem per reason (solver/report/reasons.py)."""

from __future__ import annotations

import copy

from stockplan.models.plan import Decisions
from stockplan.models.report import BackorderReason, LineStatus, PlanReport
from tests.solver.report.builders import LOSSES, agreement, day, line_of, order, po, problem, report, ship, stock


def test_three_customers_backorder_reason_is_the_fair_share_and_the_lead_time(three: PlanReport) -> None:
    others = {"SO-1": "SO-2, SO-3", "SO-2": "SO-1, SO-3", "SO-3": "SO-1, SO-2"}
    for o in ("SO-1", "SO-2", "SO-3"):
        ln = line_of(three, o)
        assert ln.reason_code == BackorderReason.FAIR_SHARE
        assert ln.reason == (f"the stock of CHOC-BOX at WH-1 was shared with equal orders {others[o]} under the "
                             "fair_share policy, and the fastest agreement (AG-1) arrives 2026-12-21 at the "
                             "earliest, after the due date 2026-12-07")
    assert line_of(three, "SO-4").reason is None


def test_lost_line_reasons_no_stock_and_no_agreement() -> None:
    rep = report(LOSSES, Decisions(shipments=[ship("SO-1", 1, 2)]))
    for o, sku in (("SO-1", "SKU-A"), ("SO-2", "SKU-B")):
        assert line_of(rep, o).reason_code == BackorderReason.NO_AGREEMENT
        assert line_of(rep, o).reason == (f"no stock of {sku} at any warehouse in time, and no agreement supplies "
                                          "it there")


def test_reason_no_stock_before_the_delivery() -> None:
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 4), ship_cost={"WH-1": 0.0})],
                   agreements=[agreement("AG-P", "primary", 2)])
    rep = report(data, Decisions(shipments=[ship("SO-1", 2, 4)], purchase_orders=[po("AG-P", 0, 4)]))
    ln = line_of(rep, "SO-1")
    assert (ln.status, ln.reason_code) == (LineStatus.BACKORDERED, BackorderReason.LEAD_TIME)
    assert ln.reason == ("no stock of SKU-A at WH-1 in time, and the fastest agreement (AG-P) arrives 2026-01-19 "
                         "at the earliest, after the due date 2026-01-05")


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
    assert b.reason_code == BackorderReason.LEAD_TIME


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
    assert (ln.reason_code, ln.reason) == (
        BackorderReason.HIGHER_PRIORITY,
        "the stock of SKU-A at any warehouse went to higher-priority orders SO-1 under the priority policy, and "
        "the fastest agreement (AG-P) arrives 2026-01-12 at the earliest, after the due date 2026-01-05")


def test_reason_lead_time_under_min_cost() -> None:
    ln = line_of(report(CONTEST, CONTEST_PLAN), "SO-2")
    assert (ln.reason_code, ln.reason) == (
        BackorderReason.LEAD_TIME, "the stock of SKU-A at any warehouse went to SO-1, and the fastest agreement "
        "(AG-P) arrives 2026-01-12 at the earliest, after the due date 2026-01-05")


def test_reason_lead_time_after_the_latest_period() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 1)], orders=[order("SO-1", 0, ("SKU-A", 3), latest=day(1))],
                   agreements=[agreement("AG-P", "primary", 3)])
    ln = line_of(report(data, Decisions(shipments=[ship("SO-1", 0, 1)])), "SO-1")
    assert ln.status == LineStatus.PARTIALLY_LOST
    assert ln.reason == ("no stock of SKU-A at any warehouse in time, and the fastest agreement (AG-P) arrives "
                         "2026-01-26 at the earliest, after the latest date 2026-01-12")


def test_reason_primary_capacity_used_up() -> None:
    # SO-1 takes the 5 on hand; AG-P (lead 1, 5 a period) brings 5 in period 1 and 3 more in period 2.
    data = problem(stock=[stock("SKU-A", "WH-1", 5)],
                   orders=[order("SO-1", 0, ("SKU-A", 5)), order("SO-2", 1, ("SKU-A", 8))],
                   agreements=[agreement("AG-P", "primary", 1, capacity_per_period=5)])
    plan = Decisions(shipments=[ship("SO-1", 0, 5), ship("SO-2", 1, 5), ship("SO-2", 2, 3)],
                     purchase_orders=[po("AG-P", 0, 5), po("AG-P", 1, 3)])
    ln = line_of(report(data, plan), "SO-2")
    assert (ln.status, ln.delivered_by_due) == (LineStatus.BACKORDERED, 5)
    assert (ln.reason_code, ln.reason) == (
        BackorderReason.CAPACITY,
        "no stock of SKU-A at any warehouse in time, and primary agreement AG-P capacity is used up from 2026-01-05 "
        "to 2026-01-11")


def test_reason_cost_tradeoff_and_earliest_after_due() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 8)],
                   orders=[order("SO-1", 0, ("SKU-A", 4)), order("SO-2", 0, ("SKU-A", 4), earliest=day(1))],
                   agreements=[agreement("AG-P", "primary", 0)])
    rep = report(data, Decisions(shipments=[ship("SO-1", 1, 4), ship("SO-2", 1, 4)]))
    assert line_of(rep, "SO-1").reason_code == BackorderReason.COST_TRADEOFF
    assert line_of(rep, "SO-1").reason == ("SKU-A at any warehouse had stock to spare, but on time costs more than "
                                           "the lateness it saves")
    assert line_of(rep, "SO-2").reason_code == BackorderReason.EARLIEST_AFTER_DUE
    assert line_of(rep, "SO-2").reason == "the customer takes delivery from 2026-01-12, after the due date 2026-01-05"
