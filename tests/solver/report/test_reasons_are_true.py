"""Each reason a solved plan gives is true: with its cause removed, the re-solved plan has the line on time.

One purpose-built problem per reason code, solved through :func:`solve` with the
report (the door a planner uses), then changed in exactly what the reason names
and solved again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from stockplan.models.report import BackorderReason, LineStatus
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.solve import solve
from tests.solver.report.builders import agreement, day, order, problem, stock

OPTIONS = SolveOptions(time_limit=30, gap=1e-9)


def solved_line(data: dict[str, Any], order_id: str, line: int = 0) -> Any:
    plan = solve(load_problem(data), OPTIONS, explain=True)
    assert plan.status == "optimal" and plan.report is not None
    return next(ln for ln in plan.report.lines if (ln.order, ln.line) == (order_id, line))


def urgent() -> dict[str, Any]:
    """4 on hand for two orders of 4 due now; the primary takes a week, the urgent clause (10.0) none."""
    return problem(
        stock=[stock("SKU-A", "WH-1", 4)],
        orders=[order("SO-A", 0, ("SKU-A", 4)), order("SO-B", 0, ("SKU-A", 4))],
        items=[{"sku": "SKU-A", "lost_sale_cost": 50.0, "backorder_cost": 1.0}],
        agreements=[agreement("PRIMARY", "primary", 1), agreement("URGENT", "alternate", 0, unit_cost=10.0)],
    )


def with_(data: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    change(data)
    return data


def test_an_urgent_clause_that_could_deliver_makes_the_reason_its_cost() -> None:
    """The issue's first case: the line waits because the urgent clause costs more than a week's wait."""
    data = urgent()
    # SO-A's wait costs 20 a week: it takes the stock, and SO-B taking it instead would cost 80 - 4.
    data["orders"][0]["lines"][0]["backorder_cost"] = 20.0
    ln = solved_line(data, "SO-B")
    assert ln.status == LineStatus.BACKORDERED and ln.reason_code == BackorderReason.COST_TRADEOFF
    # On time: 4 urgent at 10 instead of 4 primary at 2 (+32), less the 4 of lateness it saves: 28 in all.
    assert ln.reason == ("the stock of SKU-A at any warehouse went to SO-A, but on time costs 28.00 more in all, "
                         "net of the 4.00 of lateness it saves (via URGENT)")
    assert ln.extra_cost == pytest.approx(28.0)
    cheaper = with_(data, lambda d: d["agreements"][1].update(unit_cost=2.5))
    assert solved_line(cheaper, "SO-B").status == LineStatus.ON_TIME


def test_stock_on_hand_with_a_dear_shipping_cost_makes_the_reason_its_cost() -> None:
    """The issue's second case: 5 on hand but 10 a unit to ship; a dropship a week away is cheaper."""
    data = problem(
        stock=[stock("SKU-A", "WH-1", 5)],
        orders=[order("SO-1", 0, ("SKU-A", 5), ship_cost={"WH-1": 10.0})],
        agreements=[agreement("DROP", "dropship", 1)],
    )
    ln = solved_line(data, "SO-1")
    assert ln.status == LineStatus.BACKORDERED and ln.reason_code == BackorderReason.COST_TRADEOFF
    assert ln.reason.startswith("SKU-A at WH-1 had stock to spare (shipping costs 10.00 a unit), but on time costs ")
    assert "from stock at hand" in ln.reason and "dropship" not in ln.reason
    free_shipping = with_(data, lambda d: d["orders"][0].update(ship_cost={"WH-1": 0.0}))
    assert solved_line(free_shipping, "SO-1").status == LineStatus.ON_TIME


def test_lead_time_reason_holds_until_the_lead_time_is_shorter() -> None:
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 3))], agreements=[agreement("AG-P", "primary", 1)])
    ln = solved_line(data, "SO-1")
    assert ln.reason_code == BackorderReason.LEAD_TIME
    assert ln.reason == ("no stock of SKU-A at any warehouse in time, and the fastest agreement (AG-P) arrives "
                         "2026-01-12 at the earliest, after the due date 2026-01-05")
    fast = with_(data, lambda d: d["agreements"][0].update(lead_time_days=0))
    assert solved_line(fast, "SO-1").status == LineStatus.ON_TIME


