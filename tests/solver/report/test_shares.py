"""Fair shares in the report: each line's share by due, why a line got less, and open backorders' age."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stockplan.models.plan import Decisions
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.report import plan_report
from stockplan.solver.solve import solve
from tests.conftest import example_data
from tests.solver.report.builders import line_of, order, problem, report, ship, stock


def dated_three_customers(policy: str) -> dict[str, Any]:
    data = copy.deepcopy(example_data("three-customers"))
    for o, placed in zip(data["orders"], ("2026-11-30", "2026-11-25", "2026-11-02", "2026-12-01"), strict=True):
        o["ordered"] = placed
    data["settings"]["policy"] = policy
    return data


def test_a_line_that_lost_the_tie_says_to_which_older_order() -> None:
    problem_ = load_problem(dated_three_customers("fair_share"))
    plan = solve(problem_, SolveOptions(time_limit=30), explain=True)
    assert plan.report is not None
    lines = {ln.order: ln for ln in plan.report.lines}
    assert lines["SO-3"].share == pytest.approx(0.75) and lines["SO-3"].share_note is None
    for o in ("SO-1", "SO-2"):
        assert lines[o].share == pytest.approx(0.5)
        assert lines[o].share_note == "a tie lost to the older order SO-3"


def test_an_open_backorder_reports_its_age_since_it_was_ordered() -> None:
    problem_ = load_problem(dated_three_customers("fair_share"))
    plan = solve(problem_, SolveOptions(time_limit=30), explain=True)
    assert plan.report is not None
    lines = {ln.order: ln for ln in plan.report.lines}
    # The horizon starts 2026-12-07: SO-3 was ordered on 2026-11-02, 35 days before.
    assert (lines["SO-3"].ordered.isoformat(), lines["SO-3"].age_days) == ("2026-11-02", 35)
    assert lines["SO-4"].status == "on_time" and lines["SO-4"].age_days is None


def test_a_ship_complete_order_outside_the_split_is_named() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 6)],
                   orders=[order("SO-1", 0, ("SKU-A", 4), ship_complete=True), order("SO-2", 0, ("SKU-A", 4))],
                   settings={"policy": "fair_share"})
    rep = report(data, Decisions(shipments=[ship("SO-1", 0, 4), ship("SO-2", 0, 2)]))
    so2 = line_of(rep, "SO-2")
    assert so2.share == pytest.approx(0.5)
    assert so2.share_note == "SO-1 is ship-complete: delivered whole or not at all, outside the fair-share split"


def test_without_a_fair_share_policy_no_share_is_reported() -> None:
    data = problem(stock=[stock("SKU-A", "WH-1", 6)],
                   orders=[order("SO-1", 0, ("SKU-A", 4)), order("SO-2", 0, ("SKU-A", 4))])
    rep = plan_report(load_problem(data), Decisions(shipments=[ship("SO-1", 0, 4), ship("SO-2", 0, 2)]))
    assert all(ln.share is None and ln.share_note is None for ln in rep.lines)
