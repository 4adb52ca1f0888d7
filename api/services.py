"""What the API (and the review pages) do, on a database session: jobs, plans, decisions, export.

Routes stay thin: they parse, call one of these, and render. Every decision and
its audit entry are written in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockplan.api.db import AuditEntry, Failure, ItemDecision, Job, JobState, PlanRow, new_id, now
from stockplan.api.errors import ApiError
from stockplan.api.jobs import request_hash
from stockplan.api.schemas import BulkDecisionRequest, DecisionRequest, EditRequest, JobRequest
from stockplan.api.settings import ServiceSettings
from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.validation import FieldError, ProblemError, load_problem

R = TypeVar("R")
ITEM_KINDS = {"purchase_order": "purchase_orders", "shipment": "shipments"}


class Memo:
    """A small least-recently-used memo for values that never change once made (a job's problem, the verdict
    on a plan with given edits): a 10,000-order problem takes a second to parse, a review page 50 ms."""

    def __init__(self, size: int) -> None:
        self.size, self.values, self.lock = size, OrderedDict[Hashable, Any](), threading.Lock()

    def get(self, key: Hashable, make: Callable[[], R]) -> R:
        with self.lock:
            if key in self.values:
                self.values.move_to_end(key)
                return self.values[key]
        value = make()
        with self.lock:
            self.values[key] = value
            while len(self.values) > self.size:
                self.values.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every value (a benchmark measuring the first request for one)."""
        with self.lock:
            self.values.clear()


PROBLEMS = Memo(4)
VERDICTS = Memo(64)


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
    idempotency_key: str | None, per_owner_limit: int | None = None,
) -> tuple[Job, bool]:
    """Queue a job (after validating its problem); return it and whether it is new.

    With an ``Idempotency-Key``: the same key and body give back the same job; the
    same key with another body is refused (422). A job of that key that failed for a
    server-side reason (``failure == "server"``) is not given back: the retry starts a
    new job, which takes the key over (the old job keeps it in ``released_idempotency_key``).

    ``per_owner_limit`` (with API keys): at most that many jobs of ``actor`` queued or
    running, the new one included; one more is refused (429 with ``Retry-After``). A replay
    is not a new job and is never refused.
    """
    digest = request_hash(raw)
    retried: Job | None = None
    if idempotency_key is not None:
        existing = s.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is not None:
            if existing.request_hash != digest:
                raise _key_reused()
            if not resubmittable(existing):
                return existing, False
            retried = existing
    from stockplan.solver.backends.base import DEFAULT_GAP

    problem = parse_problem(req.problem)  # nothing invalid reaches a solver
    # Given options win; else the problem's own settings, else the defaults. The cap applies to
    # whichever it is (a problem's settings.time_limit may say up to a day): the job stores the result.
    limit = req.options.time_limit or problem.settings.time_limit or settings.default_time_limit
    gap = req.options.gap if req.options.gap is not None else problem.settings.gap
    options = req.options.model_dump() | {"time_limit": min(limit, settings.max_time_limit),
                                          "gap": DEFAULT_GAP if gap is None else gap}
    job = Job(id=new_id(), problem=req.problem, options=options, scenario=req.scenario,
              idempotency_key=idempotency_key, request_hash=digest, created_by=actor,
              retry_of=retried.id if retried is not None else None)
    try:
        if per_owner_limit is not None:
            _lock_owner(s, actor)
        if retried is not None:
            # Conditional: of two concurrent retries only one takes the key over; the other replays its job.
            res = s.execute(update(Job).where(Job.id == retried.id, Job.idempotency_key == idempotency_key)
                            .values(idempotency_key=None, released_idempotency_key=idempotency_key,
                                    retried_by=job.id))
            if not res.rowcount:  # type: ignore[attr-defined]
                s.rollback()
                return _replay(s, idempotency_key, digest)
        s.add(job)
        s.flush()
        if per_owner_limit is not None:
            _check_owner_limit(s, actor, per_owner_limit)
        s.commit()
    except IntegrityError:  # a concurrent retry with the same key won the race
        s.rollback()
        return _replay(s, idempotency_key, digest)
    except ApiError:
        s.rollback()
        raise
    return job, True


