"""Pydantic models of the planner's view of a plan (spec §Outputs): what a planner and an OMS read.

:func:`stockplan.solver.report.plan_report` computes a :class:`PlanReport` from a
problem and a feasible plan: per-line and per-order status with promised dates
and reasons, KPIs, projected stock with reorder points, an explanation of every
purchase order, and one notice per affected customer order. Every date comes
with its period (0-based, spec §Time); a period's date is its first day.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Units = Annotated[int, Field(ge=0)]
Period = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class ReportModel(BaseModel):
    """Base: finite numbers only; unknown fields are errors (every field the solver writes is declared)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class LineStatus(StrEnum):
    """Status of an order line, from best to worst (spec §Outputs)."""

    ON_TIME = "on_time"  # every unit delivered by the due period d
    BACKORDERED = "backordered"  # every unit delivered, the last after d
    PARTIALLY_LOST = "partially_lost"  # some units, not all, delivered by the last period ℓ
    LOST = "lost"  # nothing delivered


#: Worst first, for the status of an order (the worst of its lines).
STATUS_SEVERITY: tuple[LineStatus, ...] = (
    LineStatus.ON_TIME, LineStatus.BACKORDERED, LineStatus.PARTIALLY_LOST, LineStatus.LOST)


class BackorderReason(StrEnum):
    """Why a line is not on time; the first that applies is reported."""

    EARLIEST_AFTER_DUE = "earliest_after_due"  # the order may not be delivered before a period after d
    # No longer given: "no stock" alone is not a cause (an agreement may still deliver, at a price);
    # the reason now says what kept the line late (no_agreement, lead_time, capacity, cost_tradeoff).
    NO_STOCK = "no_stock"
    SHIP_COMPLETE_HELD = "ship_complete_held"  # a ship-complete order waits for another line's SKU
    HIGHER_PRIORITY = "higher_priority"  # (priority policies) the stock went to higher-priority lines
    FAIR_SHARE = "fair_share"  # (fair-share policies) the stock was shared with equal lines
    NO_AGREEMENT = "no_agreement"  # no stock in time and no agreement can supply the SKU to the order
    LEAD_TIME = "lead_time"  # no stock in time and the fastest agreement arrives after d (or after ℓ)
    CAPACITY = "capacity"  # every agreement that could arrive in time is at capacity
    COST_TRADEOFF = "cost_tradeoff"  # on time is possible and costs more than the lateness it saves


class PurchaseReason(StrEnum):
    """Why a purchase order uses its agreement rather than the primary one."""

    PRIMARY = "primary"  # it is the primary agreement
    NO_PRIMARY = "no_primary"  # no primary agreement for that SKU and location
    PRIMARY_TOO_SLOW = "primary_too_slow"  # the primary cannot arrive by the period the units are needed
    PRIMARY_CAPACITY = "primary_capacity"  # the primary's capacity is used up in the periods that would do
    CHEAPER_AT_QUANTITY = "cheaper_at_quantity"  # this agreement's unit price at this quantity is lower
    PRIMARY_MOQ_PACK = "primary_moq_pack"  # the primary's MOQ or pack size would force buying more
    DROPSHIP_NO_STOCK = "dropship_no_stock"  # a dropship delivers to the customer, holding no stock
    LOWER_TOTAL_COST = "lower_total_cost"  # cheaper overall (fixed order cost, holding, shipping)


class NoticeKind(StrEnum):
    """What a customer is told, least severe first."""

    BACKORDERED = "backordered"  # late against its due date; no earlier promise broken
    DELAYED = "delayed"  # the new date is after the date last promised (Order.promised)
    # Some units are not planned within the horizon and the order has no latest date inside it:
    # their date follows with a later plan (no refund: the customer has not said how long they wait).
    NOT_PLANNED_YET = "not_planned_yet"
    WILL_MISS_LATEST = "will_miss_latest"  # some units never arrive by the latest date: offer a refund


