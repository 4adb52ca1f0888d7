"""Routes: one plan's page, and the decisions and edits posted from it."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.db import Job, PlanRow
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError
from stockplan.api.schemas import DecisionRequest, EditRequest
from stockplan.api.ui.charts import stock_chart
from stockplan.api.ui.errors import UiError, from_api_error, from_validation_error
from stockplan.api.ui.formatting import COST_PARTS, humanize, short, signed_money
from stockplan.api.ui.identity import same_origin, writer_of
from stockplan.api.ui.web import error_page, form_data, is_htmx, page, root_of
from stockplan.models.problem import Problem

router = APIRouter(prefix="/ui", include_in_schema=False)
FLASH_TARGET = re.compile(r"plan|(purchase_order|shipment):\d{1,8}")
SEVERITY = {"lost": 0, "partially_lost": 1, "backordered": 2, "on_time": 3}


def _fix_cost(line: dict[str, Any]) -> dict[str, Any]:
    """What delivering a late line on time would cost, in words."""
    pricing = line.get("pricing") or ""
    kind, _, note = pricing.partition(",")
    extra = line.get("extra_cost")
    text = {"exact": signed_money(extra), "upper_bound": f"at most {signed_money(extra)}",
            "impossible": "cannot be on time", "not_priced": "not priced",
            "not_proven": "not priced: the plan is not proven optimal"}.get(kind, "—")
    if kind in ("exact", "upper_bound") and extra is None:
        text = "—"
    breaks = note.strip().removeprefix("breaks ").strip() if note else None
    return {"text": text, "kind": kind or None, "breaks": breaks, "extra": extra}


def _exceptions(report: dict[str, Any]) -> list[dict[str, Any]]:
    lines = [line for line in report.get("lines", []) if line.get("status") != "on_time"]
    lines.sort(key=lambda ln: (SEVERITY.get(ln.get("status", ""), 9), ln.get("priority", 9), ln["order"], ln["line"]))
    return [ln | {"short": ln["quantity"] - ln.get("delivered", 0), "fix": _fix_cost(ln)} for ln in lines]


def _purchase_orders(row: PlanRow, view: dict[str, Any], problem: Problem) -> list[dict[str, Any]]:
    """One row per purchase order of the plan: the report's explanation, its state, its edit and agreement terms."""
    agreements = {a.id: a for a in problem.agreements}
    explained = {int(p["index"]): p for p in (row.plan.get("report") or {}).get("purchase_orders", [])}
    edits = (view["edits"] or {}).get("purchase_orders", {})
    states = view["items"]["purchase_order"]
    out = []
    for i, po in enumerate(row.plan.get("purchase_orders", [])):
        ag = agreements.get(po["agreement"])
        base = explained.get(i) or {
            "agreement": po["agreement"], "supplier": ag.supplier if ag else "—", "role": ag.role if ag else "—",
            "sku": ag.sku if ag else "—", "location": ag.location if ag else None, "quantity": po["quantity"],
            "placed_date": problem.horizon.date_of(po["period"]).isoformat(), "arrival_date": None,
            "unit_price": None, "cost": None, "serves": [], "reason": "", "reason_code": None,
        }
        edited = edits.get(str(i))
        out.append(base | {
            "index": i, "state": states[i] if i < len(states) else row.state, "solved": po["quantity"],
            "edited": int(edited) if edited is not None else None,
            "current": int(edited) if edited is not None else po["quantity"],
            "pack_size": ag.pack_size if ag else 1, "moq": ag.moq if ag else 0,
            "capacity": ag.capacity_per_period if ag else None,
        })
    return out


