"""Safety stock and reorder point per ``stock[]`` entry, and the notes a planner should read about them.

The values and notes come from :mod:`stockplan.solver.safety_stock` (spec §Safety
stock and reorder points, with the review period extension), the same values the
model is built with, so the report shows what the plan was optimised against.
"""

from __future__ import annotations

from stockplan.models.problem import Problem
from stockplan.models.report import ReorderPoint, SafetyStockNote
from stockplan.solver.safety_stock import safety_stock_levels, safety_stock_notes


def reorder_points(problem: Problem) -> tuple[list[ReorderPoint], list[SafetyStockNote]]:
    """Safety stock and reorder point of every ``stock[]`` entry, in ``stock[]`` order, and the notes."""
    levels = safety_stock_levels(problem)
    rows = [ReorderPoint(sku=v.sku, location=v.location, safety_stock=v.safety_stock, reorder_point=v.reorder_point,
                         basis=v.basis, lead_periods=v.lead_periods, review_periods=v.review_periods,
                         primary=v.primary, demand_per_period=v.demand_per_period,
                         safety_stock_cost=v.safety_stock_cost)
            for v in levels]
    return rows, safety_stock_notes(problem, levels)
