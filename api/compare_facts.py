"""What comparing a stored plan with another needs from it, worked out once when the plan is stored.

Comparing two 10,000-order plans from their documents means reading two 17 MB plans
and parsing their problem: seconds. So when a plan is stored its compare facts go into
``plans.compare`` next to its review index: each order's outcome, each SKU's figures
(units and money, and a digest of its decisions), each purchase order and shipment
keyed as the compare page matches them (agreement and placement date; order, line,
warehouse and ship date), the lost sales of the unfilled forecast, and a digest of the
problem. The compare page diffs two such records and reads neither document nor
problem; plans stored before this get theirs the first time they are compared.

Money per order: its lines' ``lateness_cost`` (backorder and lost sale, from the report)
and its shipping (``ship_cost`` per unit of the warehouse it ships from, as the
evaluator counts it). Per SKU: purchase spend (the report's purchase orders), lateness
of its lines plus the lost sales of its unfilled forecast, and shipping. Summed over
every order, lateness is the plan's backorder cost and lost sales without the unfilled
forecast's; over every SKU, with it; and shipping is the plan's shipping cost.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from stockplan.models.problem import Problem

#: The layout of ``plans.compare``; a record of another version is worked out again.
VERSION = 4


def _money(value: float | None) -> float | None:
    """Money to a millionth: far below the cent the pages show, and a short number in JSON."""
    return None if value is None else round(value, 6)


@dataclass
class OrderOutcome:
    """One order as a plan leaves it."""

    customer: str
    status: str
    promised: str | None
    by_due: int
    lost: int
    lateness: float | None  # None: a line without lateness_cost (a plan stored before it was reported)
    shipping: float = 0.0

    def stored(self) -> list[Any]:
        """The fields in order (read back by ``OrderOutcome(*fields)``), money to a millionth."""
        return [self.customer, self.status, self.promised, self.by_due, self.lost, _money(self.lateness),
                _money(self.shipping)]


@dataclass
class SkuFigures:
    """One SKU as a plan leaves it; ``decisions``: a digest of its purchase orders, shipments and fills."""

    bought: int = 0
    spend: float | None = 0.0  # None: the plan has no report of its purchase orders
    shipped: int = 0
    lost: int | None = 0  # units of its order lines never delivered and of its forecast not filled (None: no report)
    lateness: float | None = 0.0  # its lines' lateness_cost and its unfilled forecast's lost sales
    shipping: float = 0.0
    decisions: str = ""

    def stored(self) -> list[Any]:
        """The fields in order (read back by ``SkuFigures(*fields)``), money to a millionth."""
        return [self.bought, _money(self.spend), self.shipped, self.lost, _money(self.lateness),
                _money(self.shipping), self.decisions]


def _add(total: float | None, value: Any) -> float | None:
    return None if total is None or value is None else total + float(value)


def unfilled_forecast(plan: dict[str, Any], problem: Problem) -> dict[str, tuple[int, float]]:
    """Per SKU: units of forecast inside the horizon the plan does not fill, and their lost sales (as evaluated)."""
    horizon = problem.horizon
    open_: dict[tuple[str, str, int], int] = defaultdict(int)
    for f in problem.forecast:
        period = horizon.period_of(f.date)
        if period < horizon.periods:
            open_[(f.sku, f.location, period)] += f.quantity
    for fill in plan.get("forecast_fills") or ():
        key = (fill["sku"], fill["location"], int(fill["period"]))
        if key in open_:
            open_[key] -= int(fill["quantity"])
    lost_sale = {item.sku: item.lost_sale_cost for item in problem.items}
    out: dict[str, tuple[int, float]] = {}
    for (sku, _, _), units in open_.items():
        was = out.get(sku, (0, 0.0))
        units = max(0, units)
        out[sku] = (was[0] + units, was[1] + units * lost_sale.get(sku, 0.0))
    return out


class _Scan:
    """One pass over a plan's decisions and report: the figures per order and per SKU, and the decision columns.

    A SKU's decisions (its purchase orders with the lines they serve, its shipments, its
    forecast fills) are kept as entries and digested, so that two plans' SKUs compare by
    one string.
    """

    def __init__(self, plan: dict[str, Any], problem: Problem) -> None:
        self.plan, self.problem = plan, problem
        self.report: dict[str, Any] = plan.get("report") or {}
        self.skus: dict[str, SkuFigures] = defaultdict(SkuFigures)
        self.entries: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.order_shipping: dict[str, float] = defaultdict(float)
        self._dates: dict[int, str] = {}

    def day(self, period: Any) -> str:
        p = int(period)
        if p not in self._dates:
            self._dates[p] = self.problem.horizon.date_of(p).isoformat()
        return self._dates[p]

    def purchase_orders(self) -> tuple[list[str], list[int]]:
        """Units bought and spend per SKU; each purchase order's key (agreement, placement date) and units."""
        sku_of = {ag.id: ag.sku for ag in self.problem.agreements}
        keys, quantities = [], []
        for po in self.plan.get("purchase_orders") or ():
            agreement, units = po["agreement"], int(po["quantity"])
            keys.append(pack([agreement, self.day(po["period"])]))
            quantities.append(units)
            sku = sku_of.get(agreement)
            if sku is not None:
                self.skus[sku].bought += units
                lines = tuple((x["order"], x["line"], x["quantity"]) for x in po.get("lines") or ())
                self.entries[sku].append(("po", agreement, int(po["period"]), lines, units))
        for po in self.report.get("purchase_orders") or ():
            self.skus[po["sku"]].spend = _add(self.skus[po["sku"]].spend, po["cost"])
        return keys, quantities

    def shipments(self) -> tuple[list[str], list[int]]:
        """Units shipped and shipping (``ship_cost[warehouse] × units``, as the evaluator counts it) per SKU and
        per order; each shipment's key (order, line, warehouse, ship date) and units."""
        lines = {o.id: (o.ship_cost or {}, [ln.sku for ln in o.lines]) for o in self.problem.orders}
        keys, quantities = [], []
        for sh in self.plan.get("shipments") or ():
            order, line, location, units = sh["order"], int(sh["line"]), sh["location"], int(sh["quantity"])
            keys.append(pack([order, line, location, self.day(sh["period"])]))
            quantities.append(units)
            ship_cost, skus = lines.get(order, ({}, []))
            if not 0 <= line < len(skus):
                continue
            figures = self.skus[skus[line]]
            figures.shipped += units
            self.entries[skus[line]].append(("sh", order, line, location, int(sh["period"]), units))
            if location in ship_cost:
                money = ship_cost[location] * units
                figures.shipping += money
                self.order_shipping[order] += money
        return keys, quantities

    def forecast(self) -> float:
        """The fills as decisions, the unfilled forecast as lost units and lost sales; their total lost sales."""
        for fill in self.plan.get("forecast_fills") or ():
            self.entries[fill["sku"]].append(("ff", fill["location"], int(fill["period"]), int(fill["quantity"])))
        total = 0.0
        for sku, (units, money) in unfilled_forecast(self.plan, self.problem).items():
            figures = self.skus[sku]
            figures.lost = (figures.lost or 0) + units
            figures.lateness = _add(figures.lateness, money)
            total += money
        return total

    def orders(self) -> dict[str, OrderOutcome]:
        """Every order of the report (its lines' units and lateness also counted for their SKU)."""
        by_due: dict[str, int] = defaultdict(int)
        lateness: dict[str, float | None] = defaultdict(float)
        for ln in self.report.get("lines") or ():
            order, figures = ln["order"], self.skus[ln["sku"]]
            by_due[order] += int(ln["delivered_by_due"])
            lateness[order] = _add(lateness[order], ln.get("lateness_cost"))
            figures.lost = (figures.lost or 0) + int(ln["quantity"]) - int(ln["delivered"])
            figures.lateness = _add(figures.lateness, ln.get("lateness_cost"))
        return {o["order"]: OrderOutcome(customer=o["customer"], status=o["status"], promised=o.get("promised_date"),
                                         by_due=by_due[o["order"]], lost=int(o["quantity"]) - int(o["delivered"]),
                                         lateness=lateness[o["order"]],
                                         shipping=self.order_shipping.get(o["order"], 0.0))
                for o in self.report.get("orders") or ()}

    def sku_figures(self) -> dict[str, SkuFigures]:
        """Every SKU seen, its decisions digested; without a report its money and losses are unknown (None)."""
        for sku, entries in self.entries.items():
            self.skus[sku].decisions = _digest(entries)
        if not self.report:
            for f in self.skus.values():
                f.spend = f.lateness = f.lost = None
        return dict(self.skus)