def _by_supplier(pos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for po in pos:
        groups[str(po.get("supplier") or "—")].append(po)
    return [{"supplier": name, "orders": items, "units": sum(p["current"] for p in items),
             "cost": sum(p.get("cost") or 0.0 for p in items)} for name, items in sorted(groups.items())]


def _shipments_by_order(row: PlanRow, view: dict[str, Any], problem: Problem) -> list[dict[str, Any]]:
    report = row.plan.get("report") or {}
    sku_of = {(ln["order"], ln["line"]): ln["sku"] for ln in report.get("lines", [])}
    for order in problem.orders:
        for k, line in enumerate(order.lines):
            sku_of.setdefault((order.id, k), line.sku)
    edits = (view["edits"] or {}).get("shipments", {})
    shipped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, sh in enumerate(row.plan.get("shipments", [])):
        qty = int(edits.get(str(i), sh["quantity"]))
        shipped[sh["order"]].append({"index": i, "line": sh["line"], "sku": sku_of.get((sh["order"], sh["line"]), "?"),
                                     "location": sh["location"], "quantity": qty, "solved": sh["quantity"],
                                     "date": problem.horizon.date_of(sh["period"]).isoformat()})
    orders = report.get("orders") or [{"order": o.id, "customer": o.customer, "due": o.due.isoformat(),
                                        "status": None} for o in problem.orders if o.id in shipped]
    out = [o | {"shipments": sorted(shipped.get(o["order"], []), key=lambda x: (x["line"], x["date"]))}
           for o in orders]
    return sorted(out, key=lambda o: o["order"])


def _decision_panel(s: Session, row: PlanRow, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the decision box shows: state, the edited plan's verdict, and whether approval is possible."""
    edited = bool(row.edits and any(row.edits.values()))
    if edited and verdict is None:
        verdict = services.evaluation_view(s, row)
    blocked = None
    if row.state != "proposed":
        blocked = f"This plan is already {row.state}."
    elif row.superseded_by is not None:
        blocked = "A newer plan of this scenario superseded this one: approve that one instead."
    elif edited and verdict is not None and not verdict["feasible"]:
        n = len(verdict["violations"])
        blocked = f"The edited plan breaks {n} rule{'s' if n != 1 else ''}: fix the quantities before approving."
    parts = []
    if edited and verdict is not None:
        solved = row.plan.get("costs") or {}
        parts = [{"label": label, "delta": verdict["costs"].get(key, 0.0) - solved.get(key, 0.0)}
                 for key, label in COST_PARTS if abs(verdict["costs"].get(key, 0.0) - solved.get(key, 0.0)) >= 0.005]
    return {"id": row.id, "state": row.state, "superseded_by": row.superseded_by, "decided_by": row.decided_by,
            "decided_at": row.decided_at, "edited": edited, "verdict": verdict if edited else None,
            "blocked": blocked, "can_approve": blocked is None,
            "can_decide_items": row.state == "proposed",
            "can_approve_items": row.state == "proposed" and row.superseded_by is None
            and not (edited and verdict is not None and not verdict["feasible"]),
            "can_edit": row.state == "proposed" and row.superseded_by is None, "part_deltas": parts,
            "n_purchase_orders": len(row.plan.get("purchase_orders", []))}


def _predecessor(s: Session, row: PlanRow) -> str | None:
    return s.scalar(select(PlanRow.id).where(PlanRow.superseded_by == row.id)
                    .order_by(PlanRow.created_at.desc()).limit(1))


def plan_context(s: Session, row: PlanRow) -> dict[str, Any]:
    view = services.plan_view(s, row)
    problem = services.problem_of(s, row)
    plan = row.plan
    report = plan.get("report") or {}
    dates = report.get("period_dates") or [problem.horizon.date_of(t).isoformat()
                                           for t in range(problem.horizon.periods)]
    costs = plan.get("costs") or {}
    total = sum(costs.get(k, 0.0) for k, _ in COST_PARTS) or 1.0
    job = s.get(Job, row.job_id)
    pos = _purchase_orders(row, view, problem)
    return {
        "title": f"Plan {short(row.id)}", "plan": view, "row": row, "report": bool(report),
        "kpis": report.get("kpis") or {}, "costs": [{"key": k, "label": label, "value": costs.get(k, 0.0),
                                                      "share": costs.get(k, 0.0) / total} for k, label in COST_PARTS],
        "solve": {k: plan.get(k) for k in ("backend", "method", "solve_seconds", "message", "policy")},
        "job": job, "exceptions": _exceptions(report), "outside": report.get("orders_outside_horizon", []),
        "suppliers": _by_supplier(pos), "n_pos": len(pos), "orders": _shipments_by_order(row, view, problem),
        "notices": report.get("notices", []),
        "charts": [stock_chart(p, dates) for p in report.get("stock", [])],
        "audit": services.audit_trail(s, row.id), "decision": _decision_panel(s, row),
        "predecessor": _predecessor(s, row),
    }


def _load_plan(s: Session, plan_id: str) -> PlanRow:
    try:
        return services.get_plan(s, plan_id)
    except ApiError as exc:
        raise UiError(404, "Plan not found", f"there is no plan {plan_id!r}: it may have been mistyped, or "
                                             "belong to another database") from exc


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(request: Request, plan_id: str, s: SessionDep, done: str | None = None,
              target: str | None = None) -> Response:
    """The plan: header, exceptions first, purchase orders by supplier, shipments, notices, stock, audit."""
    try:
        row = _load_plan(s, plan_id)
    except UiError as exc:
        return error_page(request, s, exc)
    flash = None
    if done in ("approve", "reject", "edit") and FLASH_TARGET.fullmatch(target or "plan"):
        what = "the plan" if target in (None, "", "plan") else humanize((target or "").replace(":", " #"))
        flash = {"approve": "Approved", "reject": "Rejected", "edit": "Changed"}[done] + f" {what}."
    return page(request, s, "plan.html", plan_context(s, row) | {"flash": flash})


async def _decide(request: Request, plan_id: str, s: Session) -> tuple[PlanRow, DecisionRequest]:
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
    try:
        req = DecisionRequest.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    try:
        return services.decide(s, plan_id, req, actor), req
    except ApiError as exc:
        s.rollback()
        raise from_api_error(exc) from None


@router.post("/plans/{plan_id}/decisions", response_class=HTMLResponse)
async def decide(request: Request, plan_id: str, s: SessionDep) -> Response:
    """Approve or reject the plan or one purchase order; a refusal comes back on the plan page with its reason."""
    try:
        _, req = await _decide(request, plan_id, s)
    except UiError as exc:
        row = s.get(PlanRow, plan_id)
        if row is None or exc.status in (401, 403, 415):
            return error_page(request, s, exc)
        return page(request, s, "plan.html", plan_context(s, row) | {"error": exc}, status=exc.status)
    target = "plan" if req.target == "plan" else f"{req.target}:{req.index}"
    anchor = "#decision" if req.target == "plan" else f"#po-{req.index}"
    return RedirectResponse(f"{root_of(request)}/ui/plans/{plan_id}?done={req.decision}&target={quote(target)}{anchor}",
                            status_code=303)


@router.post("/plans/{plan_id}/edits", response_class=HTMLResponse)
async def edit(request: Request, plan_id: str, s: SessionDep) -> Response:
    """Change one purchase order's quantity and evaluate the edited plan at once (an htmx fragment)."""
    index: int | None = None
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
        try:
            req = EditRequest.model_validate({"target": form.get("target") or "purchase_order", "index": index,
                                              "quantity": quantity})
        except ValidationError as exc:
            raise from_validation_error(exc) from None
        try:
            verdict = services.edit_item(s, plan_id, req, actor)
        except ApiError as exc:
            s.rollback()
            raise from_api_error(exc) from None
    except UiError as exc:
        if not is_htmx(request):
            row = s.get(PlanRow, plan_id)
            if row is None or exc.status in (401, 403, 415):
                return error_page(request, s, exc)
            return page(request, s, "plan.html", plan_context(s, row) | {"error": exc}, status=exc.status)
        return page(request, s, "_edit_result.html", {"error": exc, "index": index, "oob": False}, status=exc.status)
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/ui/plans/{plan_id}?done=edit&target="
                                f"{quote(f'{req.target}:{req.index}')}#po-{req.index}", status_code=303)
    row = services.get_plan(s, plan_id)
    view = services.plan_view(s, row, include_plan=False)
    po = row.plan.get("purchase_orders", [])[req.index] if req.target == "purchase_order" else None
    solved = row.plan.get(services.ITEM_KINDS[req.target], [])[req.index]["quantity"]
    return page(request, s, "_edit_result.html", {
        "verdict": verdict, "index": req.index, "target": req.target, "quantity": req.quantity, "solved": solved,
        "agreement": po["agreement"] if po else None, "decision": _decision_panel(s, row, verdict), "oob": True,
        "states": view["items"]["purchase_order"], "plan_id": plan_id,
    })
