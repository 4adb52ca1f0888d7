"""Line and order statuses, the line and order reports, and the service KPIs counted from them.

- **Line status** (:func:`line_status`): ``on_time`` when every unit is delivered by
  the due period ``d``; ``backordered`` when every unit is delivered, the last after
  ``d`` (its promised date is the date of that last delivery's period);
  ``partially_lost`` when some, not all, units are delivered by the last period
  ``ℓ``; ``lost`` when nothing is. Orders due beyond the horizon are outside the
  plan: they get no line or order status and are only listed by id in
  ``PlanReport.orders_outside_horizon``.
- **Order status** (:func:`order_reports`): the worst of its lines. A ship-complete
  order is delivered whole or not at all, so its lines share one status. Each order
  gets its customer notice, if any, from :mod:`stockplan.solver.report.notices`.
"""

from __future__ import annotations

import numpy as np

from stockplan.models.report import (
    STATUS_SEVERITY,
    BackorderReason,
    CustomerNotice,
    Kpis,
    LineReport,
    LineStatus,
    OrderReport,
)
from stockplan.solver.report.context import ReportContext
from stockplan.solver.report.notices import customer_notice
from stockplan.solver.report.shares import fair_shares
from stockplan.solver.report.smoothing import order_smoothing

# Status codes: positions in STATUS_SEVERITY, so a larger code is worse.
ON_TIME, BACKORDERED, PARTIALLY_LOST, LOST = range(4)


def line_status(quantity: np.ndarray, delivered: np.ndarray, delivered_by_due: np.ndarray) -> np.ndarray:
    """Status code per line (index into STATUS_SEVERITY): on time, backordered, partially lost, lost."""
    return np.where(
        delivered_by_due >= quantity, ON_TIME,
        np.where(delivered >= quantity, BACKORDERED, np.where(delivered > 0, PARTIALLY_LOST, LOST)),
    )


def line_reports(ctx: ReportContext, status: np.ndarray, delivered: np.ndarray, by_due: np.ndarray,
                 last: np.ndarray, loc: np.ndarray, reasons: dict[int, tuple[BackorderReason, str]],
                 lateness: np.ndarray) -> list[LineReport]:
    ix = ctx.ix
    orders = ctx.problem.orders
    shares = fair_shares(ctx, by_due)
    start = ctx.problem.horizon.start
    out = []
    # Plain lists: indexing numpy arrays element by element is slow on 100,000 lines.
    cols = zip(ix.line_order.tolist(), ix.line_no.tolist(), ix.line_qty.tolist(), delivered.tolist(),
               by_due.tolist(), ix.line_due.tolist(), ix.line_last.tolist(), last.tolist(), loc.tolist(),
               status.tolist(), lateness.tolist(), strict=True)
    for i, (o_i, j, qty, got, on_time, d, ell, li, at, st, late_cost) in enumerate(cols):
        o = orders[o_i]
        code, text = reasons.get(i, (None, None))
        share, note = shares.get(i, (None, None))
        # An open backorder's age: days from when it was ordered to the plan's start.
        age = (start - o.ordered).days if o.ordered is not None and st != ON_TIME else None
        out.append(LineReport(
            order=o.id, line=j, sku=o.lines[j].sku, customer=o.customer, priority=o.priority, quantity=qty,
            delivered=got, delivered_by_due=on_time, due=o.due, due_period=d, last_period=ell,
            last_delivery_period=li if li >= 0 else None, promised_date=ctx.date(li) if li >= 0 else None,
            periods_late=max(0, li - d) if li >= 0 else None, location=ix.locations[at] if at >= 0 else None,
            status=STATUS_SEVERITY[st], reason=text, reason_code=code, ordered=o.ordered,
            age_days=None if age is None else max(0, age), share=share, share_note=note,
            lateness_cost=round(late_cost, 6),
        ))
    return out


def order_reports(ctx: ReportContext, lines: list[LineReport],
                  status: np.ndarray) -> tuple[list[OrderReport], list[CustomerNotice]]:
    """Each order within the horizon (the worst of its lines, its latest promise) and its notice, if any."""
    ix = ctx.ix
    if not lines:
        return [], []
    # Lines of an order are contiguous in the index.
    order_idx, first = np.unique(ix.line_order, return_index=True)
    bounds = np.r_[first, ix.n_lines].tolist()
    worst = np.maximum.reduceat(status, first).tolist()
    last = np.array([-1 if ln.last_delivery_period is None else ln.last_delivery_period for ln in lines])
    promised_of = np.maximum.reduceat(last, first).tolist()
    qty = np.add.reduceat(ix.line_qty, first).tolist()
    got = np.add.reduceat(np.array([ln.delivered for ln in lines], dtype=np.int64), first).tolist()
    reports: list[OrderReport] = []
    notices: list[CustomerNotice] = []
    for r, o_i in enumerate(order_idx.tolist()):
        o = ctx.problem.orders[o_i]
        promised = promised_of[r] if promised_of[r] >= 0 else None
        prev = ctx.problem.horizon.period_of(o.promised) if o.promised is not None else None
        report = OrderReport(
            order=o.id, customer=o.customer, priority=o.priority, ship_complete=o.ship_complete,
            status=STATUS_SEVERITY[worst[r]], line_count=bounds[r + 1] - bounds[r], quantity=qty[r],
            delivered=got[r], due=o.due, due_period=lines[bounds[r]].due_period,
            promised_date=ctx.date(promised) if promised is not None else None, promised_period=promised,
            previous_promise=o.promised, previous_promise_period=prev,
            slip_periods=max(0, promised - prev) if promised is not None and prev is not None else None,
        )
        reports.append(report)
        if worst[r] != ON_TIME or prev is not None:
            notice = customer_notice(ctx, o_i, lines[bounds[r]:bounds[r + 1]], report)
            if notice is not None:
                notices.append(notice)
    return reports, notices


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def plan_kpis(ctx: ReportContext, status: np.ndarray, delivered: np.ndarray, by_due: np.ndarray,
              orders: list[OrderReport]) -> Kpis:
    ix = ctx.ix
    units = int(ix.line_qty.sum())
    orders_on_time = sum(r.status == LineStatus.ON_TIME for r in orders)
    lines_on_time = int((status == ON_TIME).sum())
    smoothing, order_var, demand_var = order_smoothing(ctx)
    return Kpis(
        orders_total=len(orders), orders_on_time=orders_on_time,
        orders_on_time_share=share(orders_on_time, len(orders)),
        lines_total=ix.n_lines, lines_on_time=lines_on_time, lines_on_time_share=share(lines_on_time, ix.n_lines),
        lines_backordered=int((status == BACKORDERED).sum()),
        lines_partially_lost=int((status == PARTIALLY_LOST).sum()), lines_lost=int((status == LOST).sum()),
        units_ordered=units, units_delivered=int(delivered.sum()), units_delivered_by_due=int(by_due.sum()),
        units_lost=int((ix.line_qty - delivered).sum()),
        fill_rate=share(int(delivered.sum()), units), on_time_fill_rate=share(int(by_due.sum()), units),
        order_smoothing=smoothing, total_order_variance=order_var, total_demand_variance=demand_var,
        bullwhip_ratio=order_var / demand_var if demand_var > 0 else None,
    )