def resubmittable(job: Job) -> bool:
    """Whether a job's ``Idempotency-Key`` starts a new job when submitted again: it failed on the server's side."""
    return job.state == JobState.FAILED and job.failure == Failure.SERVER


def _key_reused() -> ApiError:
    return ApiError(422, "this Idempotency-Key was used with another request body",
                    [FieldError("Idempotency-Key", "reused with a different body")])


def _replay(s: Session, idempotency_key: str | None, digest: str) -> tuple[Job, bool]:
    existing = s.scalar(select(Job).where(Job.idempotency_key == idempotency_key)) if idempotency_key else None
    if existing is None or existing.request_hash != digest:
        raise _key_reused() from None
    return existing, False


def _lock_owner(s: Session, owner: str) -> None:
    """PostgreSQL: serialize one owner's submissions (until commit) so that two at once cannot both pass the limit.

    SQLite needs nothing: the new job's INSERT takes the database's write lock before the count.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(1936682348, hashtext(:owner))"), {"owner": owner})


def _check_owner_limit(s: Session, owner: str, limit: int) -> None:
    """429 when ``owner`` has more than ``limit`` jobs queued or running (the one just added included)."""
    rows = s.execute(select(Job.state, func.count()).where(Job.created_by == owner, Job.state.in_(JobState.UNFINISHED))
                     .group_by(Job.state)).all()
    counts = {str(state): int(n) for state, n in rows}
    queued, running = counts.get(JobState.QUEUED, 0) - 1, counts.get(JobState.RUNNING, 0)
    if queued + running < limit:
        return
    raise ApiError(
        429, f"at most {limit} jobs per API key may be queued or running; {owner!r} has {queued + running} "
             f"({queued} queued, {running} running): retry when one has finished, or cancel one",
        headers={"Retry-After": str(_retry_after(s, owner))},
        extensions={"limit": limit, "queued": queued, "running": running})


def _retry_after(s: Session, owner: str) -> int:
    """Seconds until the owner's first running job is due to end (by its time limit); 5 while none runs."""
    rows = s.execute(select(Job.started_at, Job.options).where(Job.created_by == owner,
                                                               Job.state == JobState.RUNNING)).all()
    clock = now()
    left = []
    for started, options in rows:
        if started is None:
            continue
        if started.tzinfo is None:  # SQLite gives the stored UTC time back without its zone
            started = started.replace(tzinfo=dt.UTC)
        left.append(float(options.get("time_limit", 60.0)) - (clock - started).total_seconds())
    return max(1, math.ceil(min(left))) if left else 5


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
        "failure": job.failure,
        "retry_of": job.retry_of,
        "retried_by": job.retried_by,
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
    return dict(VERDICTS.get((row.id, json.dumps(row.edits or {}, sort_keys=True)), lambda: _verdict(s, row)))


def _verdict(s: Session, row: PlanRow) -> dict[str, Any]:
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


