"""The review index of a stored plan: one small row per thing a planner reviews, and the plan's summary.

A plan of 10,000 orders is a JSON document of some 15 MB; a review page shows 50 of
its rows. So when a plan is stored, its late, short and lost lines, purchase orders,
orders (with their shipments), customer notices and stock projections are also
written as rows of ``review_rows`` with the columns the pages filter and sort by
(SKU, supplier, location, customer, priority, status, money at stake, date) and the
row's display payload; and the figures the plan's header and the plans list show go
into ``plans.summary``. Pages then read one page of rows with SQL (filters, sorting,
paging) and never the plan document: their time and size do not grow with the plan.

The rows are derived from the plan's report and its problem (agreement terms; without
a report, a plan solved with ``explain`` off, purchase orders and orders are described
from the problem alone). Plans stored before this index existed get theirs the first
time a page needs it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from stockplan.api.compare_facts import plan_facts
from stockplan.api.db import PlanRow, ReviewRow
from stockplan.api.memory import collector_paused
from stockplan.models.problem import Problem

#: The kinds of review rows.
LINE, PURCHASE_ORDER, ORDER, NOTICE, STOCK = "line", "purchase_order", "order", "notice", "stock"
#: Line statuses that are exceptions, worst first.
EXCEPTION_STATUSES = ("lost", "partially_lost", "backordered")


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """What the plans list and a plan's header show, without the plan's decisions or report."""
    report = plan.get("report") or {}
    lines = report.get("lines") or []
    exceptions: dict[str, dict[str, float]] = {s: {"lines": 0, "units": 0, "stake": 0.0} for s in EXCEPTION_STATUSES}
    for ln in lines:
        bucket = exceptions.get(ln.get("status", ""))
        if bucket is not None:
            bucket["lines"] += 1
            bucket["units"] += ln["quantity"] - ln.get("delivered_by_due", 0)
            bucket["stake"] += ln.get("lateness_cost") or 0.0
    dates = report.get("period_dates") or []
    return {
        "status": plan.get("status"), "costs": plan.get("costs") or {}, "objective": plan.get("objective"),
        "promise_slip": plan.get("promise_slip", 0.0), "shipment_fees": plan.get("shipment_fees", 0.0),
        "solve": {k: plan.get(k) for k in ("backend", "method", "solve_seconds", "message", "policy")},
        "warnings": list(plan.get("warnings") or []),
        "policy_violations": [v.get("message", "") for v in plan.get("policy_violations") or []],
        "safety_stock_notes": [n.get("message", "") for n in report.get("safety_stock_notes") or []],
        "kpis": {k: v for k, v in (report.get("kpis") or {}).items() if not isinstance(v, list)},
        "has_report": bool(report),
        "period_dates": dates,
        "orders": len(report.get("orders") or []) + len(report.get("orders_outside_horizon") or []),
        "orders_outside_horizon": len(report.get("orders_outside_horizon") or []),
        "skus": len({p["sku"] for p in report.get("stock") or []}),
        "exceptions": exceptions,
        "n_purchase_orders": len(plan.get("purchase_orders") or []),
        "n_shipments": len(plan.get("shipments") or []),
        "n_notices": len(report.get("notices") or []),
    }


def _row(kind: str, item: int, data: dict[str, Any], **columns: Any) -> dict[str, Any]:
    return {"kind": kind, "item": item, "data": data, **columns}


def _line_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, ln in enumerate(report.get("lines") or []):
        if ln.get("status") not in EXCEPTION_STATUSES:
            continue
        short = ln["quantity"] - ln.get("delivered_by_due", 0)
        keep = {k: ln.get(k) for k in ("order", "line", "sku", "customer", "priority", "quantity", "delivered",
                                       "delivered_by_due", "due", "promised_date", "periods_late", "location",
                                       "status", "reason", "reason_code", "age_days", "share", "share_note",
                                       "lateness_cost", "extra_cost", "pricing")}
        out.append(_row(LINE, i, keep, sku=ln["sku"], location=ln.get("location"), order_ref=ln["order"],
                        customer=ln["customer"], priority=ln["priority"], status=ln["status"],
                        stake=ln.get("lateness_cost") or 0.0, units=short, day=ln["due"],
                        rank=EXCEPTION_STATUSES.index(ln["status"])))
    return out


def _purchase_order_rows(plan: dict[str, Any], problem: Problem) -> list[dict[str, Any]]:
    explained = {int(p["index"]): p for p in (plan.get("report") or {}).get("purchase_orders") or []}
    agreements = {a.id: a for a in problem.agreements}
    out = []
    for i, po in enumerate(plan.get("purchase_orders") or []):
        ag = agreements.get(po["agreement"])
        base = explained.get(i)
        if base is None:
            base = {"agreement": po["agreement"], "supplier": ag.supplier if ag else None,
                    "role": ag.role.value if ag else None, "sku": ag.sku if ag else None,
                    "location": ag.location if ag else None, "quantity": po["quantity"],
                    "placed_date": problem.horizon.date_of(po["period"]).isoformat(),
                    "arrival_date": None, "unit_price": None, "cost": None, "serves": [], "reason": ""}
        data = {k: base.get(k) for k in ("agreement", "supplier", "role", "sku", "location", "placed_date",
                                         "arrival_date", "unit_price", "cost", "reason", "to_forecast",
                                         "to_safety_stock", "left_in_stock")}
        serves = base.get("serves") or []
        data |= {"quantity": po["quantity"], "serves": serves[:4], "n_serves": len(serves)}
        if ag is not None:
            data |= {"pack_size": ag.pack_size, "moq": ag.moq, "capacity": ag.capacity_per_period}
        out.append(_row(PURCHASE_ORDER, i, data, sku=data["sku"], supplier=data["supplier"],
                        location=data["location"] or "dropship", status=data["role"], stake=data["cost"],
                        units=po["quantity"], day=data["placed_date"]))
    return out


def _order_rows(plan: dict[str, Any], problem: Problem) -> list[dict[str, Any]]:
    report = plan.get("report") or {}
    sku_of = {(o.id, k): line.sku for o in problem.orders for k, line in enumerate(o.lines)}
    shipped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, sh in enumerate(plan.get("shipments") or []):
        day = problem.horizon.date_of(sh["period"]).isoformat()
        shipped[sh["order"]].append({"index": i, "line": sh["line"], "sku": sku_of.get((sh["order"], sh["line"])),
                                     "location": sh["location"], "quantity": sh["quantity"], "date": day})
    stake: dict[str, float] = defaultdict(float)
    for ln in report.get("lines") or []:
        stake[ln["order"]] += ln.get("lateness_cost") or 0.0
    orders = report.get("orders")
    if orders is None:
        orders = [{"order": o.id, "customer": o.customer, "priority": o.priority, "due": o.due.isoformat(),
                   "ship_complete": o.ship_complete, "status": None}
                  for o in problem.orders if o.id in shipped]
    out = []
    for k, o in enumerate(orders):
        data = {key: o.get(key) for key in ("order", "customer", "priority", "ship_complete", "status", "due",
                                            "promised_date", "previous_promise", "slip_periods", "quantity",
                                            "delivered")}
        data["shipments"] = sorted(shipped.get(o["order"], []), key=lambda x: (x["line"], x["date"]))
        rank = EXCEPTION_STATUSES.index(o["status"]) if o.get("status") in EXCEPTION_STATUSES else 3
        out.append(_row(ORDER, k, data, order_ref=o["order"], customer=o["customer"], priority=o.get("priority"),
                        status=o.get("status"), stake=stake.get(o["order"], 0.0),
                        units=sum(s["quantity"] for s in data["shipments"]), day=o["due"], rank=rank))
    return out


def _notice_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [_row(NOTICE, k, n, order_ref=n["order"], customer=n["customer"], status=n["kind"],
                 day=n.get("new_date"), units=(n.get("refund_offer") or {}).get("units"))
            for k, n in enumerate(report.get("notices") or [])]


def _stock_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each SKU-location's projection; ``rank`` 0 when it needs attention (below safety stock or an exception)."""
    troubled = {(ln["sku"], ln.get("location")) for ln in report.get("lines") or []
                if ln.get("status") in EXCEPTION_STATUSES}
    out = []
    for k, p in enumerate(report.get("stock") or []):
        low = any(p.get("below_safety") or [])
        attention = low or (p["sku"], p["location"]) in troubled
        keep = {key: p.get(key) for key in ("sku", "location", "safety_stock", "reorder_point", "end",
                                            "net_position", "below_safety")}
        out.append(_row(STOCK, k, keep, sku=p["sku"], location=p["location"], status="low" if low else "ok",
                        rank=0 if attention else 1, units=min(p.get("end") or [0])))
    return out


def review_rows(plan: dict[str, Any], problem: Problem) -> list[dict[str, Any]]:
    """Every review row of a plan, as column dicts for ``review_rows`` (without ``plan_id``)."""
    report = plan.get("report") or {}
    return [*_line_rows(report), *_purchase_order_rows(plan, problem), *_order_rows(plan, problem),
            *_notice_rows(report), *_stock_rows(report)]


def index_plan(s: Session, row: PlanRow, problem: Problem) -> None:
    """Write a plan's summary, review rows and compare facts (in the caller's transaction); replaces earlier ones."""
    with collector_paused():
        rows = review_rows(row.plan, problem)
        for r in rows:
            r["plan_id"] = row.id
        s.execute(delete(ReviewRow).where(ReviewRow.plan_id == row.id))
        if rows:
            s.execute(insert(ReviewRow), rows)
        row.summary = plan_summary(row.plan)
        row.compare = plan_facts(row.plan, problem)


def ensure_indexed(s: Session, row: PlanRow) -> dict[str, Any]:
    """The plan's summary, indexing it first if it was stored before the review index existed."""
    if row.summary is None:
        from stockplan.api.services import problem_of

        index_plan(s, row, problem_of(s, row))
        s.commit()
    assert row.summary is not None
    return row.summary
