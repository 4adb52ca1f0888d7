"""Projected stock, open backorders and the net position (solver/report/stock.py)."""

from __future__ import annotations

import pytest

from stockplan.models.plan import Decisions
from stockplan.models.report import PlanReport
from stockplan.solver.evaluator import evaluate
from stockplan.solver.report import plan_report
from stockplan.solver.report.stock import net_position
from tests.conftest import example
from tests.solver.report.builders import day, greedy_plan_of, line_of, order, problem, report, ship, stock


def test_three_customers_projected_stock_and_net_position(three: PlanReport) -> None:
    (s,) = three.stock
    assert s.start == [7, 0, 0, 0, 0, 0]
    assert s.arrivals == [0, 0, 7, 0, 0, 0]
    assert s.shipped == [7, 0, 7, 0, 0, 0]
    assert s.end == [0] * 6
    # 1 + 2 + 2 units of SO-1..SO-3 are owed in periods 0 and 1.
    assert s.open_backorders == [5, 5, 0, 0, 0, 0]
    assert s.net_position == [-5, -5, 0, 0, 0, 0]


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