def _digest(entries: list[tuple[Any, ...]]) -> str:
    """Equal for two SKUs with the same decisions, whatever their order in the plans."""
    return hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()[:24]


def problem_digest(problem: Problem) -> str:
    """Equal for two plans of the same problem (as parsed: the order of its lists does not matter)."""
    return hashlib.sha256(problem.canonical().model_dump_json().encode()).hexdigest()


def plan_facts(plan: dict[str, Any], problem: Problem) -> dict[str, Any]:
    """The plan's ``plans.compare`` record: plain JSON, read back by :func:`read_facts`.

    Purchase orders and shipments are kept as units per key (a purchase order's key is
    its agreement and placement date, a shipment's its order, line, warehouse and ship
    date, each :func:`pack` ed), with what a planner's edits (quantities by index) need
    to apply to them as to the plan.
    """
    scan = _Scan(plan, problem)
    pos, ships = scan.purchase_orders(), scan.shipments()
    forecast_lost_sales = scan.forecast()
    used = {po["agreement"] for po in plan.get("purchase_orders") or ()}
    return {
        "version": VERSION,
        "problem": problem_digest(problem),
        "reported": bool(plan.get("report")),
        "orders": {k: pack(o.stored()) for k, o in scan.orders().items()},
        "skus": {k: pack(f.stored()) for k, f in scan.sku_figures().items()},
        "forecast_lost_sales": forecast_lost_sales,
        "purchase_orders": _decisions(*pos),
        "shipments": _decisions(*ships),
        "agreements": {ag.id: [ag.supplier, ag.sku, ag.location or "dropship"]
                       for ag in sorted(problem.agreements, key=lambda ag: ag.id) if ag.id in used},
    }


