"""Safety stock and reorder points (solver/report/reorder.py)."""

from __future__ import annotations

import math

from stockplan.models.plan import Decisions
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
    assert rop == {("SKU-A", "WH-1"): (7, 11), ("SKU-B", "WH-1"): (2, None)}
    proj = {s.sku: s for s in rep.stock}
    assert (proj["SKU-A"].safety_stock, proj["SKU-A"].reorder_point) == (7, 11)
    assert proj["SKU-A"].below_safety == [False] * 4
    assert proj["SKU-B"].below_safety == [True] * 4
    assert math.ceil(1.6448536269514722 * 3 * math.sqrt(2)) == 7
