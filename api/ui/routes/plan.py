"""Routes: one plan's pages (its work queue and each section), and the decisions and edits posted from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.db import AuditEntry, PlanRow, ReviewRow
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError
from stockplan.api.schemas import BulkDecisionRequest, DecisionRequest, EditRequest
from stockplan.api.ui.charts import stock_chart
from stockplan.api.ui.errors import UiError, from_api_error, from_validation_error
from stockplan.api.ui.formatting import humanize
from stockplan.api.ui.identity import safe_next, same_origin, writer_of
from stockplan.api.ui.plan_page import decision_panel, header, load_plan_row
from stockplan.api.ui.tables import SECTIONS, matching, page_number, page_of, read_view
from stockplan.api.ui.web import error_page, form_data, form_fields, is_htmx, page, root_of

router = APIRouter(prefix="/ui", include_in_schema=False)
FLASH_TARGET = re.compile(r"plan|(purchase_order|shipment):\d{1,8}|(purchase_order|shipment)s:\d{1,8}")
AUDIT_PAGE = 50
#: A bulk form: up to a page of checkboxes plus its filters and buttons.
BULK_FIELDS = 400


def _flash(done: str | None, target: str | None) -> str | None:
    if done not in ("approve", "reject", "edit") or not FLASH_TARGET.fullmatch(target or "plan"):
        return None
    verb = {"approve": "Approved", "reject": "Rejected", "edit": "Changed"}[done]
    target = target or "plan"
    if target == "plan":
        return f"{verb} the plan."
    kind, _, n = target.partition(":")
    if kind.endswith("s"):
        count = int(n)
        what = humanize(kind[:-1]) + ("s" if count != 1 else "")
        return f"{verb} {count} {what}."
    return f"{verb} {humanize(kind)} #{int(n) + 1}."


def _query(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def _rows_with_edits(row: PlanRow, rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Each purchase order row with its state, the planner's edited quantity and the solved one."""
    edits = (row.edits or {}).get("purchase_orders", {}) if kind == "purchase-orders" else {}
    out = []
    for r in rows:
        edited = edits.get(str(r["item"]))
        out.append(r | {"index": r["item"], "state": r.get("decided") or row.state, "solved": r.get("quantity"),
                        "edited": int(edited) if edited is not None else None,
                        "current": int(edited) if edited is not None else r.get("quantity")})
    return out


def section_path(plan_id: str, section: str) -> str:
    return f"/ui/plans/{plan_id}" + ("" if section == "exceptions" else f"/{section}")


