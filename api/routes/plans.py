"""Routes: plans (``/v1/plans``): evaluate a plan, list and read plans, decide, edit, audit, export, promise quotes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockplan.api import auth, services
from stockplan.api.db import PlanRow
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError
from stockplan.api.responses import (
    AuditEntry,
    BulkDecisionResult,
    Evaluation,
    Export,
    PlanEvaluation,
    PlanSummary,
    PlanView,
    Quote,
    plan_body,
)
from stockplan.api.routes.common import CallerDep, CsvResponse, WriterDep, body_json, json_response, validated
from stockplan.api.schemas import BulkDecisionRequest, DecisionRequest, EditRequest, EvaluateRequest
from stockplan.models.promise import PromiseRequest
from stockplan.models.validation import FieldError

router = APIRouter(tags=["plans"])

EXPORT_CONFLICT = {"description": "the approved items break rules on their own; errors lists each "
                                  "(path: the rule, message: what breaks)"}


@router.post("/v1/plans:evaluate", operation_id="evaluatePlan", response_model=Evaluation)
async def evaluate_plan(request: Request, _caller: CallerDep) -> dict[str, Any]:
    """A plan (edited by a planner, say) checked by the evaluator: violations and cost.

    ``plan`` is the decisions only or a whole plan as solved; a plan record as
    ``GET /v1/plans/{id}`` answers it is refused, naming ``plan.plan`` where its plan is.
    The problem's errors and the plan's are listed together.
    """
    from stockplan.models.plan import load_plan
    from stockplan.models.validation import ProblemError
    from stockplan.solver.evaluator import evaluate

    raw = await body_json(request)
    if not isinstance(raw, dict):
        raise ApiError(422, "the body must be a JSON object", [FieldError("body", "not an object")])
    req = validated(EvaluateRequest, raw)
    errors: list[FieldError] = []
    try:
        problem = services.parse_problem(req.problem)
    except ApiError as exc:
        errors += exc.errors or []
    try:
        plan = load_plan(req.plan)
    except ProblemError as exc:
        errors += [FieldError(f"plan.{e.path}" if e.path != "$" else "plan", e.message) for e in exc.errors]
    if errors:
        raise ApiError(422, f"the problem and plan have {len(errors)} error(s)", errors)
    ev = evaluate(problem, plan)
    return {"feasible": ev.feasible, "cost": ev.cost, "costs": ev.costs.model_dump(),
            "objective": ev.objective, "promise_slip": ev.promise_slip, "shipment_fees": ev.shipment_fees,
            "violations": [{"rule": v.rule, "message": v.message, "entities": v.entities}
                           for v in ev.violations],
            "policy_violations": [{"rule": v.rule, "message": v.message, "entities": v.entities}
                                  for v in ev.policy_violations]}


@router.get("/v1/plans", operation_id="listPlans", response_model=list[PlanSummary])
def list_plans(s: SessionDep, state: str | None = None, scenario: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Newest plans first, without their decisions."""
    services.check_filter("state", state)
    services.check_filter("scenario", scenario)
    q = select(PlanRow).order_by(PlanRow.created_at.desc(), PlanRow.id).limit(limit)
    if state is not None:
        q = q.where(PlanRow.state == state)
    if scenario is not None:
        q = q.where(PlanRow.scenario == scenario)
    return [services.plan_view(s, r, include_plan=False) for r in s.scalars(q).all()]


@router.get("/v1/plans/{plan_id}", operation_id="getPlan", response_model=PlanView)
def read_plan(plan_id: str, s: SessionDep) -> Response:
    """A plan: its lifecycle state, each item's state, and the plan (decisions, costs, report)."""
    return json_response(plan_body(services.plan_view(s, services.get_plan(s, plan_id))))


