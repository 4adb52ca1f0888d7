"""An integrator's program: a plan's whole lifecycle through a client generated from the service's OpenAPI document.

Run by ``tests/api/test_generated_client.py`` in a subprocess, with the package that ``openapi-python-client``
generated (``stockplan_client``) on ``PYTHONPATH``; it uses nothing of stockplan itself. Every answer is read
through the generated types (no dicts, no JSON parsing) except the CSV export, which is text. Any failed check
ends the program with a non-zero status and the reason on stderr.

    python generated_client_lifecycle.py lifecycle BASE_URL API_KEY PROBLEM.json [EXPECTED_COST] [TIME_LIMIT]
    python generated_client_lifecycle.py cancel BASE_URL API_KEY PROBLEM.json
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from http import HTTPStatus
from pathlib import Path

import httpx
from stockplan_client import AuthenticatedClient
from stockplan_client.api.jobs import cancel_job, get_job, submit_job
from stockplan_client.api.plans import decide_plan, export_plan, export_plan_csv, get_plan, get_plan_audit
from stockplan_client.models import (
    AuditEntry,
    DecisionRequest,
    DecisionRequestDecision,
    DecisionRequestTarget,
    Export,
    ExportItemKind,
    JobOptions,
    JobRequestDoc,
    JobView,
    JobViewState,
    PlanDocument,
    PlanItemsPurchaseOrderItem,
    PlanSummary,
    PlanView,
    Problem,
    ProblemDetails,
    Status,
)
from stockplan_client.types import Unset

FINISHED = {JobViewState.SUCCEEDED, JobViewState.FAILED, JobViewState.CANCELED}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def wait_until(client: AuthenticatedClient, job_id: str, done: set[JobViewState], timeout: float) -> JobView:
    """Poll ``getJob`` (each answer a typed :class:`JobView`) until the job is in one of ``done``."""
    deadline = time.monotonic() + timeout
    while True:
        r = get_job.sync_detailed(job_id, client=client)
        check(r.status_code == HTTPStatus.OK, f"getJob {job_id}: {r.status_code}")
        job = r.parsed
        check(isinstance(job, JobView), f"getJob {job_id}: {job!r}")
        assert isinstance(job, JobView)
        if job.state in done:
            return job
        check(time.monotonic() < deadline, f"job {job_id} still {job.state} after {timeout} s")
        time.sleep(0.2)


def submit(client: AuthenticatedClient, problem: Problem, scenario: str, time_limit: float | None = None,
           wait: float = 0.0) -> tuple[HTTPStatus, JobView]:
    body = JobRequestDoc(problem=problem, scenario=scenario,
                         options=JobOptions(time_limit=time_limit) if time_limit is not None else JobOptions())
    r = submit_job.sync_detailed(client=client, body=body, wait=wait)
    check(isinstance(r.parsed, JobView), f"submitJob: {r.status_code} {r.parsed!r}")
    assert isinstance(r.parsed, JobView)
    check(r.headers["Location"] == f"/v1/jobs/{r.parsed.id}", f"submitJob Location: {r.headers.get('Location')}")
    return r.status_code, r.parsed


def check_plan_document(doc: PlanDocument, expected_cost: float | None) -> None:
    check(doc.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT), f"plan status {doc.status}")
    check(isinstance(doc.cost, float) and doc.cost > 0, f"plan cost {doc.cost}")
    if expected_cost is not None:
        check(abs(doc.cost - expected_cost) <= 0.01, f"plan cost {doc.cost}, expected {expected_cost}")
    check(doc.cost == round(doc.cost, 2), f"cost not rounded to cents: {doc.cost}")
    check(isinstance(doc.bound, float) and doc.bound <= doc.cost + 0.01, f"bound {doc.bound} vs cost {doc.cost}")
    check(isinstance(doc.gap, float) and 0 <= doc.gap <= 1, f"gap {doc.gap}")
    parts = [doc.costs.purchase, doc.costs.order_fixed, doc.costs.holding, doc.costs.safety_stock,
             doc.costs.backorder, doc.costs.lost_sales, doc.costs.shipping]
    check(all(isinstance(p, float) for p in parts), f"costs {doc.costs!r}")
    check(abs(sum(p for p in parts if isinstance(p, float)) - doc.cost) <= 0.05, f"costs {parts} vs {doc.cost}")
    check(not isinstance(doc.purchase_orders, Unset) and len(doc.purchase_orders) >= 2,
          f"purchase orders: {doc.purchase_orders!r}")
    assert not isinstance(doc.purchase_orders, Unset)
    for po in doc.purchase_orders:
        check(isinstance(po.agreement, str) and isinstance(po.quantity, int) and po.quantity > 0, f"{po!r}")
    check(not isinstance(doc.shipments, Unset), "no shipments")


def lifecycle(client: AuthenticatedClient, problem: Problem, tag: str, expected_cost: float | None,
              time_limit: float | None) -> None:
    # 1. Submit without waiting: 202, the job queued or running; poll it until it has finished.
    status, job = submit(client, problem, f"{tag}-poll", time_limit)
    check(status == HTTPStatus.ACCEPTED, f"submitJob without wait: {status}")
    check(job.state in (JobViewState.QUEUED, JobViewState.RUNNING), f"submitted job {job.state}")
    check(isinstance(job.plan, Unset), "a queued job has no plan inline")
    job = wait_until(client, job.id, FINISHED, timeout=180)
    check(job.state == JobViewState.SUCCEEDED, f"job {job.id}: {job.state} {job.reason}")
    check(isinstance(job.plan_id, str), f"job {job.id} has no plan id")
    assert isinstance(job.plan_id, str)
    print(f"{tag}: job {job.id} {job.state} ({job.outcome}), plan {job.plan_id}")

    # 2. Submit with ?wait=: 200, the finished job with its plan inline (typed).
    status, waited = submit(client, problem, f"{tag}-wait", time_limit, wait=120)
    check(status == HTTPStatus.OK, f"submitJob with wait: {status}")
    check(waited.state == JobViewState.SUCCEEDED, f"waited job {waited.state} {waited.reason}")
    check(isinstance(waited.plan, PlanView), f"waited job's plan: {waited.plan!r}")
    assert isinstance(waited.plan, PlanView)
    check_plan_document(waited.plan.plan, expected_cost)

    # 3. The plan as typed objects.
    r = get_plan.sync_detailed(job.plan_id, client=client)
    check(r.status_code == HTTPStatus.OK and isinstance(r.parsed, PlanView), f"getPlan: {r.status_code}")
    plan = r.parsed
    assert isinstance(plan, PlanView)
    check(plan.id == job.plan_id and plan.job_id == job.id, f"plan {plan.id} of job {plan.job_id}")
    check(plan.state.value == "proposed" and plan.scenario == f"{tag}-poll", f"plan {plan.state} {plan.scenario}")
    check(plan.cost == plan.plan.cost, f"record cost {plan.cost} vs plan cost {plan.plan.cost}")
    check_plan_document(plan.plan, expected_cost)
    assert not isinstance(plan.plan.purchase_orders, Unset)
    pos = plan.plan.purchase_orders
    check(len(plan.items.purchase_order) == len(pos), f"{len(plan.items.purchase_order)} item states, {len(pos)} POs")
    check(all(s == PlanItemsPurchaseOrderItem.PROPOSED for s in plan.items.purchase_order), "items not proposed")
    print(f"{tag}: plan cost {plan.plan.cost} ({plan.plan.status}), bound {plan.plan.bound}, gap {plan.plan.gap}, "
          f"{len(pos)} purchase orders")

    # 4. Approve one purchase order, reject another.
    for index, decision in ((0, DecisionRequestDecision.APPROVE), (1, DecisionRequestDecision.REJECT)):
        req = DecisionRequest(decision=decision, target=DecisionRequestTarget.PURCHASE_ORDER, index=index,
                              comment=f"{decision} by the generated client")
        d = decide_plan.sync_detailed(plan.id, client=client, body=req)
        check(d.status_code == HTTPStatus.OK and isinstance(d.parsed, PlanSummary),
              f"decidePlan {decision} {index}: {d.status_code} {d.parsed!r}")
        assert isinstance(d.parsed, PlanSummary)
        summary = d.parsed
    check(summary.items.purchase_order[0] == PlanItemsPurchaseOrderItem.APPROVED, "PO 0 not approved")
    check(summary.items.purchase_order[1] == PlanItemsPurchaseOrderItem.REJECTED, "PO 1 not rejected")
    check(all(s == PlanItemsPurchaseOrderItem.PROPOSED for s in summary.items.purchase_order[2:]),
          "other purchase orders decided")

    # 5. Export: JSON (typed), then CSV (text): the approved purchase order only, the same in both.
    e = export_plan.sync_detailed(plan.id, client=client)
    check(e.status_code == HTTPStatus.OK and isinstance(e.parsed, Export), f"exportPlan: {e.status_code} {e.parsed!r}")
    export = e.parsed
    assert isinstance(export, Export)
    check(export.plan == plan.id, f"export of {export.plan}")
    ordered = [i for i in export.items if i.kind == ExportItemKind.PURCHASE_ORDER]
    check([i.index for i in ordered] == [0], f"exported purchase orders {[i.index for i in ordered]}")
    item = ordered[0]
    check(item.agreement == pos[0].agreement and item.quantity == pos[0].quantity,
          f"exported {item.agreement} x{item.quantity}, planned {pos[0].agreement} x{pos[0].quantity}")
    check(isinstance(item.supplier, str) and isinstance(item.unit_price, float) and item.unit_price > 0, f"{item!r}")
    check(item.order_date is not None and item.arrival_date is not None
          and item.order_date <= item.arrival_date, f"dates {item.order_date} {item.arrival_date}")
    c = export_plan_csv.sync_detailed(plan.id, client=client)
    check(c.status_code == HTTPStatus.OK and isinstance(c.parsed, str), f"exportPlanCsv: {c.status_code}")
    assert isinstance(c.parsed, str)
    check(c.headers["content-type"].startswith("text/csv"), f"CSV content type {c.headers['content-type']}")
    rows = list(csv.DictReader(io.StringIO(c.parsed)))
    check(len(rows) == len(export.items), f"{len(rows)} CSV rows, {len(export.items)} JSON items")
    po_rows = [row for row in rows if row["kind"] == "purchase_order"]
    check([(row["index"], row["agreement"], row["quantity"]) for row in po_rows]
          == [("0", item.agreement, str(item.quantity))], f"CSV purchase orders {po_rows}")
    print(f"{tag}: export {len(export.items)} item(s); CSV {len(rows)} row(s)")

    # 6. The audit trail, typed: the approval and the rejection, by the key's owner.
    a = get_plan_audit.sync_detailed(plan.id, client=client)
    check(a.status_code == HTTPStatus.OK and isinstance(a.parsed, list), f"getPlanAudit: {a.status_code}")
    assert isinstance(a.parsed, list)
    entries = a.parsed
    check(all(isinstance(x, AuditEntry) for x in entries), f"audit {entries!r}")
    got = [(x.action, x.target, x.actor, x.comment) for x in entries]
    check(got == [("approve", "purchase_order:0", "integrator", "approve by the generated client"),
                  ("reject", "purchase_order:1", "integrator", "reject by the generated client")], f"audit {got}")

    # 7. An unknown plan: 404, as typed problem details.
    missing = get_plan.sync_detailed("no-such-plan", client=client)
    check(missing.status_code == HTTPStatus.NOT_FOUND and isinstance(missing.parsed, ProblemDetails)
          and missing.parsed.status == 404, f"getPlan of an unknown id: {missing.status_code} {missing.parsed!r}")
    print(f"{tag}: audit {len(entries)} entries; lifecycle done")


def cancel(client: AuthenticatedClient, problem: Problem) -> None:
    """A big problem with a long time limit: cancelled while it runs, it ends ``canceled``."""
    status, job = submit(client, problem, "contract-cancel", time_limit=300)
    check(status == HTTPStatus.ACCEPTED, f"submitJob: {status}")
    job = wait_until(client, job.id, {JobViewState.RUNNING, *FINISHED}, timeout=60)
    check(job.state == JobViewState.RUNNING, f"job {job.id} {job.state} before it was cancelled")
    time.sleep(1.0)  # solving (not still starting)
    r = cancel_job.sync_detailed(job.id, client=client)
    check(r.status_code == HTTPStatus.ACCEPTED and isinstance(r.parsed, JobView),
          f"cancelJob on a running job: {r.status_code} {r.parsed!r}")
    assert isinstance(r.parsed, JobView)
    check(r.parsed.cancel_requested is True, f"cancel_requested {r.parsed.cancel_requested}")
    started = time.monotonic()
    job = wait_until(client, job.id, FINISHED, timeout=120)
    check(job.state == JobViewState.CANCELED, f"cancelled job ended {job.state} ({job.reason})")
    print(f"cancel: job {job.id} {job.state} {time.monotonic() - started:.1f} s after the request "
          f"(plan {job.plan_id}, outcome {job.outcome})")


def main(argv: list[str]) -> int:
    mode, base, key, path = argv[:4]
    problem = Problem.from_dict(json.loads(Path(path).read_text()))
    with AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True,
                             timeout=httpx.Timeout(300.0)) as client:
        if mode == "lifecycle":
            expected = float(argv[4]) if len(argv) > 4 and argv[4] != "-" else None
            time_limit = float(argv[5]) if len(argv) > 5 else None
            lifecycle(client, problem, Path(path).stem, expected, time_limit)
        elif mode == "cancel":
            cancel(client, problem)
        else:
            raise SystemExit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
