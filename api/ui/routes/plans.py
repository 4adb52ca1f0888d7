"""Route: the plans list (``/ui``), for triage: what each plan leaves late or lost, and how sure it is."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer

from stockplan.api import services
from stockplan.api.db import JobState, PlanRow
from stockplan.api.deps import SessionDep
from stockplan.api.review_index import ensure_indexed
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.tables import page_number, parse_date
from stockplan.api.ui.web import error_page, page, root_of

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 50
STATUS_FILTERS: dict[str, str] = {
    "all": "All",
    "review": "Awaiting review",
    "approved": "Approved",
    "rejected": "Rejected",
    "superseded": "Superseded",
}


def _filtered(q: Select[Any], status: str, scenario: str | None, start: dt.date | None,
              end: dt.date | None) -> Select[Any]:
    if status == "review":
        q = q.where(PlanRow.state == "proposed", PlanRow.superseded_by.is_(None))
    elif status in ("approved", "rejected"):
        q = q.where(PlanRow.state == status)
    elif status == "superseded":
        q = q.where(PlanRow.superseded_by.is_not(None))
    if scenario is not None:
        q = q.where(PlanRow.scenario == scenario)
    if start is not None:
        q = q.where(PlanRow.created_at >= dt.datetime.combine(start, dt.time(), dt.UTC))
    if end is not None:
        q = q.where(PlanRow.created_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))
    return q


def _day(value: str | None, name: str) -> dt.date | None:
    return dt.date.fromisoformat(parse_date(value, name)) if value else None


def _list_row(s: Session, row: PlanRow, supersedes: str | None) -> dict[str, Any]:
    summary = ensure_indexed(s, row)
    exceptions = summary.get("exceptions") or {}
    kpis = summary.get("kpis") or {}
    return {"id": row.id, "scenario": row.scenario, "state": row.state, "superseded_by": row.superseded_by,
            "supersedes": supersedes, "outcome": row.outcome, "cost": row.cost, "gap": row.gap,
            "decided_by": row.decided_by, "created": row.created_at,
            "edited": bool(row.edits and any(row.edits.values())), "time_limit": row.outcome == "time_limit",
            "late": int((exceptions.get("backordered") or {}).get("lines", 0)),
            "short": int((exceptions.get("partially_lost") or {}).get("lines", 0))
            + int((exceptions.get("lost") or {}).get("lines", 0)),
            "units_lost": kpis.get("units_lost"), "fill_rate": kpis.get("fill_rate"),
            "summary": _problem_words(summary)}


def _problem_words(summary: dict[str, Any]) -> str:
    """The plan's problem in a few words: orders, SKUs, periods and start (or, without a report, its items)."""
    if not summary.get("has_report"):
        return f"{summary.get('n_shipments', 0):,} shipments, {summary.get('n_purchase_orders', 0):,} purchase orders"
    dates = summary.get("period_dates") or []
    start = f" from {dates[0]}" if dates else ""
    return f"{summary.get('orders', 0):,} orders, {summary.get('skus', 0):,} SKUs, {len(dates)} periods{start}"


def default_pair(plans: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The pair preselected for comparing: the newest plan that superseded a listed one, and that one."""
    for p in plans:
        older = next((q for q in plans if q["superseded_by"] == p["id"]), None)
        if older is not None:
            return older["id"], p["id"]
    return (plans[1]["id"], plans[0]["id"]) if len(plans) > 1 else (None, None)


@router.get("", response_class=HTMLResponse)
def plans_list(request: Request, s: SessionDep, status: str = "all", scenario: str | None = None) -> Response:
    """Newest plans first, filtered by status, scenario and creation date, 50 a page; pick two to compare."""
    query = dict(request.query_params)
    start, end = query.get("from"), query.get("to")
    try:
        if status not in STATUS_FILTERS:
            raise UiError(422, "Unknown filter", f"no status filter {status!r}; use one of {', '.join(STATUS_FILTERS)}")
        number = page_number(query.get("page"))
        first, last = _day(start, "from"), _day(end, "to")
    except UiError as exc:
        return error_page(request, s, exc)
    scenario = scenario or None
    keep = {k: v for k, v in {"scenario": scenario, "from": start, "to": end}.items() if v}

    def link(**changes: Any) -> str:
        params = {"status": status, **keep, **changes}
        return "/ui?" + urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})

    if "" in query.values():  # the filter form's empty fields: the list at its own, shorter address
        return RedirectResponse(root_of(request) + link(page=number), status_code=303)
    counts = {key: int(s.scalar(_filtered(select(func.count(PlanRow.id)), key, scenario, first, last)) or 0)
              for key in STATUS_FILTERS}
    total = counts[status]
    rows = s.scalars(_filtered(select(PlanRow).options(defer(PlanRow.plan)), status, scenario, first, last)
                     .order_by(PlanRow.created_at.desc(), PlanRow.id)
                     .limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
    ids = [r.id for r in rows]
    supersedes = dict(s.execute(select(PlanRow.superseded_by, PlanRow.id).where(PlanRow.superseded_by.in_(ids))
                                .order_by(PlanRow.created_at)).all()) if ids else {}
    jobs = services.jobs_by_state(s)
    plans = [_list_row(s, r, supersedes.get(r.id)) for r in rows]
    pages = max(1, -(-total // PAGE_SIZE))

    return page(request, s, "plans.html", {
        "title": "Plans", "plans": plans, "pair": default_pair(plans), "status": status, "scenario": scenario,
        "filters": STATUS_FILTERS, "counts": counts, "keep": keep, "from": start or "", "to": end or "",
        "pending": jobs.get(JobState.QUEUED, 0) + jobs.get(JobState.RUNNING, 0), "total": total,
        "page_no": number, "pages": pages, "first": min(total, (number - 1) * PAGE_SIZE + 1),
        "last": min(total, number * PAGE_SIZE), "link": link,
    })
