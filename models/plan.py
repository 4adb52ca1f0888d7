"""Pydantic models of a plan: the decisions of §Decisions and the outputs of §Outputs.

A plan document (:func:`load_plan`) is either the decisions only (``shipments``,
``forecast_fills``, ``purchase_orders``) or a whole plan as ``stockplan solve
--out`` writes it (its output fields are then validated as :class:`Plan`).
Unknown fields are errors, and nothing is coerced from another JSON type.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stockplan.models.problem import Id, NonNegInt, Problem
from stockplan.models.report import PlanReport
from stockplan.models.validation import FieldError, ProblemError, errors_from_pydantic

Period = Annotated[int, Field(ge=0)]


class PlanModel(BaseModel):
    """Base: finite numbers only; unknown fields are errors."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class Shipment(PlanModel):
    order: Id
    line: NonNegInt
    location: Id
    period: Period
    quantity: NonNegInt


class ForecastFill(PlanModel):
    sku: Id
    location: Id
    period: Period
    quantity: NonNegInt


class DropshipLine(PlanModel):
    order: Id
    line: NonNegInt
    quantity: NonNegInt


class PurchaseOrder(PlanModel):
    agreement: Id
    period: Period
    quantity: NonNegInt
    lines: list[DropshipLine] | None = None


class Costs(PlanModel):
    """The seven parts of §The cost of a plan."""

    purchase: float = 0.0
    order_fixed: float = 0.0
    holding: float = 0.0
    safety_stock: float = 0.0
    backorder: float = 0.0
    lost_sales: float = 0.0
    shipping: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.purchase
            + self.order_fixed
            + self.holding
            + self.safety_stock
            + self.backorder
            + self.lost_sales
            + self.shipping
        )


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


class Decisions(PlanModel):
    """Only the decisions: what a planner edits and the evaluator checks."""

    shipments: list[Shipment] = Field(default_factory=list)
    forecast_fills: list[ForecastFill] = Field(default_factory=list)
    purchase_orders: list[PurchaseOrder] = Field(default_factory=list)


class PolicyNote(PlanModel):
    """Where a plan does not follow its allocation policy (spec: checked separately from feasibility)."""

    rule: str
    message: str
    entities: dict[str, str | int] = Field(default_factory=dict)


class Plan(Decisions):
    """A solved plan: decisions plus what the solver proved about them."""

    status: Status
    cost: float
    costs: Costs
    # What was minimised: the cost plus the promise-slip penalty (0 unless the problem
    # has promised dates and settings.promise_slip_cost) plus the shipment fees (0 unless
    # a shipment_cost is set); bound and gap refer to it.
    objective: float | None = None
    promise_slip: float = 0.0
    shipment_fees: float = 0.0
    bound: float | None = None
    gap: float | None = None
    policy: str = "min_cost"
    policy_violations: list[PolicyNote] = Field(default_factory=list)
    solve_seconds: float = 0.0
    build_seconds: float = 0.0
    backend: str = ""
    method: str = ""  # "mip" (one model) or "decompose" (parts with a Lagrangian bound)
    message: str = ""
    # Where the model and the evaluator disagree about this plan (its objective, or a bound
    # above it), found when it was solved: empty for a sound solve; never adjusted away.
    warnings: list[str] = Field(default_factory=list)
    # The planner's view (statuses, promised dates, reasons, priced on-time alternatives,
    # projected stock, notices): filled by stockplan.solver.explain when asked for.
    report: PlanReport | None = None

    @property
    def has_no_plan(self) -> bool:
        """Nothing to act on: an error without decisions (an error with the greedy plan attached has one)."""
        return self.status == Status.ERROR and not (self.shipments or self.forecast_fills or self.purchase_orders)


DECISION_FIELDS = frozenset(Decisions.model_fields)


def load_plan(data: Any) -> Decisions:
    """Parse a plan document (decoded JSON) or raise :class:`ProblemError` naming every bad field.

    Decisions only give a :class:`Decisions`; a document with any of a solved plan's
    output fields (``status``, ``cost``, ``report``...) is a whole plan and gives a
    :class:`Plan`. Anything else unknown is refused with its path and, where a known
    field is close, a suggestion. A problem is refused as not a plan, and so is a
    plan record as ``GET /v1/plans/{id}`` answers it, saying that the plan is under
    its ``plan`` (it is not unwrapped: the record's ``edits`` would be silently
    dropped). Numbers, booleans and dates are strict JSON: ``"3"`` is not a period.
    """
    if not isinstance(data, dict):
        raise ProblemError([FieldError("$", "a plan is a JSON object")])
    keys = set(data)
    plan_keys = keys & set(Plan.model_fields)
    if not plan_keys and keys & set(Problem.model_fields):
        raise ProblemError([FieldError(
            "$", "this is a problem, not a plan: a plan has shipments, forecast_fills and purchase_orders "
                 "(stockplan solve --out writes one)")])
    if isinstance(data.get("plan"), dict) and not keys & DECISION_FIELDS:  # a record also has cost, bound, gap
        raise ProblemError([FieldError(
            "plan", "this is a plan record (as GET /v1/plans/{id} answers), not a plan: the plan is under "
                    "'plan'; send that (GET /v1/plans/{id}/evaluation evaluates the plan with its edits)")])
    model: type[Decisions] = Plan if plan_keys - DECISION_FIELDS else Decisions
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):  # not plain JSON (Python objects, NaN): validate as given
        text = None
    try:
        if text is None:
            return model.model_validate(data)
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise ProblemError(errors_from_pydantic(exc, model=model)) from None
