"""What the API (and the review pages) do, on a database session: jobs, plans, decisions, export.

Routes stay thin: they parse, call one of these, and render. Every decision and
its audit entry are written in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockplan.api.db import AuditEntry, ItemDecision, Job, JobState, PlanRow, now
from stockplan.api.errors import ApiError
from stockplan.api.jobs import request_hash
from stockplan.api.schemas import DecisionRequest, EditRequest, JobRequest
from stockplan.api.settings import ServiceSettings
from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.validation import FieldError, ProblemError, load_problem

R = TypeVar("R")
ITEM_KINDS = {"purchase_order": "purchase_orders", "shipment": "shipments"}


def check_filter(name: str, value: str | None) -> None:
    """A list filter PostgreSQL can take (no NUL character)."""
    if value is not None and "\x00" in value:
        raise ApiError(422, f"the {name} filter contains a NUL character", [FieldError(name, "contains NUL")])


def parse_problem(data: Any, prefix: str = "problem") -> Problem:
    """A valid problem, or a 422 naming every bad field under ``prefix``."""
    try:
        return load_problem(data)
    except ProblemError as exc:
        errors = [FieldError(f"{prefix}.{e.path}" if e.path and e.path != "$" else prefix, e.message)
                  for e in exc.errors]
        raise ApiError(422, f"the problem has {len(errors)} error(s)", errors) from None


# ---------------------------------------------------------------------------------------------- jobs


def submit_job(
    s: Session, req: JobRequest, raw: dict[str, Any], settings: ServiceSettings, actor: str,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """Queue a job (after validating its problem); return it and whether it is new.

    With an ``Idempotency-Key``: the same key and body give back the same job; the
    same key with another body is refused (422).
    """
    digest = request_hash(raw)
    if idempotency_key is not None:
        existing = s.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is not None:
            if existing.request_hash != digest:
                raise ApiError(422, "this Idempotency-Key was used with another request body",
                               [FieldError("Idempotency-Key", "reused with a different body")])
            return existing, False
    from stockplan.solver.backends.base import DEFAULT_GAP

    problem = parse_problem(req.problem)  # nothing invalid reaches a solver
    # Given options win; else the problem's own settings, else the defaults. The cap applies to
    # whichever it is (a problem's settings.time_limit may say up to a day): the job stores the result.
    limit = req.options.time_limit or problem.settings.time_limit or settings.default_time_limit
    gap = req.options.gap if req.options.gap is not None else problem.settings.gap
    options = req.options.model_dump() | {"time_limit": min(limit, settings.max_time_limit),
                                          "gap": DEFAULT_GAP if gap is None else gap}
    job = Job(problem=req.problem, options=options, scenario=req.scenario, idempotency_key=idempotency_key,
              request_hash=digest, created_by=actor)
    s.add(job)
    try:
        s.commit()
    except IntegrityError:  # a concurrent retry with the same key won the race
        s.rollback()
        existing = s.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is None or existing.request_hash != digest:
            raise ApiError(422, "this Idempotency-Key was used with another request body",
                           [FieldError("Idempotency-Key", "reused with a different body")]) from None
        return existing, False
    return job, True


def _by_id(s: Session, model: type[R], key: str, what: str) -> R:
    """The row with id ``key``, or a 404 naming it."""
    row = None if "\x00" in key else s.get(model, key)  # no id has a NUL, and PostgreSQL refuses one
    if row is None:
        raise ApiError(404, f"no {what} {key!r}")
    return row


def get_job(s: Session, job_id: str) -> Job:
    return _by_id(s, Job, job_id, "job")


def cancel_job(s: Session, job_id: str) -> Job:
    """A queued job is canceled at once; a running one is asked to stop (it keeps its best plan)."""
    job = get_job(s, job_id)
    if job.state in JobState.FINISHED:
        raise ApiError(409, f"job {job_id} has already {job.state}")
    # Conditional writes: the dispatcher may claim the job between the read above and now.
    res = s.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED)
                    .values(state=JobState.CANCELED, finished_at=now(), reason="canceled before it started"))
    if not res.rowcount:  # type: ignore[attr-defined]  # claimed meanwhile: ask the running solver to stop
        s.execute(update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING).values(cancel_requested=True))
    s.commit()
    s.refresh(job)
    return job


def job_view(job: Job, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job.id,
        "state": job.state,
        "scenario": job.scenario,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "options": job.options,
        "outcome": job.outcome,
        "reason": job.reason,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "plan_id": job.plan_id,
        "progress": job.progress,
        "links": {"self": f"/v1/jobs/{job.id}"} | ({"plan": f"/v1/plans/{job.plan_id}"} if job.plan_id else {}),
    }
    if plan is not None:
        view["plan"] = plan
    return view


def running_progress(s: Session, limit: int = 200) -> list[tuple[str, dict[str, Any]]]:
    """(job id, progress) of running jobs that have reported progress."""
    rows = s.execute(select(Job.id, Job.progress).where(Job.state == JobState.RUNNING).limit(limit)).all()
    return [(job_id, prog) for job_id, prog in rows if prog]


def jobs_by_state(s: Session) -> dict[str, int]:
    counts = dict.fromkeys((JobState.QUEUED, JobState.RUNNING, *JobState.FINISHED), 0)
    for state, n in s.execute(select(Job.state, func.count()).group_by(Job.state)).all():
        counts[state] = int(n)
    return counts


# ---------------------------------------------------------------------------------------------- plans


def get_plan(s: Session, plan_id: str) -> PlanRow:
    return _by_id(s, PlanRow, plan_id, "plan")


def item_decisions(s: Session, plan_id: str) -> dict[tuple[str, int], ItemDecision]:
    rows = s.scalars(select(ItemDecision).where(ItemDecision.plan_id == plan_id)).all()
    return {(r.kind, r.item): r for r in rows}


def item_state(row: PlanRow, own: ItemDecision | None) -> str:
    """An item's own decision, else the plan's."""
    return own.state if own is not None else row.state


def plan_view(s: Session, row: PlanRow, include_plan: bool = True) -> dict[str, Any]:
    own = item_decisions(s, row.id)
    view: dict[str, Any] = {
        "id": row.id,
        "job_id": row.job_id,
        "scenario": row.scenario,
        "state": row.state,
        "superseded_by": row.superseded_by,
        "outcome": row.outcome,
        "cost": row.cost,
        "bound": row.bound,
        "gap": row.gap,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "decided_by": row.decided_by,
        "edits": row.edits or {},
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "items": {
            kind: [item_state(row, own.get((kind, i))) for i in range(len(row.plan.get(key, [])))]
            for kind, key in ITEM_KINDS.items()
        },
        "links": {"self": f"/v1/plans/{row.id}", "export": f"/v1/plans/{row.id}/export?format=json",
                  "job": f"/v1/jobs/{row.job_id}"},
    }
    if include_plan:
        view["plan"] = row.plan
    return view


def edited_decisions(row: PlanRow) -> Decisions:
    """The plan's decisions with the planner's edited quantities applied."""
    data = {k: [dict(x) for x in row.plan.get(k, [])] for k in ("shipments", "forecast_fills", "purchase_orders")}
    for key, changes in (row.edits or {}).items():
        for index, quantity in changes.items():
            data[key][int(index)]["quantity"] = int(quantity)
    return Decisions.model_validate(data)


def evaluation_view(s: Session, row: PlanRow) -> dict[str, Any]:
    """The evaluator's verdict on the plan as edited: rules broken, cost, and the change against the solved plan."""
    from stockplan.solver.evaluator import evaluate

    ev = evaluate(problem_of(s, row), edited_decisions(row))
    return {
        "edited": bool(row.edits and any(row.edits.values())),
        "feasible": ev.feasible,
        "violations": [{"rule": v.rule, "message": v.message, "entities": v.entities} for v in ev.violations],
        "cost": ev.cost,
        "costs": ev.costs.model_dump(),
        "cost_delta": ev.cost - row.cost,
    }


