"""Customer notices: one per order that has a line not on time or whose new promise is later.

The most severe kind applies: ``will_miss_latest`` (units never delivered by the
order's ``latest`` date: a refund is offered for them) > ``delayed`` (the new date
is after the order's ``promised`` date) > ``not_planned_yet`` (units the plan's
horizon does not cover, for an order without a ``latest`` inside it: their date
follows) > ``backordered``. A line the customer takes only after its due date
(``earliest`` after ``due``) is late only when it comes after that earliest date.
Each notice has a one-sentence message for the customer.
"""

from __future__ import annotations

import datetime as dt

from stockplan.models.report import (
    CustomerNotice,
    LineReport,
    LineStatus,
    NoticeKind,
    NoticeLine,
    OrderReport,
    RefundLine,
    RefundOffer,
)
from stockplan.solver.report.context import ReportContext


def customer_notice(ctx: ReportContext, o: int, lines: list[LineReport], order: OrderReport) -> CustomerNotice | None:
    """The one notice an order gets, of its most severe kind; None when nothing needs saying."""
    src = ctx.problem.orders[o]
    prev = order.previous_promise_period
    # Lines late against their due date (or their earliest date, when that is later) or, when the
    # order carries a promise, against that promise.
    late = [ln for ln in lines if _late(ctx, ln) or (
        prev is not None and ln.last_delivery_period is not None and ln.last_delivery_period > prev)]
    broken = prev is not None and order.promised_period is not None and order.promised_period > prev
    if not late:
        return None
    qty = sum(ln.quantity for ln in lines)
    new = order.promised_date
    short = [ln for ln in lines if ln.delivered < ln.quantity]
    # A refund is owed only against a latest date the customer gave and the plan covers.
    has_latest = src.latest is not None and ctx.problem.horizon.period_of(src.latest) < ctx.problem.horizon.periods
    refund = None
    if short and not has_latest and not broken:
        kind = NoticeKind.NOT_PLANNED_YET
        units = sum(ln.quantity - ln.delivered for ln in short)
        end = ctx.date(ctx.problem.horizon.periods) - dt.timedelta(days=1)
        rest = f"; the other units arrive by {new.isoformat()}" if new is not None else ""
        message = (f"{units} of the {qty} units of your order {src.id} are not planned before {end.isoformat()}: "
                   f"we will tell you their date as soon as we know it{rest}.")
    elif short and has_latest:
        kind = NoticeKind.WILL_MISS_LATEST
        units = sum(ln.quantity - ln.delivered for ln in short)
        refund = RefundOffer(units=units, lines=[RefundLine(line=ln.line, sku=ln.sku, units=ln.quantity - ln.delivered)
                                                 for ln in short])
        ell = lines[0].last_period
        latest = src.latest if src.latest is not None and ctx.problem.horizon.period_of(src.latest) <= ell \
            else ctx.date(ell + 1) - dt.timedelta(days=1)
        rest = f"; the other units arrive by {new.isoformat()}" if new is not None else ""
        message = (f"We cannot deliver {units} of the {qty} units of your order {src.id} by "
                   f"{latest.isoformat()} and offer you a refund for them{rest}.")
    elif broken:
        kind = NoticeKind.DELAYED
        assert new is not None and src.promised is not None
        message = (f"Your order {src.id} is delayed: we promised it for {src.promised.isoformat()} "
                   f"and now expect to deliver it by {new.isoformat()}.")
    else:
        kind = NoticeKind.BACKORDERED
        assert new is not None
        on_time = sum(ln.delivered_by_due for ln in lines)
        if src.promised is not None:
            message = f"Your order {src.id} will arrive by {new.isoformat()}, as we promised."
        elif on_time:
            message = (f"Part of your order {src.id} is on backorder: {on_time} of {qty} units arrive by "
                       f"{src.due.isoformat()} and the rest by {new.isoformat()}.")
        else:
            wanted = max(src.due, src.earliest) if src.earliest is not None else src.due  # a pre-order: its date
            message = (f"Your order {src.id} is on backorder and will arrive by {new.isoformat()} "
                       f"instead of {wanted.isoformat()}.")
    return CustomerNotice(
        order=src.id, customer=src.customer, kind=kind, new_date=new, previous_promise=src.promised,
        lines=[NoticeLine(line=ln.line, sku=ln.sku, quantity=ln.quantity, delivered_by_due=ln.delivered_by_due,
                          short=ln.quantity - ln.delivered, new_date=ln.promised_date) for ln in late],
        refund_offer=refund, message=message,
    )


def _late(ctx: ReportContext, ln: LineReport) -> bool:
    """Late for the customer: not on time, unless they take it only later and get it by then."""
    if ln.status == LineStatus.ON_TIME:
        return False
    i = ctx.line_of[(ln.order, ln.line)]
    first = int(ctx.ix.line_first[i])
    pre_order = first > ln.due_period
    return not (pre_order and ln.delivered == ln.quantity and (ln.last_delivery_period or 0) <= first)
