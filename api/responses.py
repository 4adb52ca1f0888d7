"""Response bodies of the HTTP API: the wire models a generated client is typed with.

Each route declares one of these as its ``response_model``, so the OpenAPI document
describes every body and FastAPI checks what a route answers against it. They keep
the JSON bodies the service has always sent; the model types of ``models/`` are
reused where they fit (a plan's decisions, its report, a promise quote).

Money on the wire: the money figures (``cost``, ``costs.*``, ``bound``, ``objective``,
``promise_slip``, ``shipment_fees``, ``cost_delta``, a quote's ``estimated_cost``) are
rounded to :data:`MONEY_DECIMALS` decimals when a response is serialized; what is
stored keeps the evaluator's exact value. ``gap`` is a ratio and is not rounded;
quantities are integers. Unit prices (the export's ``unit_price``) are as the
agreement states them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_serializer,
)

from stockplan.models.plan import Costs, DropshipLine, Plan, PolicyNote
from stockplan.models.promise import PromiseQuote

#: Decimals of a money figure on the wire.
MONEY_DECIMALS = 2


def money(value: float) -> float:
    """A money figure as the API sends it: rounded to :data:`MONEY_DECIMALS` decimals (``-0.0`` is ``0.0``)."""
    return round(value, MONEY_DECIMALS) + 0.0


Money = Annotated[float, PlainSerializer(money, return_type=float, when_used="json"),
                  Field(description=f"money, rounded to {MONEY_DECIMALS} decimals on the wire")]
Quantity = Annotated[int, Field(ge=0, description="units (an integer)")]
Timestamp = Annotated[str, Field(description="ISO 8601 date and time")]
ItemState = Literal["proposed", "approved", "rejected"]
JobStateName = Literal["queued", "running", "succeeded", "failed", "canceled"]


class WireModel(BaseModel):
    """Base: every field known (a body drifting from its model is a server error, caught by the tests)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------- health


class Health(WireModel):
    """``GET /healthz``: the process answers."""

    status: Literal["ok"]


class Readiness(WireModel):
    """``GET /readyz``: the database answers and the job runner is dispatching."""

    status: Literal["ready"]
    mode: str = Field(description="'api keys' or 'local development (no API keys)'")


# ---------------------------------------------------------------------------------------------- plans


class CostsView(Costs):
    """The seven parts of a plan's cost (each rounded on the wire; their sum may differ from ``cost`` by cents)."""

    purchase: Money = 0.0
    order_fixed: Money = 0.0
    holding: Money = 0.0
    safety_stock: Money = 0.0
    backorder: Money = 0.0
    lost_sales: Money = 0.0
    shipping: Money = 0.0


class PlanDocument(Plan):
    """A solved plan as stored: decisions, costs, bound, gap, status and the planner's report.

    Fields without a value are left out (as the plan was stored); the money figures are rounded.
    """

    cost: Money
    costs: CostsView
    objective: Money | None = None
    promise_slip: Money = 0.0
    shipment_fees: Money = 0.0
    bound: Money | None = None


class PlanItems(WireModel):
    """Each item's state, by index: its own decision, else the plan's."""

    purchase_order: list[ItemState]
    shipment: list[ItemState]


class PlanLinks(WireModel):
    self: str
    export: str
    job: str


class PlanSummary(WireModel):
    """A plan record without its decisions (as listed, and as a decision answers)."""

    id: str
    job_id: str
    scenario: str | None
    state: ItemState
    superseded_by: str | None
    outcome: str
    cost: Money
    bound: Money | None
    gap: float | None = Field(description="relative gap (cost - bound) / cost, not rounded")
    created_at: Timestamp | None
    decided_by: str | None
    edits: dict[Literal["purchase_orders", "shipments"], dict[str, Quantity]] = Field(
        description="the planner's edited quantities: item index (as a string) to its new quantity")
    decided_at: Timestamp | None
    items: PlanItems
    links: PlanLinks


