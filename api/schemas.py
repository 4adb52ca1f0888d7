"""Request bodies of the HTTP API (pydantic v2, unknown fields refused, finite numbers only).

An unknown field is a 422 naming its path, with a suggestion where a known field is close
(``optons: unknown field; did you mean 'options'?``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stockplan.models.plan import Decisions, Plan
from stockplan.models.problem import Problem


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class JobOptions(ApiModel):
    """How to solve. ``time_limit`` and ``gap`` left out: the problem's settings, else 60 s and 1e-6.

    The server caps the time limit, the problem's own included, at its ``max_time_limit``.
    """

    time_limit: Annotated[float, Field(gt=0, le=86_400)] | None = None
    gap: Annotated[float, Field(ge=0, le=1)] | None = None
    backend: Literal["highs", "ortools-scip", "ortools-cpsat", "pulp-cbc", "pulp-highs"] = "highs"
    method: Literal["auto", "mip", "decompose"] = "auto"
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    explain: bool = True


class JobRequest(ApiModel):
    """``POST /v1/jobs``: a problem to solve, how, and what it plans (``scenario``)."""

    problem: dict[str, Any]
    options: JobOptions = Field(default_factory=JobOptions)
    scenario: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class JobRequestDoc(JobRequest):
    """The same, with the problem's schema spelled out (for the OpenAPI document)."""

    problem: Problem


class DecisionRequest(ApiModel):
    """Approve or reject a whole plan, or one of its purchase orders or shipments."""

    decision: Literal["approve", "reject"]
    target: Literal["plan", "purchase_order", "shipment"] = "plan"
    index: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    comment: Annotated[str, Field(max_length=2000)] | None = None
    #: Who decides, in local development mode only; with API keys it is the key's owner.
    actor: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class EvaluateRequest(ApiModel):
    """``POST /v1/plans:evaluate``: a plan (perhaps edited by a planner) and its problem.

    Both are parsed after the body (:func:`stockplan.models.validation.load_problem`,
    :func:`stockplan.models.plan.load_plan`), so that their errors are reported together.
    ``plan`` is the decisions only or a whole plan as solved; a plan record as
    ``GET /v1/plans/{id}`` answers it is refused, saying that the plan is under its ``plan``.
    """

    problem: dict[str, Any]
    plan: dict[str, Any]


class EvaluateRequestDoc(EvaluateRequest):
    problem: Problem
    plan: Decisions | Plan


class EditRequest(ApiModel):
    """A planner's new quantity for one purchase order or shipment of a proposed plan."""

    target: Literal["purchase_order", "shipment"] = "purchase_order"
    index: Annotated[int, Field(ge=0, le=10_000_000)]
    quantity: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
    actor: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class BulkDecisionRequest(ApiModel):
    """Approve or reject many purchase orders (or shipments) of a plan at once, with one comment."""

    decision: Literal["approve", "reject"]
    target: Literal["purchase_order", "shipment"] = "purchase_order"
    indices: Annotated[list[Annotated[int, Field(ge=0, le=10_000_000)]], Field(min_length=1, max_length=100_000)]
    comment: Annotated[str, Field(max_length=2000)] | None = None
    #: Who decides, in local development mode only; with API keys it is the key's owner.
    actor: Annotated[str, Field(min_length=1, max_length=200)] | None = None