class LineReport(ReportModel):
    """One order line of an order due within the horizon."""

    order: str
    line: Units
    sku: str
    customer: str
    priority: int
    quantity: Units
    delivered: Units
    delivered_by_due: Units
    due: dt.date
    due_period: Period
    last_period: Period  # ℓ: nothing is delivered after it; what is still open then is lost
    last_delivery_period: Period | None = None
    promised_date: dt.date | None = None  # date of the last delivery's period
    periods_late: Units | None = None  # last delivery period - d (0 when on time); None when nothing delivered
    location: str | None = None  # where its open units count against the net position
    status: LineStatus
    reason: str | None = None
    reason_code: BackorderReason | None = None
    # Extension fields: the order's ``ordered`` date and, for a line not on time, its age in days at
    # the horizon's start; under a fair-share policy the share it got by its due date and, when an
    # equal-looking line got more, why.
    ordered: dt.date | None = None
    age_days: int | None = None
    share: Share | None = None
    share_note: str | None = None
    # Extension: what the line's lateness costs in the plan (backorder and lost sale), the money at stake.
    lateness_cost: float | None = None
    # Filled later by the pricing module.
    extra_cost: float | None = None
    on_time_cost: float | None = None
    pricing: str | None = None


class OrderReport(ReportModel):
    order: str
    customer: str
    priority: int
    ship_complete: bool
    status: LineStatus  # the worst of its lines
    line_count: Units
    quantity: Units
    delivered: Units
    due: dt.date
    due_period: Period
    promised_date: dt.date | None = None  # the latest promised date of its lines
    promised_period: Period | None = None
    previous_promise: dt.date | None = None  # Order.promised
    previous_promise_period: Period | None = None
    slip_periods: Units | None = None  # periods the new promise lies after the previous one (0 if not after)


class SkuSmoothing(ReportModel):
    """Order smoothing of one SKU: variance over the periods (population variance, ddof 0)."""

    sku: str
    ordered_units: Units  # units ordered over the horizon, all its agreements
    demand_units: Units  # line quantities by due period plus forecast
    order_variance: Annotated[float, Field(ge=0)]
    demand_variance: Annotated[float, Field(ge=0)]
    bullwhip_ratio: Annotated[float, Field(ge=0)] | None = None  # None when the demand variance is 0


class Kpis(ReportModel):
    orders_total: Units
    orders_on_time: Units
    orders_on_time_share: Share | None = None  # None when there are no orders
    lines_total: Units
    lines_on_time: Units
    lines_on_time_share: Share | None = None
    lines_backordered: Units
    lines_partially_lost: Units
    lines_lost: Units
    units_ordered: Units
    units_delivered: Units
    units_delivered_by_due: Units
    units_lost: Units
    fill_rate: Share | None = None  # units delivered / units ordered
    on_time_fill_rate: Share | None = None  # units delivered by due / units ordered
    order_smoothing: list[SkuSmoothing] = Field(default_factory=list)
    total_order_variance: Annotated[float, Field(ge=0)] = 0.0  # sum of the SKUs' order variances
    total_demand_variance: Annotated[float, Field(ge=0)] = 0.0
    bullwhip_ratio: Annotated[float, Field(ge=0)] | None = None  # total order / total demand variance


class StockProjection(ReportModel):
    """One SKU at one location, a value per period ``0..T-1`` in every list.

    ``end[t] = start[t] + inbound[t] + arrivals[t] - shipped[t] - forecast_served[t]``,
    ``start[t] = end[t-1]``, ``start[0] = on_hand``.
    """

    sku: str
    location: str
    safety_stock: Units
    reorder_point: Units | None = None
    start: list[int]
    inbound: list[int]  # open purchase orders already placed (inbound[])
    arrivals: list[int]  # the plan's purchase orders landing
    shipped: list[int]  # to order lines
    forecast: list[int]
    forecast_served: list[int]
    end: list[int]
    below_safety: list[bool]
    open_backorders: list[int]  # units of lines due by t, still open at t, attributed here
    net_position: list[int]  # end - open_backorders


class SafetyStockBasis(StrEnum):
    """Where a SKU-location's safety stock comes from."""

    GIVEN = "given"  # stock[].safety_stock
    STATISTICS = "statistics"  # ceil(z × demand_std × sqrt(L + R)) from demand_per_period, demand_std, service_level
    NONE = "none"  # neither: no safety stock