@router.post("/v1/plans/{plan_id}/decisions", operation_id="decidePlan", response_model=PlanSummary)
async def decide(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
    """Approve or reject the plan or one purchase order or shipment; recorded in the audit log.

    409 when the plan was superseded by a newer plan of its scenario, or is already decided.
    """
    req = validated(DecisionRequest, await body_json(request))
    if actor == auth.LOCAL_ACTOR and req.actor:
        actor = req.actor
    row = services.decide(s, plan_id, req, actor)
    return services.plan_view(s, row, include_plan=False)


@router.post("/v1/plans/{plan_id}/decisions:bulk", operation_id="decidePlanItems", response_model=BulkDecisionResult)
async def decide_many(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
    """Approve or reject many purchase orders (or shipments) at once: one audit entry per item, one comment.

    An approval is refused (409, with the broken rules) when the approved items would
    break a rule on their own, as the export would; nothing is stored then.
    """
    req = validated(BulkDecisionRequest, await body_json(request))
    if actor == auth.LOCAL_ACTOR and req.actor:
        actor = req.actor
    return services.decide_items(s, plan_id, req, actor)


@router.post("/v1/plans/{plan_id}/edits", operation_id="editPlan", response_model=PlanEvaluation)
async def edit(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
    """Change one quantity of a proposed plan; the answer is the edited plan's evaluation.

    The change is audited; approving is refused while the edited plan breaks a rule.
    """
    req = validated(EditRequest, await body_json(request))
    if actor == auth.LOCAL_ACTOR and req.actor:
        actor = req.actor
    return services.edit_item(s, plan_id, req, actor)


@router.get("/v1/plans/{plan_id}/evaluation", operation_id="getPlanEvaluation", response_model=PlanEvaluation)
def evaluation(plan_id: str, s: SessionDep) -> dict[str, Any]:
    """The evaluator's verdict on the plan as edited (rules broken, cost, change in cost)."""
    return services.evaluation_view(s, services.get_plan(s, plan_id))


@router.get("/v1/plans/{plan_id}/audit", operation_id="getPlanAudit", response_model=list[AuditEntry])
def audit(plan_id: str, s: SessionDep) -> list[dict[str, Any]]:
    """Every decision on the plan, oldest first."""
    services.get_plan(s, plan_id)
    return services.audit_trail(s, plan_id)


@router.get("/v1/plans/{plan_id}/export", operation_id="exportPlan", response_model=Export,
            responses={409: EXPORT_CONFLICT})
def export(plan_id: str, s: SessionDep,
           format: Annotated[str, Query(pattern="^(csv|json)$", include_in_schema=False)] = "json") -> Any:
    """The approved purchase orders and shipments, as an ERP imports them (JSON); the same every time.

    The approved items are first checked on their own by the independent evaluator
    (rejected items left out, the planner's quantity edits applied): 409, listing every
    broken rule, when they are not feasible without what was not approved. Fields: see
    the README ("The HTTP service"). The same as CSV: ``GET /v1/plans/{plan_id}/export.csv``
    (``?format=csv`` here still answers the CSV, for clients written before that route).
    """
    if format == "csv":
        return _export_csv(plan_id, s)
    row = services.get_plan(s, plan_id)
    rows = services.export_rows(s, row, services.problem_of(s, row))
    return {"plan": plan_id, "scenario": row.scenario, "state": row.state, "items": rows}


@router.get("/v1/plans/{plan_id}/export.csv", operation_id="exportPlanCsv", response_class=CsvResponse,
            responses={200: {"description": "the export as CSV, one row per item after a header row"},
                       409: EXPORT_CONFLICT})
def export_csv(plan_id: str, s: SessionDep) -> Response:
    """The export as CSV (the columns of ``GET /v1/plans/{plan_id}/export``'s items, in order); 409 as there."""
    return _export_csv(plan_id, s)


@router.post("/v1/plans/{plan_id}/promises", operation_id="quotePromise", response_model=Quote)
async def promise(request: Request, plan_id: str, s: SessionDep, _caller: CallerDep) -> dict[str, Any]:
    """The earliest date a prospective order can be delivered against this plan (no re-solve)."""
    from stockplan.models.plan import Decisions
    from stockplan.solver.promise import PromiseError
    from stockplan.solver.promise import promise as quote

    row = services.get_plan(s, plan_id)
    req = validated(PromiseRequest, await body_json(request))
    plan = Decisions.model_validate({k: row.plan.get(k, []) for k in ("shipments", "forecast_fills",
                                                                         "purchase_orders")})
    try:
        return quote(services.problem_of(s, row), plan, req).model_dump(mode="json")
    except PromiseError as exc:
        path = getattr(exc, "path", None)
        raise ApiError(422, str(exc), [FieldError(path or "body", str(exc))]) from None


def _export_csv(plan_id: str, s: Session) -> Response:
    row = services.get_plan(s, plan_id)
    rows = services.export_rows(s, row, services.problem_of(s, row))
    return CsvResponse(services.export_csv(rows),
                       headers={"Content-Disposition": f'attachment; filename="plan-{plan_id}.csv"'})
