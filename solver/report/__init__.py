"""The planner's view of a plan: line and order status, reasons, projected stock, notices.

:func:`plan_report` turns a feasible plan's numbers into what a planner and an
order-management system need (spec §Outputs). It is a pure function of the problem
and the decisions; it reads the problem through :class:`ProblemIndex` and never
builds the MIP. Each rule lives in the module named after it:

- :mod:`.context` — the plan's purchase orders as arrays; deliveries (shipments in
  their period, dropship lines in the order's period plus the lead periods).
- :mod:`.statuses` — line and order status, the line and order reports, KPIs.
- :mod:`.stock` — projected stock, open backorders and the net position.
- :mod:`.fifo` — where each purchase order's units go, first in, first out.
- :mod:`.reasons` — why a line is late or short.
- :mod:`.purchase_reasons` — each purchase order's report, and why this agreement.
- :mod:`.reorder` — safety stock and reorder points, and the notes about them.
- :mod:`.notices` — the customer notice of each affected order.
- :mod:`.smoothing` — order variance against demand variance (bullwhip).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.report import PlanReport
from stockplan.solver.indexing import ProblemIndex, build_index
from stockplan.solver.report.context import build_context, deliveries, line_deliveries, line_lateness_cost
from stockplan.solver.report.fifo import fifo_trace
from stockplan.solver.report.purchase_reasons import purchase_order_reports
from stockplan.solver.report.reasons import backorder_reasons
from stockplan.solver.report.reorder import reorder_points
from stockplan.solver.report.statuses import line_reports, line_status, order_reports, plan_kpis
from stockplan.solver.report.stock import (
    attributed_location,
    net_position,
    open_backorders,
    projected_stock,
    stock_projections,
)

__all__ = ["fifo_trace", "line_status", "net_position", "plan_report"]


def plan_report(problem: Problem, decisions: Decisions, ix: ProblemIndex | None = None) -> PlanReport:
    """The planner's view of a feasible plan (see the module docstring for where each rule lives).

    ``ix`` may pass ``build_index(problem)`` when the caller has it already. Raises
    ``ValueError`` when the plan names an unknown agreement, location, SKU or line.
    """
    with _without_cycle_collection():
        return _plan_report(problem, decisions, ix if ix is not None else build_index(problem))


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while the report's objects are built.

    A report of 50,000 orders allocates some 300,000 small objects that hold no
    cycles; every collection would walk the whole problem again, which doubled the
    run time. Reference counting still frees everything; the collector's state is
    restored on the way out.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan_report(problem: Problem, decisions: Decisions, ix: ProblemIndex) -> PlanReport:
    ctx = build_context(problem, decisions, ix)
    dl = deliveries(ctx)
    delivered, by_due, last = line_deliveries(ix, dl)
    status = line_status(ix.line_qty, delivered, by_due)
    loc = attributed_location(ix, dl)
    stock = projected_stock(ctx, dl)
    owed = open_backorders(ix, dl, delivered, by_due, loc)
    reasons = backorder_reasons(ctx, stock, status, by_due, last, dl)
    lines = line_reports(ctx, status, delivered, by_due, last, loc, reasons, line_lateness_cost(ix, dl))
    orders, notices = order_reports(ctx, lines, status)
    in_plan = set(ix.line_order.tolist())
    outside = [o.id for k, o in enumerate(problem.orders) if k not in in_plan]
    reorder, safety_notes = reorder_points(problem)
    return PlanReport(
        period_dates=ctx.dates, lines=lines, orders=orders, orders_outside_horizon=outside,
        kpis=plan_kpis(ctx, status, delivered, by_due, orders), stock=stock_projections(ctx, stock, owed),
        reorder_points=reorder, safety_stock_notes=safety_notes,
        purchase_orders=purchase_order_reports(ctx, dl, stock), notices=notices,
    )