class PlanView(PlanSummary):
    """A plan record: its lifecycle state, each item's state, edits, and the plan itself."""

    plan: PlanDocument

    @field_serializer("plan", mode="wrap")
    def _sparse_plan(self, plan: PlanDocument, handler: SerializerFunctionWrapHandler,
                     info: SerializationInfo) -> Any:
        if info.mode_is_json():  # as stored: no nulls
            return plan.model_dump(mode="json", exclude_none=True)
        return handler(plan)


class RuleBroken(WireModel):
    """A rule the plan breaks: its stable code, the problem in a planner's words, the entities involved."""

    rule: str
    message: str
    entities: dict[str, str | int] = Field(default_factory=dict)


class PlanEvaluation(WireModel):
    """The evaluator's verdict on a stored plan as edited (``GET .../evaluation``, ``POST .../edits``)."""

    edited: bool
    feasible: bool
    violations: list[RuleBroken]
    cost: Money
    costs: CostsView
    cost_delta: float = Field(description="cost minus the solved plan's cost; on the wire the difference of the "
                                          f"two rounded costs, rounded to {MONEY_DECIMALS} decimals")

    @field_serializer("cost_delta", when_used="json")
    def _delta(self, value: float) -> float:
        # The difference of the two costs a client sees, so that their arithmetic adds up to the cent.
        return money(money(self.cost) - money(self.cost - value))


class Evaluation(WireModel):
    """``POST /v1/plans:evaluate``: whether a plan keeps every rule, and its cost."""

    feasible: bool
    cost: Money
    costs: CostsView
    objective: Money
    promise_slip: Money
    shipment_fees: Money
    violations: list[RuleBroken]
    policy_violations: list[PolicyNote]


class ValidationWarning(WireModel):
    path: str
    code: str
    message: str


class ValidationResult(WireModel):
    """``POST /v1/problems:validate`` on a valid problem: its size, and what is valid but probably not meant."""

    valid: Literal[True]
    orders: int
    skus: int
    locations: int
    agreements: int
    periods: int
    warnings: list[ValidationWarning]


class BulkDecisionResult(WireModel):
    """``POST .../decisions:bulk``: what was decided, on which items (sorted, each once), by whom."""

    plan_id: str
    decision: Literal["approve", "reject"]
    target: Literal["purchase_order", "shipment"]
    indices: list[int]
    state: Literal["approved", "rejected"]
    actor: str
    comment: str | None


class AuditEntry(WireModel):
    at: Timestamp
    actor: str
    action: str = Field(description="approve, reject or edit")
    target: str = Field(description="'plan', or 'purchase_order:<index>' / 'shipment:<index>'")
    comment: str | None


class ExportItem(WireModel):
    """One approved purchase order or shipment; a field that does not apply to its kind is null."""

    kind: Literal["purchase_order", "shipment"]
    index: int
    supplier: str | None
    agreement: str | None
    role: str | None
    sku: str | None
    location: str | None
    order: str | None
    line: int | None
    lines: list[DropshipLine] | None
    quantity: Quantity
    unit_price: float | None = Field(description="the agreement's all-units price per unit (not rounded)")
    order_date: dt.date | None
    arrival_date: dt.date | None
    ship_date: dt.date | None


class Export(WireModel):
    """``GET /v1/plans/{id}/export``: the approved items, as an ERP imports them."""

    plan: str
    scenario: str | None
    state: ItemState
    items: list[ExportItem]


class Quote(PromiseQuote):
    """``POST .../promises``: the earliest date a prospective order can be delivered in full, and from what."""

    estimated_cost: Money | None = None
    alternatives: list[Quote] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- jobs


class JobOptionsView(WireModel):
    """How the job is solved, as resolved when it was submitted (the time limit capped).

    A job of a batch run (``stockplan batch --store``) records only what the run was given:
    ``time_limit`` and ``gap`` (null: the problem's own settings) and ``explain``.
    """

    time_limit: float | None = None
    gap: float | None = None
    backend: str | None = None
    method: str | None = None
    seed: int | None = None
    explain: bool | None = None


