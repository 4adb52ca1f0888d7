"""Pydantic models of a planning problem, written to the planning model's §Inputs.

Field names are the wire names. Structural rules (types, ranges, finiteness)
live on the fields; rules that span entities (unique ids, references, date
order) live in :mod:`stockplan.models.validation` so that every error can be
reported at once with its JSON path.

The models are strict: an unknown field is an error (a misspelt ``earliest_date``
must not silently mean "no earliest date"), every extension is declared here,
and nothing is coerced from another JSON type — booleans are JSON ``true`` or
``false``, numbers are JSON numbers (an integer is fine where a float is
expected, a string such as ``"1.5"`` is not), dates are ISO strings.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from stockplan.models.periods import lead_time_periods, period_of

# Costs and rates: finite, and small enough that cost × units stays far from overflow.
MAX_COST = 1e9
# Strict floats: JSON numbers only (an integer is fine; no "1.5", no true).
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_COST, strict=True)]
# Quantities are whole units: JSON integers only (no true, no "3", no 4.0), and small
# enough that sums over a whole problem stay exact in int64.
MAX_UNITS = 10**9
NonNegInt = Annotated[int, Field(ge=0, le=MAX_UNITS, strict=True)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


def _date_input(value: Any) -> Any:
    """A date is an ISO string (or a ``date``): no day counts or timestamps taken from numbers."""
    if isinstance(value, bool | int | float):
        raise ValueError("a date is a string YYYY-MM-DD")
    return value


WireDate = Annotated[date, BeforeValidator(_date_input)]
StrictBool = Annotated[bool, Field(strict=True)]


class WireModel(BaseModel):
    """Base: finite numbers only; unknown fields are errors (every extension is declared)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", frozen=False)


class Horizon(WireModel):
    start: WireDate
    periods: Annotated[int, Field(ge=1, le=520, strict=True)]
    period_days: Annotated[int, Field(ge=1, le=366, strict=True)]

    def period_of(self, day: date) -> int:
        """Period of ``day``; ``>= periods`` means beyond the horizon."""
        return period_of(day, self.start, self.period_days)

    def lead_periods(self, days: int) -> int:
        return lead_time_periods(days, self.period_days)

    def date_of(self, period: int) -> date:
        """First day of ``period``."""
        from datetime import timedelta

        return self.start + timedelta(days=period * self.period_days)


class Item(WireModel):
    sku: Id
    holding_cost: NonNegFloat = 0.0
    backorder_cost: NonNegFloat = 0.0
    lost_sale_cost: NonNegFloat


class Location(WireModel):
    id: Id


class Stock(WireModel):
    sku: Id
    location: Id
    on_hand: NonNegInt = 0
    safety_stock: NonNegInt | None = None
    safety_stock_cost: NonNegFloat = 0.0
    # Statistics from which safety stock and the reorder point are derived
    # (spec §Safety stock and reorder points) when ``safety_stock`` is absent.
    demand_per_period: NonNegFloat | None = None
    demand_std: NonNegFloat | None = None
    service_level: Annotated[float, Field(gt=0.5, lt=1.0, strict=True)] | None = None
    # Extension: how often stock is reviewed, in days (periods as for a lead time: R). Stock
    # then has to cover L + R periods: safety stock ceil(z × std × sqrt(L + R)), reorder point
    # ceil(mean × (L + R)) + safety stock. Absent: the spec's formulas exactly.
    review_period_days: NonNegInt | None = None


class Inbound(WireModel):
    sku: Id
    location: Id
    quantity: NonNegInt
    arrives: WireDate
    ref: str | None = None


class OrderLine(WireModel):
    sku: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)]
    backorder_cost: NonNegFloat | None = None


class Order(WireModel):
    id: Id
    customer: str
    priority: Annotated[int, Field(ge=1, strict=True)] = 3
    due: WireDate
    earliest: WireDate | None = None
    latest: WireDate | None = None
    ship_complete: StrictBool = False
    ship_cost: dict[str, NonNegFloat] | None = None
    lines: Annotated[list[OrderLine], Field(min_length=1)]
    # Extension: the date last promised to the customer. With
    # ``settings.promise_slip_cost`` the plan pays for every unit-period of slip
    # beyond it (promise stability), and customer notices say ``delayed``.
    promised: WireDate | None = None
    # Extension: when the order was placed. Breaks fair-share ties (the oldest order gets
    # the units a max-min split leaves to hand out) and ages open backorders.
    ordered: WireDate | None = None
    # Extension (split-shipment control): this order's own cost per shipment and minimum
    # partial shipment, in place of ``settings.shipment_cost`` and ``settings.min_partial_shipment``.
    shipment_cost: NonNegFloat | None = None
    min_partial_shipment: NonNegInt | None = None


