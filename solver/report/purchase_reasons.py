"""Every purchase order of the plan: what it costs, whom it serves, and why this agreement.

**Why this agreement** (:func:`purchase_reason`): the first rule that applies, in the
order :class:`~stockplan.models.report.PurchaseReason` lists them — it is the
primary; there is no primary for that SKU and location; the primary arrives too
late; the primary's capacity is used up; this agreement is cheaper at this
quantity; the primary's MOQ or pack size would force buying more; a dropship holds
no stock; else it is cheaper overall in this plan. Whom it serves comes from the
first-in, first-out trace (:mod:`stockplan.solver.report.fifo`).
"""

from __future__ import annotations

import numpy as np

from stockplan.models.problem import Agreement, Role
from stockplan.models.report import PurchaseOrderReport, PurchaseReason, ServedLine
from stockplan.solver.report.agreements import primary_agreements, primary_rank, spare_capacity
from stockplan.solver.report.context import Deliveries, ReportContext, plural
from stockplan.solver.report.fifo import purchase_order_flows
from stockplan.solver.report.stock import ProjectedStock


def purchase_reason(ctx: ReportContext, k: int, need_due: int | None, need_fill: int | None, locs: np.ndarray,
                    primaries: dict[tuple[int, int], int]) -> tuple[PurchaseReason, str]:
    """Why purchase order ``k`` uses its agreement rather than the primary, the first rule that applies.

    ``need_due``: the earliest due period of the lines it serves; ``need_fill``: the
    earliest period its units serve forecast demand (None: they serve none);
    ``locs``: the locations whose primary it stands in for.
    """
    ix = ctx.ix
    a = int(ctx.po_ag[k])
    ag: Agreement = ix.agreements[a]
    sku = int(ix.ag_sku[a])
    if ag.role == Role.PRIMARY:
        return PurchaseReason.PRIMARY, f"{ag.id} is the primary agreement for {ag.sku} at {ag.location}"
    candidates = [primaries[sku, loc] for loc in locs.tolist() if (sku, loc) in primaries]
    if not candidates:
        mask = np.zeros(ix.n_locations, dtype=bool)
        mask[locs] = True
        return PurchaseReason.NO_PRIMARY, f"no primary agreement for {ag.sku} at {ctx.where(mask)}"
    p = min(candidates, key=lambda c: primary_rank(ix, c))
    primary: Agreement = ix.agreements[p]
    lead = int(ix.ag_lead[p])
    arrival = int(ctx.po_arrival[k])
    # The units are needed by the earliest period they serve, or by when they land if that is later.
    needs = [n for n in (need_due, need_fill) if n is not None]
    need = min(needs) if needs else None
    target = arrival if need is None else max(need, arrival)
    if lead > target:
        if need is None or need < arrival:
            after = f"after {ctx.day(arrival)}, when {ag.id} delivers"
        elif need == need_due:
            after = f"after the period the lines are due in (from {ctx.day(need)})"
        else:
            after = f"after {ctx.day(need)}, when forecast demand takes them"
        days = plural(primary.lead_time_days, "day")
        return (PurchaseReason.PRIMARY_TOO_SLOW,
                f"primary {primary.id} (lead time {days}) would arrive {ctx.day(lead)} at the earliest, {after}")
    qty = int(ctx.used[a, ctx.po_period[k]])
    spare = spare_capacity(ctx, p, 0, target - lead)
    if spare is not None and spare < int(ctx.po_qty[k]):
        when = ctx.span(0, target - lead)
        if spare == 0:
            return (PurchaseReason.PRIMARY_CAPACITY,
                    f"primary {primary.id} capacity ({primary.capacity_per_period} per period) is used up from {when}")
        return (PurchaseReason.PRIMARY_CAPACITY,
                f"primary {primary.id} has only {spare} units of capacity left from {when}")
    price, primary_price = ag.price_at(qty), primary.price_at(qty)
    if price < primary_price - 1e-9:
        breaks = [b.min_qty for b in ag.price_breaks or () if b.min_qty <= qty]
        brk = f" (price break from {max(breaks)})" if breaks and price < ag.unit_cost else ""
        return (PurchaseReason.CHEAPER_AT_QUANTITY,
                f"{ag.id} costs {price:g} per unit at {qty} units{brk}, primary {primary.id} {primary_price:g}")
    if qty < primary.moq or qty % primary.pack_size:
        terms = [f"in packs of {primary.pack_size}"] if qty % primary.pack_size else []
        terms += [f"at least {primary.moq} units at a time"] if qty < primary.moq else []
        return (PurchaseReason.PRIMARY_MOQ_PACK,
                f"primary {primary.id} sells only {' and '.join(terms)}; {qty} units are ordered")
    if ag.role == Role.DROPSHIP:
        return PurchaseReason.DROPSHIP_NO_STOCK, "dropship delivers straight to the customer, holding no stock"
    return (PurchaseReason.LOWER_TOTAL_COST,
            f"cheaper overall than primary {primary.id} in this plan (fixed order cost, holding, shipping)")


def purchase_order_reports(ctx: ReportContext, dl: Deliveries, stock: ProjectedStock) -> list[PurchaseOrderReport]:
    """Every purchase order of the plan: what it costs, whom it serves, and why this agreement."""
    ix = ctx.ix
    orders = ix.problem.orders
    flows = purchase_order_flows(ctx, dl, stock)
    primaries = primary_agreements(ix)
    all_locs = np.arange(ix.n_locations)
    line_order, line_no, line_due = ix.line_order.tolist(), ix.line_no.tolist(), ix.line_due.tolist()
    po_ag, po_arrival = ctx.po_ag.tolist(), ctx.po_arrival.tolist()
    dropship = ix.ag_dropship.tolist()
    out = []
    for k, po in enumerate(ctx.decisions.purchase_orders):
        a, arrival = po_ag[k], po_arrival[k]
        ag: Agreement = ix.agreements[a]
        served = sorted(flows.served.get(k, {}).items(), key=lambda kv: (kv[0][1], kv[0][0]))
        serves = [ServedLine(order=orders[line_order[i]].id, line=line_no[i], quantity=u, period=t,
                             date=ctx.date(t), on_time=t <= line_due[i])
                  for (i, t), u in served]
        need_due = min((line_due[i] for (i, _), _ in served), default=None)
        if dropship[a]:
            rows = [i for (i, _), _ in served]
            locs = np.flatnonzero(ix.allowed[rows].any(axis=0)) if rows else all_locs
        else:
            locs = ix.ag_loc[a:a + 1]
        fill = int(flows.first_fill[k])
        code, text = purchase_reason(ctx, k, need_due, fill if fill >= 0 else None, locs, primaries)
        price = ag.price_at(int(ctx.used[a, po.period]))
        out.append(PurchaseOrderReport(
            index=k, agreement=ag.id, supplier=ag.supplier, role=ag.role.value, sku=ag.sku,
            location=None if dropship[a] else ag.location, period=po.period, placed_date=ctx.date(po.period),
            arrival_period=arrival, arrival_date=ctx.date(arrival), quantity=po.quantity, unit_price=price,
            cost=price * po.quantity, serves=serves, to_forecast=int(flows.to_forecast[k]),
            to_safety_stock=int(flows.to_safety[k]), left_in_stock=int(flows.left[k]),
            beyond_horizon=po.quantity if arrival >= ix.T and not dropship[a] else 0,
            reason=text, reason_code=code,
        ))
    return out