def section_context(s: Session, row: PlanRow, section: str, query: dict[str, str]) -> dict[str, Any]:
    ctx = header(s, row, section)
    if section == "audit":
        number = page_number(query.get("page"))
        total = int(s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.plan_id == row.id)) or 0)
        entries = s.scalars(select(AuditEntry).where(AuditEntry.plan_id == row.id).order_by(AuditEntry.id.desc())
                            .limit(AUDIT_PAGE).offset((number - 1) * AUDIT_PAGE)).all()
        pages = max(1, -(-total // AUDIT_PAGE))
        return ctx | {"entries": entries, "audit_page": number, "audit_pages": pages, "audit_total": total}
    view = read_view(SECTIONS[section], query)
    result = page_of(s, row, view)
    rows = _rows_with_edits(row, result.rows, section)
    if section == "stock":
        dates = ctx["summary"].get("period_dates") or []
        rows = [stock_chart(r, dates) | {"item": r["item"]} for r in rows]
    return ctx | {"view": view, "result": result, "rows": rows, "base": section_path(row.id, section),
                  "filter_params": {k: v for k, v in view.params().items() if k not in ("page", "sort")}}


TEMPLATES = {"exceptions": "plan.html", "purchase-orders": "plan_purchase_orders.html",
             "shipments": "plan_shipments.html", "notices": "plan_notices.html", "stock": "plan_stock.html",
             "audit": "plan_audit.html"}


def _render(request: Request, s: Session, plan_id: str, section: str, extra: dict[str, Any] | None = None,
            status: int = 200) -> Response:
    try:
        row = load_plan_row(s, plan_id)
        query = _query(request)
        if section != "audit" and "" in query.values():
            # A filter form sends its empty fields too: answer with the view's own, shorter address.
            view = read_view(SECTIONS[section], query)
            return RedirectResponse(root_of(request) + view.url(section_path(row.id, section)), status_code=303)
        ctx = section_context(s, row, section, query)
    except UiError as exc:
        return error_page(request, s, exc)
    ctx["flash"] = _flash(query.get("done"), query.get("target"))
    return page(request, s, TEMPLATES[section], ctx | (extra or {}), status=status)


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(request: Request, plan_id: str, s: SessionDep) -> Response:
    """The plan's work queue: what needs a decision, then its late, short and lost lines by money at stake."""
    return _render(request, s, plan_id, "exceptions")


@router.get("/plans/{plan_id}/{section}", response_class=HTMLResponse)
def plan_section(request: Request, plan_id: str, section: str, s: SessionDep) -> Response:
    """One section of the plan: purchase orders, shipments, notices, stock or the audit trail."""
    if section not in TEMPLATES or section == "exceptions":
        return error_page(request, s, UiError(404, "Page not found", f"a plan has no page {section!r}; its "
                                              f"pages are {', '.join(t for t in TEMPLATES if t != 'exceptions')}"))
    return _render(request, s, plan_id, section)


def _back(request: Request, plan_id: str, form: dict[str, str], done: str, target: str, anchor: str = "") -> str:
    """Where a decision returns: the page (and view) it was posted from, with a flash saying what was done."""
    start = safe_next(form.get("next"))
    if not start.startswith(f"/ui/plans/{plan_id}"):
        start = f"/ui/plans/{plan_id}"
    path, _, query = start.partition("?")
    kept = [(k, v) for k, v in (p.split("=", 1) for p in query.split("&") if "=" in p) if k not in ("done", "target")]
    q = urlencode([*kept, ("done", done), ("target", target)], safe="%")
    return f"{root_of(request)}{path}?{q}{anchor}"


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _validated(model: type[M], body: dict[str, Any]) -> M:
    """The request a form makes, checked as the API checks it (a 422 page naming the field)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _through_service(s: Session, call: Callable[[], T]) -> T:
    """A write through the service layer: its refusal (404, 409, 422) as a page, nothing of it stored."""
    try:
        return call()
    except ApiError as exc:
        s.rollback()
        raise from_api_error(exc) from None


async def _decide(request: Request, plan_id: str, s: Session) -> tuple[DecisionRequest, dict[str, str]]:
    same_origin(request)
    form = await form_data(request)
    actor = writer_of(request, s)
    body: dict[str, Any] = {"decision": form.get("decision"), "target": form.get("target") or "plan",
                            "comment": (form.get("comment") or "").strip() or None}
    if form.get("index"):
        try:
            body["index"] = int(form["index"])
        except ValueError:
            raise UiError(422, "Invalid input", "index must be a whole number",
                          [{"path": "index", "message": "not a whole number"}]) from None
    req = _validated(DecisionRequest, body)
    _through_service(s, lambda: services.decide(s, plan_id, req, actor))
    return req, form


def _refused(request: Request, s: Session, plan_id: str, exc: UiError, next_page: str | None) -> Response:
    """A refused write: an error page when there is no plan to go back to, else the plan's page saying why."""
    if s.get(PlanRow, plan_id) is None or exc.status in (401, 403, 413, 415):
        return error_page(request, s, exc)
    section = "exceptions"
    tail = (next_page or "").split("?")[0].removeprefix(f"/ui/plans/{plan_id}").strip("/")
    if tail in TEMPLATES:
        section = tail
    return _render(request, s, plan_id, section, {"error": exc}, status=exc.status)


@router.post("/plans/{plan_id}/decisions", response_class=HTMLResponse)
async def decide(request: Request, plan_id: str, s: SessionDep) -> Response:
    """Approve or reject the plan or one purchase order; a refusal comes back on the page with its reason."""
    try:
        req, form = await _decide(request, plan_id, s)
    except UiError as exc:
        return _refused(request, s, plan_id, exc, None)
    target = "plan" if req.target == "plan" else f"{req.target}:{req.index}"
    anchor = "#decision" if req.target == "plan" else f"#po-{req.index}"
    return RedirectResponse(_back(request, plan_id, form, req.decision, target, anchor), status_code=303)


@router.post("/plans/{plan_id}/bulk", response_class=HTMLResponse)
async def decide_many(request: Request, plan_id: str, s: SessionDep) -> Response:
    """Approve or reject the selected purchase orders, or all matching the page's filters, with one comment."""
    next_page: str | None = None
    try:
        same_origin(request)
        fields = await form_fields(request, BULK_FIELDS)
        form = {k: v[-1] for k, v in fields.items()}
        next_page = form.get("next")
        actor = writer_of(request, s)
        row = load_plan_row(s, plan_id)
        if form.get("scope") == "all":
            filters = {k: form[k] for k in SECTIONS["purchase-orders"].filters if form.get(k)}
            indices = matching(s, read_view(SECTIONS["purchase-orders"], filters), row)
        else:
            try:
                indices = [int(v) for v in fields.get("index", [])]
            except ValueError:
                raise UiError(422, "Invalid input", "each selected row is a purchase order number",
                              [{"path": "index", "message": "not a whole number"}]) from None
        if not indices:
            raise UiError(422, "Nothing selected", "select purchase orders first, or choose all matching the filter",
                          [{"path": "index", "message": "no purchase order selected"}])
        req = _validated(BulkDecisionRequest, {"decision": form.get("decision"), "target": "purchase_order",
                                               "indices": indices,
                                               "comment": (form.get("comment") or "").strip() or None})
        _through_service(s, lambda: services.decide_items(s, plan_id, req, actor))
    except UiError as exc:
        return _refused(request, s, plan_id, exc, next_page)
    n = len(set(req.indices))
    back = _back(request, plan_id, form, req.decision, f"purchase_orders:{n}", "#bulk")
    return RedirectResponse(back, status_code=303)


@router.post("/plans/{plan_id}/edits", response_class=HTMLResponse)
async def edit(request: Request, plan_id: str, s: SessionDep) -> Response:
    """Change one purchase order's quantity and evaluate the edited plan at once (an htmx fragment)."""
    index: int | None = None
    form: dict[str, str] = {}
    try:
        same_origin(request)
        form = await form_data(request)
        actor = writer_of(request, s)
        try:
            index = int(form.get("index", ""))
            quantity = int(form.get("quantity", "").strip())
        except ValueError:
            raise UiError(422, "Invalid quantity", "the quantity must be a whole number of units, 0 or more",
                          [{"path": "quantity", "message": "not a whole number"}]) from None
        req = _validated(EditRequest, {"target": form.get("target") or "purchase_order", "index": index,
                                       "quantity": quantity})
        verdict = _through_service(s, lambda: services.edit_item(s, plan_id, req, actor))
    except UiError as exc:
        if not is_htmx(request):
            return _refused(request, s, plan_id, exc, form.get("next"))
        return page(request, s, "_edit_result.html", {"error": exc, "index": index, "oob": False}, status=exc.status)
    if not is_htmx(request):
        target = quote(f"{req.target}:{req.index}")
        return RedirectResponse(_back(request, plan_id, form, "edit", target, f"#po-{req.index}"), status_code=303)
    row = load_plan_row(s, plan_id)
    summary = row.summary or {}
    data = s.scalar(select(ReviewRow.data).where(ReviewRow.plan_id == plan_id, ReviewRow.kind == req.target,
                                                 ReviewRow.item == req.index))
    solved = (data or {}).get("quantity")
    if solved is None:  # a shipment: from the plan document
        solved = services.get_plan(s, plan_id).plan.get(services.ITEM_KINDS[req.target], [])[req.index]["quantity"]
    shown = [int(i) for i in (form.get("shown") or "").split(",") if i.isdigit()][:200]
    return page(request, s, "_edit_result.html", {
        "verdict": verdict, "index": req.index, "target": req.target, "quantity": req.quantity, "solved": solved,
        "decision": decision_panel(s, row, summary, verdict), "oob": True, "shown": shown, "plan_id": plan_id,
    })
