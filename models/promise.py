"""Pydantic models of a promise quote: can a prospective order be delivered in full, and when?

A :class:`PromiseRequest` describes an order that is not in the plan yet (one SKU,
one quantity, optionally where it may ship from and how soon it may arrive); a
:class:`PromiseQuote` answers with the earliest period it can be delivered in full
from the plan as it stands (available- and capable-to-promise), and from what.
See :mod:`stockplan.solver.promise` for how quotes are computed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from stockplan.models.problem import MAX_UNITS, Id, NonNegFloat, NonNegInt

#: Where the units of a quote come from, in the order a tie is broken (first wins).
Source = Literal["stock", "planned_purchase_order", "new_purchase_order", "dropship"]
SOURCES: tuple[Source, ...] = get_args(Source)


class PromiseRequest(BaseModel):
    """A prospective order line to quote: ``quantity`` units of ``sku``, delivered in full.

    Attributes
    ----------
    sku : str
        The SKU ordered; must be one of the problem's items.
    quantity : int
        Units wanted, a JSON integer ``>= 1``; the quote delivers all of them at once.
    locations : list of str, optional
        Warehouses the order may ship from; ``None`` means any warehouse.
    earliest : date, optional
        Nothing is delivered before this date's period (like an order's ``earliest``).
    ship_cost : dict of str to float, optional
        Cost per unit shipped from each warehouse, like an order's ``ship_cost``: it
        also lists the only warehouses the order may ship from (intersected with
        ``locations`` when both are given). A dropship pays no shipping.
    allow_dropship : bool
        Whether a dropship agreement may deliver the order straight from the supplier.
    """

    # Unknown fields are refused, so a misspelt option fails loudly with its path.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sku: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)]
    locations: Annotated[list[Id], Field(min_length=1)] | None = None
    earliest: dt.date | None = None
    ship_cost: dict[Id, NonNegFloat] | None = None
    allow_dropship: bool = True


class PromiseQuote(BaseModel):
    """The answer to a :class:`PromiseRequest`.

    Attributes
    ----------
    feasible : bool
        False when nothing can deliver the quantity within the horizon (``message`` says why).
    date : date, optional
        First day of ``period``, the delivery period.
    period : int, optional
        The earliest period in which the whole quantity can be delivered.
    source : str, optional
        ``stock`` (on hand or inbound, not relying on the plan's purchase orders),
        ``planned_purchase_order`` (spare units of a purchase order the plan already
        places), ``new_purchase_order`` (units added to a stock agreement's order) or
        ``dropship`` (units added to a dropship agreement's order, delivered by the supplier).
    location : str, optional
        The warehouse shipping the units; ``None`` for a dropship.
    agreement : str, optional
        The agreement of the purchase order the quote relies on (planned or new).
    purchase_period : int, optional
        The period in which that purchase order is placed.
    purchase_order_quantity : int, optional
        The total quantity of that agreement in that period, after adding the units
        of a new purchase order or dropship (unchanged for a planned one).
    estimated_cost : float, optional
        Incremental cost: the change in purchase cost of the agreement and period
        (all-units price of the new total times the new total, minus the same for the
        planned total), plus the supplier's ``order_cost`` when the plan orders nothing
        from it in that period, plus shipping.
    alternatives : list of PromiseQuote
        The best option of each other source that can deliver, best first.
    message : str
        The quote in a planner's words, e.g. ``"4 units from WH-1 stock on 2026-12-07"``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    feasible: bool
    date: dt.date | None = None
    period: NonNegInt | None = None
    source: Source | None = None
    location: str | None = None
    agreement: str | None = None
    purchase_period: NonNegInt | None = None
    purchase_order_quantity: NonNegInt | None = None
    estimated_cost: float | None = None
    alternatives: list[PromiseQuote] = Field(default_factory=list)
    message: str = ""

