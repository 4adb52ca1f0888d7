"""The planner's review pages under ``/ui``: server-rendered (Jinja2), htmx for checking an edit in place.

The pages use the same service layer as the API (:mod:`stockplan.api.services`):
reading a plan, deciding, editing and evaluating go through the functions the
``/v1`` routes call, so a decision made here is the same decision, with the same
audit entry and the same refusals (409 while an edited plan breaks a rule).
Nothing here needs JavaScript but the in-place check of an edited quantity; htmx
(``static/htmx.min.js``, vendored from the npm package) does that, and without it
the edit form posts and the page comes back with the verdict.

Writes: in local development mode (no API keys) anyone on loopback may decide, as
``local-dev`` or the name set at ``/ui/login``; once keys exist, ``/ui/login`` takes
a key into an HttpOnly cookie and every write records the key's owner.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockplan.api import auth, services
from stockplan.api.app import get_session
from stockplan.api.db import Job, JobState, PlanRow
from stockplan.api.errors import ApiError
from stockplan.api.schemas import DecisionRequest, EditRequest
from stockplan.models.problem import Problem
from stockplan.models.validation import errors_from_pydantic

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
HTMX_VERSION = "2.0.11"
KEY_COOKIE = "stockplan_key"
ACTOR_COOKIE = "stockplan_actor"
LIST_LIMIT = 200
FLASH_TARGET = re.compile(r"plan|(purchase_order|shipment):\d{1,8}")

COST_PARTS: list[tuple[str, str]] = [
    ("purchase", "Purchase"),
    ("order_fixed", "Order fixed costs"),
    ("holding", "Holding"),
    ("safety_stock", "Below safety stock"),
    ("backorder", "Backorder"),
    ("lost_sales", "Lost sales"),
    ("shipping", "Shipping"),
]
STATUS_FILTERS: dict[str, str] = {
    "all": "All",
    "review": "Awaiting review",
    "approved": "Approved",
    "rejected": "Rejected",
    "superseded": "Superseded",
}
SEVERITY = {"lost": 0, "partially_lost": 1, "backordered": 2, "on_time": 3}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

SessionDep = Annotated[Session, Depends(get_session)]
router = APIRouter(prefix="/ui", include_in_schema=False)


class UiError(Exception):
    """An error to show as a page (or, for htmx, as a fragment)."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []


def install_ui(app: FastAPI) -> None:
    """Serve the review pages under ``/ui`` and their assets under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)


# ---------------------------------------------------------------------------------------------- formatting


def missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def money(value: Any) -> str:
    if missing(value):
        return "—"
    v = float(value)
    return f"{0.0 if abs(v) < 0.005 else v:,.2f}"


def signed_money(value: Any) -> str:
    if missing(value):
        return "—"
    v = float(value)
    if abs(v) < 0.005:
        return "±0.00"
    return f"+{v:,.2f}" if v > 0 else f"−{-v:,.2f}"


def percent(value: Any, digits: int = 1) -> str:
    if missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def signed_points(value: Any) -> str:
    """A change of a share, in percentage points."""
    if missing(value):
        return "—"
    v = float(value) * 100
    if abs(v) < 0.005:
        return "±0.0 pt"
    return f"+{v:.1f} pt" if v > 0 else f"−{-v:.1f} pt"


def when(value: dt.datetime | str | None) -> str:
    if missing(value) or value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def short(plan_id: str | None) -> str:
    return (plan_id or "")[:8]


def humanize(code: str | None) -> str:
    return (code or "").replace("_", " ")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, signed_money=signed_money, percent=percent, signed_points=signed_points,
                       when=when, short=short, humanize=humanize)
    return env


templates = Jinja2Templates(env=_environment())


# ---------------------------------------------------------------------------------------------- pages, identity


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def identity(request: Request, s: Session) -> dict[str, Any]:
    """Who is looking: the mode, and the actor their writes would record (None: must sign in first)."""
    if not auth.keys_configured(s):
        name = (request.cookies.get(ACTOR_COOKIE) or "").strip()[:200]
        return {"key_mode": False, "actor": name or auth.LOCAL_ACTOR, "named": bool(name)}
    key = request.cookies.get(KEY_COOKIE)
    owner = auth.owner_of(s, key) if key else None
    return {"key_mode": True, "actor": owner, "named": owner is not None, "stale": key is not None and owner is None}


def writer_of(request: Request, s: Session) -> str:
    """The actor of a write from these pages, or a 401 asking to sign in."""
    who = identity(request, s)
    if who["actor"] is None:
        detail = ("your API key is unknown or revoked: sign in again with a valid key" if who.get("stale") else
                  "this service requires an API key for decisions and edits: sign in with yours first")
        raise UiError(401, "Sign in to decide", detail)
    return str(who["actor"])


def same_origin(request: Request) -> None:
    """Refuse a write posted from another site (the key rides in a cookie)."""
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host")):
        raise UiError(403, "Refused", "this form was posted from another site")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise UiError(403, "Refused", "this form was posted from another site")


def page(request: Request, s: Session, name: str, context: dict[str, Any], status: int = 200) -> Response:
    ctx = {"root": _root(request), "who": identity(request, s), "htmx_version": HTMX_VERSION,
           "path": request.url.path, **context}
    return templates.TemplateResponse(request, name, ctx, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, s: Session, exc: UiError) -> Response:
    return page(request, s, "error.html", {"error": exc, "title": exc.title}, status=exc.status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def form_data(request: Request) -> dict[str, str]:
    """An urlencoded form (what these pages and htmx post), last value per field."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UiError(415, "Unsupported form", f"post the form as application/x-www-form-urlencoded, "
                                               f"not {media or 'nothing'}")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise UiError(422, "Invalid form", "the form is not UTF-8") from None
    fields = parse_qs(text, keep_blank_values=True, max_num_fields=50)
    return {k: v[-1] for k, v in fields.items()}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