def decide_items(s: Session, plan_id: str, req: BulkDecisionRequest, actor: str) -> dict[str, Any]:
    """Approve or reject many items of a proposed plan in one transaction: one audit entry per item, one comment.

    An approval is checked first: the items approved after it (with those approved
    before, edits applied) must keep every rule on their own, as the export will need
    them to; otherwise nothing is stored and the 409 lists the broken rules.
    """
    row = get_plan(s, plan_id)
    if row.state != "proposed":
        raise ApiError(409, f"plan {plan_id} is already {row.state}: its items are decided with it")
    if req.decision == "approve" and row.superseded_by is not None:
        raise ApiError(409, f"plan {plan_id} was superseded by plan {row.superseded_by} of scenario "
                            f"{row.scenario!r}; approve that one instead")
    n = len(row.plan.get(ITEM_KINDS[req.target], []))
    wanted = sorted(set(req.indices))
    bad = [i for i in wanted if i >= n]
    if bad:
        raise ApiError(422, f"the plan has {n} {ITEM_KINDS[req.target].replace('_', ' ')}",
                       [FieldError("indices", f"{bad[0]} is not one of 0..{n - 1}" if n else "no such item")])
    if req.decision == "approve":
        po_ids, sh_ids = approved_items(s, row)
        if req.target == "purchase_order":
            po_ids = sorted(set(po_ids) | set(wanted))
        else:
            sh_ids = sorted(set(sh_ids) | set(wanted))
        broken = broken_alone(problem_of(s, row), approved_subset(row, po_ids, sh_ids))
        if broken:
            rules = sorted({v.rule for v in broken})
            first = "; ".join(v.message for v in broken[:3])
            raise ApiError(409, f"approving these {len(wanted)} item(s) would leave the approved items breaking "
                                f"{len(broken)} rule(s) on their own ({', '.join(rules)}): {first}; "
                                "approve what they depend on too, or fewer",
                           [FieldError(v.rule, v.message) for v in broken[:50]])
    state = "approved" if req.decision == "approve" else "rejected"
    own = {r.item: r for r in s.scalars(select(ItemDecision).where(
        ItemDecision.plan_id == plan_id, ItemDecision.kind == req.target, ItemDecision.item.in_(wanted)))}
    at = now()
    for i in wanted:
        mine = own.get(i)
        if mine is None:
            s.add(ItemDecision(plan_id=plan_id, kind=req.target, item=i, state=state, actor=actor,
                               comment=req.comment, at=at))
        else:
            mine.state, mine.actor, mine.comment, mine.at = state, actor, req.comment, at
    s.add_all([AuditEntry(actor=actor, action=req.decision, plan_id=plan_id, target=f"{req.target}:{i}",
                          comment=req.comment, at=at, detail={"scenario": row.scenario, "bulk": len(wanted)})
               for i in wanted])
    s.commit()
    return {"plan_id": plan_id, "decision": req.decision, "target": req.target, "indices": wanted,
            "state": state, "actor": actor, "comment": req.comment}


def audit_trail(s: Session, plan_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(AuditEntry).where(AuditEntry.plan_id == plan_id).order_by(AuditEntry.id)).all()
    return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "target": r.target,
             "comment": r.comment} for r in rows]


#: The export's columns, in order (README.md, "The HTTP service", lists what each holds). A field that
#: does not apply to a row's kind is empty in the CSV and null in the JSON.
EXPORT_FIELDS = ["kind", "index", "supplier", "agreement", "role", "sku", "location", "order", "line", "lines",
                 "quantity", "unit_price", "order_date", "arrival_date", "ship_date"]


def approved_items(s: Session, row: PlanRow) -> tuple[list[int], list[int]]:
    """Indices of the approved purchase orders and shipments.

    An item's own decision wins; an item without one follows the plan's. So when the
    plan as a whole is approved, every item is approved except those rejected one by
    one (before the plan was decided); when it is rejected or still proposed, only the
    items approved one by one are.
    """
    own = item_decisions(s, row.id)

    def approved(kind: str) -> list[int]:
        return [i for i in range(len(row.plan.get(ITEM_KINDS[kind], [])))
                if item_state(row, own.get((kind, i))) == "approved"]

    return approved("purchase_order"), approved("shipment")


def broken_alone(problem: Problem, subset: Decisions) -> list[Any]:
    """The rules the approved items (``approved_subset``) break on their own, as the evaluator judges them:
    what the export and an approval both refuse."""
    from stockplan.solver.evaluator import evaluate

    return list(evaluate(problem, subset).violations)


def approved_subset(row: PlanRow, purchase_orders: list[int], shipments: list[int]) -> Decisions:
    """The approved items as the planner left them (quantity edits applied), and nothing else.

    Items not approved keep their place with quantity 0 (a dropship without lines), so
    that the evaluator's messages and entities name the plan's own indices; an entry of
    0 units moves no stock, costs nothing and breaks no rule. Forecast fills are left
    out: they are neither decided one by one nor exported, and filling less forecast
    never breaks a rule.
    """
    edited = edited_decisions(row)
    keep_po, keep_sh = set(purchase_orders), set(shipments)
    return Decisions(
        purchase_orders=[po if i in keep_po else po.model_copy(update={"quantity": 0, "lines": None})
                         for i, po in enumerate(edited.purchase_orders)],
        shipments=[sh if i in keep_sh else sh.model_copy(update={"quantity": 0})
                   for i, sh in enumerate(edited.shipments)],
    )