class ReorderPoint(ReportModel):
    """Safety stock and reorder point of one ``stock[]`` entry, with what they were computed from."""

    sku: str
    location: str
    safety_stock: Units
    # ceil(demand_per_period × (L + R)) + safety stock; the safety stock alone when it is given
    # without a demand rate; None when there is no safety stock to speak of (basis none).
    reorder_point: Units | None = None
    basis: SafetyStockBasis = SafetyStockBasis.NONE
    lead_periods: Units = 0  # L: the primary agreement's lead time (0 without one)
    review_periods: Units = 0  # R: stock[].review_period_days in periods (0 when absent)
    primary: str | None = None  # the primary agreement that sets L
    demand_per_period: Annotated[float, Field(ge=0)] | None = None
    safety_stock_cost: Annotated[float, Field(ge=0)] = 0.0  # 0: the model does not keep this safety stock


class SafetyStockNoteCode(StrEnum):
    """What a planner should know about a SKU-location's safety stock."""

    NO_COST = "no_cost"  # safety stock > 0 but safety_stock_cost 0: the model ignores it
    NO_PRIMARY = "no_primary"  # statistics without a primary agreement: L = 0 although an alternate has a lead


class SafetyStockNote(ReportModel):
    """A warning about one ``stock[]`` entry; validation lists the same notes (never an error)."""

    path: str  # stock[i]
    sku: str
    location: str
    code: SafetyStockNoteCode
    message: str


class ServedLine(ReportModel):
    order: str
    line: Units
    quantity: Units
    period: Period  # delivery period
    date: dt.date
    on_time: bool


class PurchaseOrderReport(ReportModel):
    """One purchase order of the plan, where its units go, and why this agreement."""

    index: Units  # position in the plan's purchase_orders
    agreement: str
    supplier: str
    role: str
    sku: str
    location: str | None = None  # None for dropship
    period: Period
    placed_date: dt.date
    arrival_period: Period
    arrival_date: dt.date
    quantity: Units
    unit_price: Annotated[float, Field(ge=0)]  # all-units price at the agreement's total in that period
    cost: Annotated[float, Field(ge=0)]
    serves: list[ServedLine] = Field(default_factory=list)
    to_forecast: Units = 0
    to_safety_stock: Units = 0  # still in stock at the end of the horizon, up to the safety stock
    left_in_stock: Units = 0  # still in stock at the end of the horizon, above the safety stock
    beyond_horizon: Units = 0  # arrives after the last period
    reason: str
    reason_code: PurchaseReason


class NoticeLine(ReportModel):
    line: Units
    sku: str
    quantity: Units
    delivered_by_due: Units
    short: Units  # units never delivered
    new_date: dt.date | None = None


class RefundLine(ReportModel):
    line: Units
    sku: str
    units: Units


class RefundOffer(ReportModel):
    units: Units
    lines: list[RefundLine]


class CustomerNotice(ReportModel):
    order: str
    customer: str
    kind: NoticeKind
    new_date: dt.date | None = None
    previous_promise: dt.date | None = None
    lines: list[NoticeLine]  # the lines that are not on time
    refund_offer: RefundOffer | None = None  # for will_miss_latest
    message: str


class PricingRun(ReportModel):
    """How the late lines were priced on time (:mod:`stockplan.solver.pricing`), and in what time."""

    budget_seconds: float | None = None  # seconds pricing had; None: no budget
    seconds: float = 0.0  # seconds it took
    lines_chosen: int = 0  # late lines picked for pricing, at most settings.max_priced_lines
    lines_priced: int = 0  # of those, the lines with a price (exact, upper_bound, impossible or unknown)
    not_priced_for_time: int = 0  # of those, the lines left `not_priced` because the budget ran out


class PlanReport(ReportModel):
    """The planner's view of a plan.

    ``lines`` and ``orders`` cover orders due within the horizon; orders due beyond
    it are outside the plan and are only listed by id in ``orders_outside_horizon``.
    """

    period_dates: list[dt.date]
    lines: list[LineReport]
    orders: list[OrderReport]
    orders_outside_horizon: list[str] = Field(default_factory=list)
    kpis: Kpis
    stock: list[StockProjection]
    reorder_points: list[ReorderPoint]
    safety_stock_notes: list[SafetyStockNote] = Field(default_factory=list)
    purchase_orders: list[PurchaseOrderReport]
    notices: list[CustomerNotice]
    pricing: PricingRun | None = None  # None: late lines were not priced