def test_no_agreement_reason_holds_until_an_agreement_supplies_it() -> None:
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 3))])
    ln = solved_line(data, "SO-1")
    assert (ln.status, ln.reason_code) == (LineStatus.LOST, BackorderReason.NO_AGREEMENT)
    supplied = with_(data, lambda d: d.update(agreements=[agreement("AG-P", "primary", 0)]))
    assert solved_line(supplied, "SO-1").status == LineStatus.ON_TIME


def test_capacity_reason_holds_until_the_capacity_is_larger() -> None:
    data = problem(orders=[order("SO-1", 0, ("SKU-A", 8))],
                   agreements=[agreement("AG-P", "primary", 0, capacity_per_period=5)])
    ln = solved_line(data, "SO-1")
    assert ln.reason_code == BackorderReason.CAPACITY and "AG-P capacity leaves only" not in ln.reason
    assert "primary agreement AG-P capacity is used up from 2026-01-05 to 2026-01-11" in ln.reason
    larger = with_(data, lambda d: d["agreements"][0].update(capacity_per_period=10))
    assert solved_line(larger, "SO-1").status == LineStatus.ON_TIME


def contest(policy: str) -> dict[str, Any]:
    """4 on hand, two orders of 4 due now, the primary a week away."""
    return problem(stock=[stock("SKU-A", "WH-1", 4)],
                   orders=[order("SO-1", 0, ("SKU-A", 4), priority=1), order("SO-2", 0, ("SKU-A", 4), priority=3)],
                   agreements=[agreement("AG-P", "primary", 1)], settings={"policy": policy})


def test_higher_priority_reason_holds_until_the_higher_order_is_gone() -> None:
    data = contest("priority")
    data["orders"][1]["lines"][0]["backorder_cost"] = 5.0  # min cost alone would serve SO-2 first
    ln = solved_line(data, "SO-2")
    assert ln.reason_code == BackorderReason.HIGHER_PRIORITY
    assert ln.reason.startswith("the stock of SKU-A at any warehouse went to higher-priority orders SO-1 under "
                                "the priority policy")
    alone = with_(data, lambda d: d["orders"].pop(0))
    assert solved_line(alone, "SO-2").status == LineStatus.ON_TIME


def test_fair_share_reason_holds_until_the_equal_order_is_gone() -> None:
    data = contest("fair_share")
    data["orders"][0]["priority"] = 3
    ln = solved_line(data, "SO-2")
    assert (ln.reason_code, ln.delivered_by_due) == (BackorderReason.FAIR_SHARE, 2)
    assert ln.reason.startswith("the stock of SKU-A at any warehouse was shared with equal orders SO-1 under the "
                                "fair_share policy")
    alone = with_(data, lambda d: d["orders"].pop(0))
    assert solved_line(alone, "SO-2").status == LineStatus.ON_TIME


def test_ship_complete_reason_holds_until_the_order_may_ship_in_parts() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 10)],
                   orders=[order("SC-1", 0, ("SKU-A", 2), ("SKU-B", 3), ship_complete=True)],
                   agreements=[agreement("AG-B", "primary", 1, sku="SKU-B")])
    ln = solved_line(data, "SC-1", 0)
    assert (ln.reason_code, ln.reason) == (BackorderReason.SHIP_COMPLETE_HELD,
                                           "ship-complete order held back by SKU SKU-B")
    parts = with_(data, lambda d: d["orders"][0].update(ship_complete=False))
    assert solved_line(parts, "SC-1", 0).status == LineStatus.ON_TIME


def test_earliest_after_due_reason_holds_until_the_customer_takes_it_earlier() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 4)], orders=[order("SO-1", 0, ("SKU-A", 4), earliest=day(1))])
    ln = solved_line(data, "SO-1")
    assert (ln.reason_code, ln.reason) == (BackorderReason.EARLIEST_AFTER_DUE,
                                           "the customer takes delivery from 2026-01-12, after the due date 2026-01-05")
    earlier = with_(data, lambda d: d["orders"][0].pop("earliest"))
    assert solved_line(earlier, "SO-1").status == LineStatus.ON_TIME


def test_taking_another_orders_stock_is_named_when_that_is_the_cheapest_way_on_time() -> None:
    data = urgent()
    data["orders"][0]["lines"][0]["backorder_cost"] = 5.0  # SO-A waiting costs 20, less than the urgent clause
    ln = solved_line(data, "SO-B")
    assert ln.reason == ("the stock of SKU-A at any warehouse went to SO-A, but on time costs 16.00 more in all, "
                         "net of the 4.00 of lateness it saves (with the stock SO-A gets now)")