def edit_item(s: Session, plan_id: str, req: EditRequest, actor: str) -> dict[str, Any]:
    """Change one quantity of a proposed plan (audited); return the edited plan's evaluation."""
    row = get_plan(s, plan_id)
    if row.state != "proposed" or row.superseded_by is not None:
        raise ApiError(409, f"plan {plan_id} is {row.state if row.state != 'proposed' else 'superseded'}: "
                            "only a current proposed plan can be edited")
    key = ITEM_KINDS[req.target]
    items = row.plan.get(key, [])
    if req.index >= len(items):
        raise ApiError(422, f"the plan has {len(items)} {key.replace('_', ' ')}",
                       [FieldError("index", f"must be one of 0..{len(items) - 1}" if items else "no such item")])
    edits = {k: dict(v) for k, v in (row.edits or {}).items()}
    before = int(edits.get(key, {}).get(str(req.index), items[req.index]["quantity"]))
    if req.quantity == items[req.index]["quantity"]:
        edits.get(key, {}).pop(str(req.index), None)  # back to the solved quantity
    else:
        edits.setdefault(key, {})[str(req.index)] = req.quantity
    row.edits = edits
    s.add(AuditEntry(actor=actor, action="edit", plan_id=plan_id, target=f"{req.target}:{req.index}",
                     comment=None, detail={"from": before, "to": req.quantity}))
    s.commit()
    return evaluation_view(s, row)


