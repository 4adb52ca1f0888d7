"""Safety stock and reorder points (solver/report/reorder.py)."""

from __future__ import annotations

import math

from stockplan.models.plan import Decisions
from stockplan.models.report import SafetyStockBasis, SafetyStockNoteCode
from stockplan.models.validation import load_problem
from tests.solver.report.builders import agreement, problem, report, stock


def test_reorder_points_from_demand_statistics() -> None:
    # z(0.95) = 1.6449; primary lead 2 periods: safety ceil(1.6449 * 3 * sqrt 2) = 7, reorder ceil(2 * 2) + 7 = 11.
    data = problem(
        stock=[stock("SKU-A", "WH-1", 10, demand_per_period=2.0, demand_std=3.0, service_level=0.95),
               stock("SKU-B", "WH-1", 1, safety_stock=2)],
        agreements=[agreement("AG-P", "primary", 2)],
    )
    rep = report(data, Decisions())
    rop = {(r.sku, r.location): (r.safety_stock, r.reorder_point) for r in rep.reorder_points}
    # SKU-B's safety stock is given without a demand rate: its reorder point is the safety stock itself.
    assert rop == {("SKU-A", "WH-1"): (7, 11), ("SKU-B", "WH-1"): (2, 2)}
    proj = {s.sku: s for s in rep.stock}
    assert (proj["SKU-A"].safety_stock, proj["SKU-A"].reorder_point) == (7, 11)
    assert proj["SKU-A"].below_safety == [False] * 4
    assert proj["SKU-B"].below_safety == [True] * 4
    assert math.ceil(1.6448536269514722 * 3 * math.sqrt(2)) == 7


def test_reorder_points_say_what_they_come_from_and_use_the_review_period() -> None:
    # L = 2, R = 1 (7 days): ceil(1.6449 * 3 * sqrt 3) = ceil(8.55) = 9, reorder ceil(2 * 3) + 9 = 15.
    data = problem(
        stock=[stock("SKU-A", "WH-1", 10, demand_per_period=2.0, demand_std=3.0, service_level=0.95,
                     review_period_days=7, safety_stock_cost=1.0),
               stock("SKU-B", "WH-2", 1)],
        agreements=[agreement("AG-P", "primary", 2)],
    )
    rep = report(data, Decisions())
    a, b = rep.reorder_points
    assert (a.safety_stock, a.reorder_point, a.basis, a.lead_periods, a.review_periods, a.primary) == (
        9, 15, SafetyStockBasis.STATISTICS, 2, 1, "AG-P")
    assert (a.demand_per_period, a.safety_stock_cost) == (2.0, 1.0)
    assert (b.safety_stock, b.reorder_point, b.basis, b.primary) == (0, None, SafetyStockBasis.NONE, None)
    (proj,) = [s for s in rep.stock if s.sku == "SKU-A"]
    assert (proj.safety_stock, proj.reorder_point) == (9, 15)
    assert rep.safety_stock_notes == []


def test_ignored_safety_stock_is_a_report_note_not_a_plan_warning() -> None:
    from stockplan.solver.solve import solve

    data = problem(stock=[stock("SKU-A", "WH-1", 10, safety_stock=12),
                          stock("SKU-B", "WH-1", 0, demand_per_period=2.0, demand_std=3.0, service_level=0.95,
                                safety_stock_cost=1.0)],
                   agreements=[agreement("AG-7", "alternate", 3, sku="SKU-B")])
    plan = solve(load_problem(data), explain=True)
    # The notes leave the solve alone: proven optimal, no model/evaluator warning.
    assert plan.status == "optimal" and plan.warnings == []
    assert plan.report is not None
    assert [(n.path, n.code) for n in plan.report.safety_stock_notes] == [
        ("stock[0]", SafetyStockNoteCode.NO_COST), ("stock[1]", SafetyStockNoteCode.NO_PRIMARY)]
    assert plan.report.safety_stock_notes[1].message == (
        "SKU-B at WH-1 has demand statistics but no primary agreement: the spec's L = 0 gives safety stock 0; "
        "its alternate AG-7 has a lead time of 3 periods")
