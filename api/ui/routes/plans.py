"""Routes: the plans list (``/ui``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.db import JobState, PlanRow
from stockplan.api.deps import SessionDep
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.web import error_page, page

router = APIRouter(prefix="/ui", include_in_schema=False)
LIST_LIMIT = 200
STATUS_FILTERS: dict[str, str] = {
    "all": "All",
    "review": "Awaiting review",
    "approved": "Approved",
    "rejected": "Rejected",
    "superseded": "Superseded",
}


def _problem_summary(plan: dict[str, Any]) -> str:
    report = plan.get("report")
    if not report:
        return f"{len(plan.get('shipments', []))} shipments, {len(plan.get('purchase_orders', []))} purchase orders"
    orders = len(report.get("orders", [])) + len(report.get("orders_outside_horizon", []))
    skus = len({p["sku"] for p in report.get("stock", [])})
    dates = report.get("period_dates") or []
    start = f" from {dates[0]}" if dates else ""
    return f"{orders} orders, {skus} SKUs, {len(dates)} periods{start}"


def _list_row(s: Session, row: PlanRow) -> dict[str, Any]:
    view = services.plan_view(s, row, include_plan=False)
    kpis = (row.plan.get("report") or {}).get("kpis") or {}
    return view | {"summary": _problem_summary(row.plan), "fill_rate": kpis.get("fill_rate"),
                   "created": row.created_at, "edited": bool(row.edits and any(row.edits.values()))}


def _filtered(q: Any, status: str, scenario: str | None) -> Any:
    if status == "review":
        q = q.where(PlanRow.state == "proposed", PlanRow.superseded_by.is_(None))
    elif status in ("approved", "rejected"):
        q = q.where(PlanRow.state == status)
    elif status == "superseded":
        q = q.where(PlanRow.superseded_by.is_not(None))
    if scenario is not None:
        q = q.where(PlanRow.scenario == scenario)
    return q


def default_pair(plans: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The pair preselected for comparing: the newest plan that superseded a listed one, and that one."""
    for p in plans:
        older = next((q for q in plans if q["superseded_by"] == p["id"]), None)
        if older is not None:
            return older["id"], p["id"]
    return (plans[1]["id"], plans[0]["id"]) if len(plans) > 1 else (None, None)


@router.get("", response_class=HTMLResponse)
def plans_list(request: Request, s: SessionDep, status: str = "all", scenario: str | None = None) -> Response:
    """Newest plans first, filtered by status (and scenario); pick two to compare."""
    if status not in STATUS_FILTERS:
        return error_page(request, s, UiError(422, "Unknown filter", f"no status filter {status!r}; use one of "
                                              f"{', '.join(STATUS_FILTERS)}"))
    scenario = scenario or None
    rows = s.scalars(_filtered(select(PlanRow), status, scenario)
                     .order_by(PlanRow.created_at.desc(), PlanRow.id).limit(LIST_LIMIT + 1)).all()
    counts = {key: int(s.scalar(_filtered(select(func.count(PlanRow.id)), key, scenario)) or 0)
              for key in STATUS_FILTERS}
    jobs = services.jobs_by_state(s)
    plans = [_list_row(s, r) for r in rows[:LIST_LIMIT]]
    return page(request, s, "plans.html", {
        "title": "Plans", "plans": plans, "more": len(rows) > LIST_LIMIT, "pair": default_pair(plans),
        "status": status, "scenario": scenario, "filters": STATUS_FILTERS, "counts": counts,
        "pending": jobs.get(JobState.QUEUED, 0) + jobs.get(JobState.RUNNING, 0),
    })