def decide(s: Session, plan_id: str, req: DecisionRequest, actor: str) -> PlanRow:
    """Approve or reject a plan or one of its items, with its audit entry, in one transaction.

    Nothing is approved while the plan as edited breaks a rule.
    """
    row = get_plan(s, plan_id)
    state = "approved" if req.decision == "approve" else "rejected"
    if req.decision == "approve" and row.superseded_by is not None:
        raise ApiError(409, f"plan {plan_id} was superseded by plan {row.superseded_by} of scenario "
                            f"{row.scenario!r}; approve that one instead")
    if row.state != "proposed":
        raise ApiError(409, f"plan {plan_id} is already {row.state}")
    if req.decision == "approve" and row.edits and any(row.edits.values()):
        verdict = evaluation_view(s, row)
        if not verdict["feasible"]:
            broken = "; ".join(v["message"] for v in verdict["violations"][:3])
            raise ApiError(409, f"the edited plan breaks {len(verdict['violations'])} rule(s): {broken}; "
                                "fix the quantities before approving")
    if req.target == "plan":
        if req.index is not None:
            raise ApiError(422, "a decision on the whole plan takes no index",
                           [FieldError("index", "not allowed when target is plan")])
        row.state, row.decided_by, row.decided_at = state, actor, now()
        target = "plan"
    else:
        items = row.plan.get(ITEM_KINDS[req.target], [])
        if req.index is None or req.index >= len(items):
            raise ApiError(422, f"the plan has {len(items)} {ITEM_KINDS[req.target].replace('_', ' ')}",
                           [FieldError("index", f"must be one of 0..{len(items) - 1}" if items else "no such item")])
        own = s.scalar(select(ItemDecision).where(ItemDecision.plan_id == plan_id, ItemDecision.kind == req.target,
                                                  ItemDecision.item == req.index))
        if own is None:
            s.add(ItemDecision(plan_id=plan_id, kind=req.target, item=req.index, state=state, actor=actor,
                               comment=req.comment))
        else:
            own.state, own.actor, own.comment, own.at = state, actor, req.comment, now()
        target = f"{req.target}:{req.index}"
    s.add(AuditEntry(actor=actor, action=req.decision, plan_id=plan_id, target=target, comment=req.comment,
                     detail={"scenario": row.scenario}))
    s.commit()
    return row


def audit_trail(s: Session, plan_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(AuditEntry).where(AuditEntry.plan_id == plan_id).order_by(AuditEntry.id)).all()
    return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "target": r.target,
             "comment": r.comment} for r in rows]


EXPORT_FIELDS = ["kind", "index", "agreement", "order", "line", "location", "period", "date", "quantity",
                 "lines"]


def export_rows(s: Session, row: PlanRow, problem: Problem) -> list[dict[str, Any]]:
    """The approved purchase orders and shipments, in the plan's order (what an ERP imports)."""
    own = item_decisions(s, row.id)
    edited = edited_decisions(row).model_dump(mode="json")
    out: list[dict[str, Any]] = []
    for i, po in enumerate(edited["purchase_orders"]):
        if item_state(row, own.get(("purchase_order", i))) == "approved":
            out.append({"kind": "purchase_order", "index": i, "agreement": po["agreement"], "order": None,
                        "line": None, "location": None, "period": po["period"],
                        "date": problem.horizon.date_of(po["period"]).isoformat(), "quantity": po["quantity"],
                        "lines": po.get("lines")})
    for i, sh in enumerate(edited["shipments"]):
        if item_state(row, own.get(("shipment", i))) == "approved":
            out.append({"kind": "shipment", "index": i, "agreement": None, "order": sh["order"], "line": sh["line"],
                        "location": sh["location"], "period": sh["period"],
                        "date": problem.horizon.date_of(sh["period"]).isoformat(), "quantity": sh["quantity"],
                        "lines": None})
    return out


def export_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (json.dumps(v, sort_keys=True) if k == "lines" and v else ("" if v is None else v))
                         for k, v in r.items()})
    return buf.getvalue()


def problem_of(s: Session, row: PlanRow) -> Problem:
    job = s.get(Job, row.job_id)
    assert job is not None  # a plan always has its job (foreign key)
    return load_problem(job.problem).canonical()
