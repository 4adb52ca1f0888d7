"""Safety stock and reorder point per ``stock[]`` entry (spec §Safety stock and reorder points).

The values come from :func:`stockplan.solver.indexing.effective_safety_stock`, the
same function that gives the model its safety stock, so the report shows what the
plan was optimised against.
"""

from __future__ import annotations

from stockplan.models.problem import Problem
from stockplan.models.report import ReorderPoint
from stockplan.solver.indexing import effective_safety_stock


def reorder_points(problem: Problem) -> list[ReorderPoint]:
    """Safety stock and reorder point of every ``stock[]`` entry, in ``stock[]`` order."""
    safety, reorder = effective_safety_stock(problem)
    return [ReorderPoint(sku=sku, location=loc, safety_stock=ss, reorder_point=reorder.get((sku, loc)))
            for (sku, loc), ss in safety.items()]