def _api_error(exc: ApiError) -> UiError:
    titles = {404: "Not found", 409: "Refused", 422: "Invalid input", 401: "Sign in to decide"}
    errors = [{"path": e.path, "message": e.message} for e in exc.errors or []]
    return UiError(exc.status, titles.get(exc.status, "Error"), exc.detail, errors)


def _validation_error(exc: ValidationError) -> UiError:
    errors = [{"path": e.path, "message": e.message} for e in errors_from_pydantic(exc)]
    return UiError(422, "Invalid input", f"{len(errors)} invalid field(s)", errors)


# ---------------------------------------------------------------------------------------------- plans list


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


# ---------------------------------------------------------------------------------------------- plan page


def stock_chart(proj: dict[str, Any], dates: list[str], width: int = 290, height: int = 150) -> dict[str, Any]:
    """Geometry of one SKU/location chart: end stock and net position against safety stock, per period."""
    end = [int(v) for v in proj.get("end", [])]
    net = [int(v) for v in proj.get("net_position", end)]
    safety = int(proj.get("safety_stock", 0))
    n = max(len(end), 1)
    left, right, top, bottom = 38, 10, 12, 26
    lo = min([0, *end, *net])
    hi = max([1, safety, *end, *net])
    span = hi - lo or 1

    def x(t: int) -> float:
        return round(left + (t * (width - left - right) / (n - 1) if n > 1 else (width - left - right) / 2), 1)

    def y(v: float) -> float:
        return round(top + (hi - v) * (height - top - bottom) / span, 1)

    step = max(1, math.ceil(n / 6))
    ticks = [{"x": x(t), "label": dates[t][5:] if t < len(dates) else str(t)} for t in range(0, n, step)]
    below = proj.get("below_safety") or [v < safety for v in end]
    points: list[dict[str, Any]] = [
        {"x": x(t), "y": y(v), "below": bool(below[t]) if t < len(below) else v < safety, "value": v,
         "date": dates[t] if t < len(dates) else f"period {t}"} for t, v in enumerate(end)]
    y_labels = sorted({(y(v), v) for v in {hi, lo, safety}}, key=lambda p: p[0])
    low_periods = [p["date"] for p in points if p["below"]]
    desc = (f"End stock by period: {', '.join(str(v) for v in end)}; safety stock {safety}; net position "
            f"{', '.join(str(v) for v in net)}." + (f" Below safety stock on {', '.join(low_periods)}."
                                                    if low_periods else ""))
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "end": " ".join(f"{p['x']},{p['y']}" for p in points),
        "net": " ".join(f"{x(t)},{y(v)}" for t, v in enumerate(net)) if net != end else None,
        "safety_y": y(safety), "zero_y": y(0), "points": points, "ticks": ticks,
        "y_labels": [{"y": yy, "label": v} for yy, v in y_labels], "desc": desc, "low": bool(low_periods),
        "sku": proj.get("sku"), "location": proj.get("location"), "safety": safety,
    }


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
        raise _validation_error(exc) from None
    try:
        return services.decide(s, plan_id, req, actor), req
    except ApiError as exc:
        s.rollback()
        raise _api_error(exc) from None


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
    return RedirectResponse(f"{_root(request)}/ui/plans/{plan_id}?done={req.decision}&target={quote(target)}{anchor}",
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
            raise _validation_error(exc) from None
        try:
            verdict = services.edit_item(s, plan_id, req, actor)
        except ApiError as exc:
            s.rollback()
            raise _api_error(exc) from None
    except UiError as exc:
        if not is_htmx(request):
            row = s.get(PlanRow, plan_id)
            if row is None or exc.status in (401, 403, 415):
                return error_page(request, s, exc)
            return page(request, s, "plan.html", plan_context(s, row) | {"error": exc}, status=exc.status)
        return page(request, s, "_edit_result.html", {"error": exc, "index": index, "oob": False}, status=exc.status)
    if not is_htmx(request):
        return RedirectResponse(f"{_root(request)}/ui/plans/{plan_id}?done=edit&target="
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


# ---------------------------------------------------------------------------------------------- compare


def _key_po(po: dict[str, Any], problem: Problem) -> tuple[str, str]:
    return (po["agreement"], problem.horizon.date_of(po["period"]).isoformat())


def _key_shipment(sh: dict[str, Any], problem: Problem) -> tuple[str, int, str, str]:
    return (sh["order"], int(sh["line"]), sh["location"], problem.horizon.date_of(sh["period"]).isoformat())


def _totals(items: Iterable[dict[str, Any]], key: Any, problem: Problem) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for it in items:
        out[key(it, problem)] += int(it["quantity"])
    return out


def diff_quantities(a: dict[Any, int], b: dict[Any, int]) -> tuple[list[dict[str, Any]], int]:
    """Keys added, removed or with another quantity from ``a`` to ``b``; and how many are unchanged."""
    rows = []
    same = 0
    for key in sorted(set(a) | set(b)):
        qa, qb = a.get(key), b.get(key)
        if qa == qb:
            same += 1
            continue
        change = "added" if qa is None else "removed" if qb is None else "changed"
        rows.append({"key": key, "a": qa, "b": qb, "change": change, "delta": (qb or 0) - (qa or 0)})
    return rows, same


def _side(s: Session, row: PlanRow) -> dict[str, Any]:
    edited = bool(row.edits and any(row.edits.values()))
    costs = dict(row.plan.get("costs") or {})
    cost = row.cost
    if edited:
        verdict = services.evaluation_view(s, row)
        costs, cost = verdict["costs"], verdict["cost"]
    kpis = (row.plan.get("report") or {}).get("kpis") or {}
    return {"row": row, "view": services.plan_view(s, row, include_plan=False), "edited": edited, "cost": cost,
            "costs": costs, "kpis": kpis, "decisions": services.edited_decisions(row).model_dump(mode="json"),
            "problem": services.problem_of(s, row), "job": s.get(Job, row.job_id)}


def compare_context(s: Session, a_row: PlanRow, b_row: PlanRow) -> dict[str, Any]:
    a, b = _side(s, a_row), _side(s, b_row)
    metrics: list[dict[str, Any]] = [{"label": "Total cost", "a": a["cost"], "b": b["cost"], "kind": "money",
                                      "higher": "worse", "total": True}]
    metrics += [{"label": label, "a": a["costs"].get(k, 0.0), "b": b["costs"].get(k, 0.0), "kind": "money",
                 "higher": "worse"} for k, label in COST_PARTS]
    metrics += [{"label": "Proven bound", "a": a_row.bound, "b": b_row.bound, "kind": "money", "higher": None},
                {"label": "Gap", "a": a_row.gap, "b": b_row.gap, "kind": "share", "higher": "worse"},
                {"label": "Fill rate", "a": a["kpis"].get("fill_rate"), "b": b["kpis"].get("fill_rate"),
                 "kind": "share", "higher": "better"},
                {"label": "On-time fill rate", "a": a["kpis"].get("on_time_fill_rate"),
                 "b": b["kpis"].get("on_time_fill_rate"), "kind": "share", "higher": "better"},
                {"label": "Units lost", "a": a["kpis"].get("units_lost"), "b": b["kpis"].get("units_lost"),
                 "kind": "units", "higher": "worse"}]
    for m in metrics:
        m["delta"] = None if m["a"] is None or m["b"] is None else m["b"] - m["a"]
        d, tolerance = m["delta"], 0.005 if m["kind"] == "money" else 1e-9
        m["tone"] = ("same" if d is None or abs(d) < tolerance or m["higher"] is None else
                     ("worse" if (d > 0) == (m["higher"] == "worse") else "better"))
    agreements = {ag.id: ag for side in (a, b) for ag in side["problem"].agreements}
    pos, po_same = diff_quantities(_totals(a["decisions"]["purchase_orders"], _key_po, a["problem"]),
                                   _totals(b["decisions"]["purchase_orders"], _key_po, b["problem"]))
    for r in pos:
        ag = agreements.get(r["key"][0])
        r.update(agreement=r["key"][0], date=r["key"][1], supplier=ag.supplier if ag else "—",
                 sku=ag.sku if ag else "—", location=(ag.location or "dropship") if ag else "—")
    ships, ship_same = diff_quantities(_totals(a["decisions"]["shipments"], _key_shipment, a["problem"]),
                                       _totals(b["decisions"]["shipments"], _key_shipment, b["problem"]))
    for r in ships:
        r.update(order=r["key"][0], line=r["key"][1], location=r["key"][2], date=r["key"][3])
    same_problem = a["job"] is not None and b["job"] is not None and a["job"].problem == b["job"].problem
    return {"title": f"Compare {short(a_row.id)} and {short(b_row.id)}", "a": a, "b": b, "metrics": metrics,
            "pos": pos, "po_same": po_same, "ships": ships, "ship_same": ship_same, "same_problem": same_problem}


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, s: SessionDep, a: str | None = None, b: str | None = None) -> Response:
    """Two plans side by side: cost parts with deltas (B − A), and the decisions that changed."""
    if not a or not b:
        return error_page(request, s, UiError(422, "Pick two plans", "choose plan A and plan B to compare: "
                                                                     "the A and B columns of the plans list"))
    if a == b:
        return error_page(request, s, UiError(422, "Pick two plans", "plan A and plan B are the same plan"))
    missing = [p for p in (a, b) if s.get(PlanRow, p) is None]
    if missing:
        return error_page(request, s, UiError(404, "Plan not found",
                                              f"there is no plan {' or '.join(repr(m) for m in missing)}"))
    return page(request, s, "compare.html", compare_context(s, services.get_plan(s, a), services.get_plan(s, b)))


# ---------------------------------------------------------------------------------------------- sign-in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, s: SessionDep, next: str | None = None) -> Response:
    """A key (when keys are configured) or a name (local development) for the decisions made here."""
    return page(request, s, "login.html", {"title": "Sign in", "next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, s: SessionDep) -> Response:
    try:
        same_origin(request)
        form = await form_data(request)
    except UiError as exc:
        return error_page(request, s, exc)
    target = _safe_next(form.get("next"))
    secure = request.url.scheme == "https"
    if auth.keys_configured(s):
        key = (form.get("key") or "").strip()
        owner = auth.owner_of(s, key) if key else None
        if owner is None:
            return page(request, s, "login.html", {"title": "Sign in", "next": target,
                                                   "error": "unknown or revoked API key" if key else
                                                   "enter your API key"}, status=401)
        response = RedirectResponse(f"{_root(request)}{target}", status_code=303)
        response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", secure=secure, path="/ui")
        return response
    name = (form.get("name") or "").strip()
    if len(name) > 200:
        return page(request, s, "login.html", {"title": "Sign in", "next": target,
                                               "error": "a name has at most 200 characters"}, status=422)
    response = RedirectResponse(f"{_root(request)}{target}", status_code=303)
    if name:
        response.set_cookie(ACTOR_COOKIE, name, httponly=True, samesite="strict", secure=secure, path="/ui",
                            max_age=30 * 86_400)
    else:
        response.delete_cookie(ACTOR_COOKIE, path="/ui")
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, s: SessionDep) -> Response:
    try:
        same_origin(request)
    except UiError as exc:
        return error_page(request, s, exc)
    response = RedirectResponse(f"{_root(request)}/ui", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/ui")
    response.delete_cookie(ACTOR_COOKIE, path="/ui")
    return response


@router.api_route("/{rest:path}", methods=["GET", "POST"], response_class=HTMLResponse)
def not_found(request: Request, rest: str, s: SessionDep) -> Response:
    """Any other address under /ui: a page saying so (the API's 404s stay JSON)."""
    if rest == "":
        return RedirectResponse(f"{_root(request)}/ui", status_code=307)
    return error_page(request, s, UiError(404, "Page not found", f"there is no page {request.url.path!r}"))


__all__ = ["install_ui", "router", "stock_chart"]