class Forecast(WireModel):
    sku: Id
    location: Id
    date: WireDate
    quantity: NonNegInt


class Supplier(WireModel):
    id: Id
    order_cost: NonNegFloat = 0.0


class Role(StrEnum):
    PRIMARY = "primary"
    ALTERNATE = "alternate"
    DROPSHIP = "dropship"


class PriceBreak(WireModel):
    min_qty: Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)]
    unit_cost: NonNegFloat


class Agreement(WireModel):
    id: Id
    supplier: Id
    sku: Id
    role: Role
    location: Id | None = None
    unit_cost: NonNegFloat
    lead_time_days: NonNegInt
    moq: NonNegInt = 0
    pack_size: Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)] = 1
    capacity_per_period: NonNegInt | None = None
    price_breaks: list[PriceBreak] | None = None
    # Extension (order smoothing against the bullwhip effect): the ordered quantity
    # of this agreement changes by at most this many units between consecutive periods.
    max_change_per_period: NonNegInt | None = None

    def price_at(self, quantity: int) -> float:
        """All-units price: the break with the largest ``min_qty <= quantity``."""
        price = self.unit_cost
        best = 0
        for pb in self.price_breaks or ():
            if best < pb.min_qty <= quantity:
                best, price = pb.min_qty, pb.unit_cost
        return price


class Policy(StrEnum):
    MIN_COST = "min_cost"
    PRIORITY = "priority"
    FAIR_SHARE = "fair_share"
    # Extension: the priority rule across levels, the fair-share rule within a level.
    PRIORITY_FAIR_SHARE = "priority_fair_share"


class Settings(WireModel):
    policy: Policy = Policy.MIN_COST
    time_limit: Annotated[float, Field(gt=0, le=86_400, strict=True)] | None = None
    gap: Annotated[float, Field(ge=0, le=1, strict=True)] | None = None
    # Extension: cost per unit and period a line is still open after its order's
    # ``promised`` period. Not part of the spec's cost: reported as a penalty.
    promise_slip_cost: NonNegFloat = 0.0
    # Extension (split-shipment control): a fee per shipment, i.e. per order, warehouse and
    # period with a positive quantity (not part of the spec's cost: reported as
    # ``shipment_fees``); and the fewest units a shipment of a line may carry unless it
    # completes the line (a feasibility rule, ``min_partial_shipment``). 0: no fee, no minimum.
    shipment_cost: NonNegFloat = 0.0
    min_partial_shipment: NonNegInt = 0
    # How many backordered or lost lines get their on-time alternative priced
    # (each is a re-solve), and the time limit of each of those re-solves.
    max_priced_lines: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 20
    pricing_time_limit: Annotated[float, Field(gt=0, le=3_600, strict=True)] = 10.0


class Problem(WireModel):
    horizon: Horizon
    items: list[Item]
    locations: Annotated[list[Location], Field(min_length=1)]
    stock: list[Stock] = Field(default_factory=list)
    inbound: list[Inbound] = Field(default_factory=list)
    orders: list[Order] = Field(default_factory=list)
    forecast: list[Forecast] = Field(default_factory=list)
    suppliers: list[Supplier] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)

    def canonical(self) -> Problem:
        """The same problem with every list in a fixed order (by id, else by content).

        Solving the canonical form makes the plan independent of the order of the
        input's arrays: the same problem always gives the same model, hence the same
        plan from a deterministic solver, and ties are broken the same way.
        """
        return self.model_copy(update={
            "items": sorted(self.items, key=lambda i: i.sku),
            "locations": sorted(self.locations, key=lambda loc: loc.id),
            "stock": sorted(self.stock, key=lambda s: (s.sku, s.location)),
            "inbound": sorted(self.inbound, key=lambda b: (b.sku, b.location, b.arrives, b.quantity, b.ref or "")),
            "orders": sorted(self.orders, key=lambda o: o.id),
            "forecast": sorted(self.forecast, key=lambda f: (f.sku, f.location, f.date, f.quantity)),
            "suppliers": sorted(self.suppliers, key=lambda s: s.id),
            "agreements": sorted(self.agreements, key=lambda a: a.id),
        })