class JobProgress(WireModel):
    """What a running solve has done so far (fields without a value are left out)."""

    phase: str | None = None
    detail: str | None = None
    best_cost: Money | None = None
    bound: Money | None = None
    gap: float | None = None
    round: int | None = None
    elapsed: float | None = None
    at: float | None = None


class JobLinks(WireModel):
    self: str
    plan: str | None = Field(None, exclude_if=lambda v: v is None, description="present once the job has a plan")


class JobView(WireModel):
    """A job: its state, outcome (optimal / feasible with gap / time limit), why it failed, and its plan."""

    id: str
    state: JobStateName
    scenario: str | None
    created_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    options: JobOptionsView
    outcome: str | None
    reason: str | None
    failure: Literal["server", "client"] | None = Field(
        None, description="a failed job's kind of failure: `server` (a worker died, the watchdog stopped it, a server "
                    "restart interrupted it out of attempts): its `Idempotency-Key` may be retried and starts a "
                    "new job; `client` (the problem is invalid or has no feasible plan): the key replays it")
    retry_of: str | None = Field(None, description="the job (failed on the server's side) this one retries with the "
                                             "same `Idempotency-Key`")
    retried_by: str | None = Field(None, description="the job a retry of this server-side failure started (it holds "
                                               "the `Idempotency-Key` now)")
    attempts: int
    cancel_requested: bool
    plan_id: str | None
    progress: JobProgress | None
    links: JobLinks
    plan: PlanView | None = Field(None, exclude_if=lambda v: v is None,
                                  description="the plan, inline, once the job has finished with one")

    @field_serializer("progress", mode="wrap")
    def _sparse_progress(self, progress: JobProgress | None, handler: SerializerFunctionWrapHandler,
                         info: SerializationInfo) -> Any:
        if progress is not None and info.mode_is_json():
            return progress.model_dump(mode="json", exclude_none=True)
        return handler(progress)


# ---------------------------------------------------------------------------------------------- large bodies

#: The money fields of a plan document (its ``costs`` too), as :class:`PlanDocument` rounds them.
PLAN_MONEY = ("cost", "objective", "promise_slip", "shipment_fees", "bound")
_SUMMARY = TypeAdapter(PlanSummary)
_JOB = TypeAdapter(JobView)


def plan_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored plan document as :class:`PlanDocument` sends it: the same dict with its money rounded.

    A 10,000-order plan is megabytes of decisions and report: validating it into models on every
    answer would cost about 20 times what sending it does, for a document the service wrote itself
    (dumped from :class:`~stockplan.models.plan.Plan`). Only its money figures change on the wire.
    """
    out = dict(doc)
    for key in PLAN_MONEY:
        if isinstance(out.get(key), int | float):
            out[key] = money(out[key])
    if isinstance(out.get("costs"), dict):
        out["costs"] = {k: money(v) if isinstance(v, int | float) else v for k, v in out["costs"].items()}
    return out


def plan_body(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON of a :class:`PlanView` (or :class:`PlanSummary` without a plan): the record checked against its
    model, the plan document rounded by :func:`plan_document` (``tests/api/test_responses.py`` holds the two
    ways to the same JSON)."""
    record = {k: v for k, v in view.items() if k != "plan"}
    body: dict[str, Any] = _SUMMARY.dump_python(_SUMMARY.validate_python(record), mode="json")
    if view.get("plan") is not None:
        body["plan"] = plan_document(view["plan"])
    return body


def job_body(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON of a :class:`JobView`, its plan (when inline) as :func:`plan_body` makes it."""
    record = {k: v for k, v in view.items() if k != "plan"}
    body: dict[str, Any] = _JOB.dump_python(_JOB.validate_python(record), mode="json")
    if view.get("plan") is not None:
        body["plan"] = plan_body(view["plan"])
    return body


__all__ = [
    "MONEY_DECIMALS", "AuditEntry", "BulkDecisionResult", "CostsView", "Evaluation", "Export", "ExportItem",
    "Health", "JobView", "PlanDocument", "PlanEvaluation", "PlanSummary", "PlanView", "Quote", "Readiness",
    "ValidationResult", "job_body", "money", "plan_body", "plan_document",
]
