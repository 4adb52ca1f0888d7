"""Pydantic models of a plan: the decisions of §Decisions and the outputs of §Outputs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stockplan.models.problem import Id, NonNegInt
from stockplan.models.report import PlanReport

Period = Annotated[int, Field(ge=0)]


class PlanModel(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="allow")


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
    # has promised dates and settings.promise_slip_cost); bound and gap refer to it.
    objective: float | None = None
    promise_slip: float = 0.0
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