def export_rows(s: Session, row: PlanRow, problem: Problem) -> list[dict[str, Any]]:
    """The approved purchase orders and shipments, in the plan's order, as an ERP imports them.

    The approved items are checked on their own by the independent evaluator first: if
    they break a rule (a shipment whose purchase order was rejected, an order split by a
    rejected shipment, a quantity edited after its approval), nothing is exported and
    the answer is a 409 listing every broken rule.
    """
    po_ids, sh_ids = approved_items(s, row)
    subset = approved_subset(row, po_ids, sh_ids)
    broken = broken_alone(problem, subset) if po_ids or sh_ids else []
    if broken:
        rules = sorted({v.rule for v in broken})
        first = "; ".join(f"{v.rule}: {v.message}" for v in broken[:3])
        raise ApiError(409, f"the approved items break {len(broken)} rule(s) on their own "
                            f"({', '.join(rules)}): {first}; approve what they depend on or reject them, "
                            "then export", [FieldError(v.rule, v.message) for v in broken])
    agreements = {a.id: a for a in problem.agreements}
    sku_of = {(o.id, k): line.sku for o in problem.orders for k, line in enumerate(o.lines)}
    day = problem.horizon.date_of
    # All-units price: the break reached by everything exported of an agreement in a period (as costed).
    totals: dict[tuple[str, int], int] = {}
    for i in po_ids:
        po = subset.purchase_orders[i]
        totals[(po.agreement, po.period)] = totals.get((po.agreement, po.period), 0) + po.quantity
    blank = dict.fromkeys(EXPORT_FIELDS)
    out: list[dict[str, Any]] = []
    # An item the planner edited down to 0 units was checked with the rest but is not exported:
    # there is nothing to order or ship.
    po_ids = [i for i in po_ids if subset.purchase_orders[i].quantity > 0]
    sh_ids = [i for i in sh_ids if subset.shipments[i].quantity > 0]
    for i in po_ids:
        po = subset.purchase_orders[i]
        ag = agreements[po.agreement]
        arrival = po.period + problem.horizon.lead_periods(ag.lead_time_days)
        lines = ([{"order": x.order, "line": x.line, "quantity": x.quantity} for x in po.lines or ()]
                 if ag.role == "dropship" else None)
        out.append(blank | {
            "kind": "purchase_order", "index": i, "supplier": ag.supplier, "agreement": ag.id,
            "role": ag.role.value, "sku": ag.sku, "location": ag.location, "lines": lines or None,
            "quantity": po.quantity, "unit_price": ag.price_at(totals[(po.agreement, po.period)]),
            "order_date": day(po.period).isoformat(), "arrival_date": day(arrival).isoformat(),
        })
    for i in sh_ids:
        sh = subset.shipments[i]
        out.append(blank | {
            "kind": "shipment", "index": i, "sku": sku_of[(sh.order, sh.line)], "location": sh.location,
            "order": sh.order, "line": sh.line, "quantity": sh.quantity, "ship_date": day(sh.period).isoformat(),
        })
    return out


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):  # a dropship's lines, as compact JSON: any order id survives it
        return json.dumps(value, separators=(",", ":"))
    return value


def export_csv(rows: list[dict[str, Any]]) -> str:
    """The export as CSV: a header of :data:`EXPORT_FIELDS`, one row per item, ``\\n`` line ends."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_cell(r[k]) for k in EXPORT_FIELDS})
    return buf.getvalue()


def problem_of(s: Session, row: PlanRow) -> Problem:
    """The problem a plan solves (canonical order), parsed once per job and kept for the next request."""
    def parse() -> Problem:
        job = s.get(Job, row.job_id)
        assert job is not None  # a plan always has its job (foreign key)
        return load_problem(job.problem).canonical()

    return PROBLEMS.get(row.job_id, parse)