def _decisions(keys: list[str], units: list[int]) -> dict[str, list[Any]]:
    """Decisions as units per distinct key (``key``, ``units``), and for each decision of the plan (by index)
    the position of its key (``at``) and its own units (``each``): what applying an edit needs."""
    position: dict[str, int] = {}
    distinct: list[str] = []
    totals: list[int] = []
    at = []
    for key, n in zip(keys, units, strict=True):
        k = position.get(key)
        if k is None:
            k = position[key] = len(distinct)
            distinct.append(key)
            totals.append(0)
        totals[k] += n
        at.append(k)
    return {"key": distinct, "units": totals, "at": at, "each": list(units)}


def pack(value: list[Any]) -> str:
    """One order's outcome, SKU's figures or decision's key as one JSON string: equal values, equal strings.

    Two plans then compare by strings (set operations on ``dict.items()``), and reading a
    record back makes one object per order or decision instead of one per field; only
    what changed is unpacked (:func:`unpack`).
    """
    return orjson.dumps(value).decode()


def unpack(text: str) -> list[Any]:
    """What :func:`pack` packed."""
    value: list[Any] = orjson.loads(text)
    return value


@dataclass
class Facts:
    """A plan's compare facts, read back from ``plans.compare``."""

    problem: str
    reported: bool
    orders: dict[str, str]  # OrderOutcome.stored(), packed
    skus: dict[str, str]  # SkuFigures.stored(), packed
    forecast_lost_sales: float
    purchase_orders: dict[str, list[Any]]  # key (agreement, date; packed), units, at, each: see _decisions
    shipments: dict[str, list[Any]]  # key (order, line, location, date; packed), units, at, each
    agreements: dict[str, list[str]]  # supplier, SKU, location of each agreement the plan buys on


def read_facts(record: dict[str, Any]) -> Facts:
    """A stored record as objects (the caller checks ``record["version"]``).

    Orders and SKUs stay packed here (cheap to compare); :class:`OrderOutcome` and
    :class:`SkuFigures` are made only for the ones that changed.
    """
    return Facts(problem=record["problem"], reported=record["reported"],
                 orders=record["orders"], skus=record["skus"],
                 forecast_lost_sales=record["forecast_lost_sales"], purchase_orders=record["purchase_orders"],
                 shipments=record["shipments"], agreements=record["agreements"])


def is_current(record: dict[str, Any] | None) -> bool:
    """Whether a stored record has this module's layout (else it is worked out again)."""
    return record is not None and record.get("version") == VERSION
