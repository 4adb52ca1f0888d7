"""What changed between two plans, per order and per SKU, from the two plans as stored (decisions and report).

Money per order: its lines' ``lateness_cost`` (backorder and lost sale, report) and its
shipping (``ship_cost`` per unit of the warehouse it ships from, as the evaluator counts
it). Per SKU: purchase spend (the report's purchase orders), lateness of its lines plus
the lost sales of its unfilled forecast, and shipping. Summed over every order,
lateness is the plan's backorder cost and lost sales without the unfilled forecast's;
over every SKU, with it; and shipping the plan's shipping cost.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from stockplan.models.problem import Problem

#: Money under half a cent is no change.
CENT = 0.005


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


@dataclass
class SkuFigures:
    """One SKU as a plan leaves it."""

    bought: int = 0
    spend: float | None = 0.0  # None: the plan has no report of its purchase orders
    shipped: int = 0
    lost: int | None = 0  # units of its order lines never delivered and of its forecast not filled (None: no report)
    lateness: float | None = 0.0  # its lines' lateness_cost and its unfilled forecast's lost sales
    shipping: float = 0.0
    decisions: Counter[tuple[Any, ...]] = field(default_factory=Counter)


def _add(total: float | None, value: Any) -> float | None:
    return None if total is None or value is None else total + float(value)


def _shipping(plan: dict[str, Any], problem: Problem) -> tuple[dict[str, float], dict[str, float]]:
    """Shipping cost per order and per SKU: ``ship_cost[location] × units`` of every shipment."""
    orders = {o.id: o for o in problem.orders}
    per_order: dict[str, float] = defaultdict(float)
    per_sku: dict[str, float] = defaultdict(float)
    for sh in plan.get("shipments") or ():
        order = orders.get(sh["order"])
        if order is None or order.ship_cost is None or sh["location"] not in order.ship_cost:
            continue
        if not 0 <= int(sh["line"]) < len(order.lines):
            continue
        money = order.ship_cost[sh["location"]] * int(sh["quantity"])
        per_order[order.id] += money
        per_sku[order.lines[int(sh["line"])].sku] += money
    return per_order, per_sku


def order_outcomes(plan: dict[str, Any], problem: Problem) -> dict[str, OrderOutcome]:
    """Every order of the plan's report: status, promised date, units by due and lost, lateness and shipping."""
    report = plan.get("report") or {}
    by_due: dict[str, int] = defaultdict(int)
    lateness: dict[str, float | None] = defaultdict(float)
    for ln in report.get("lines") or ():
        by_due[ln["order"]] += int(ln["delivered_by_due"])
        lateness[ln["order"]] = _add(lateness[ln["order"]], ln.get("lateness_cost"))
    shipping, _ = _shipping(plan, problem)
    return {o["order"]: OrderOutcome(customer=o["customer"], status=o["status"], promised=o.get("promised_date"),
                                     by_due=by_due[o["order"]], lost=int(o["quantity"]) - int(o["delivered"]),
                                     lateness=lateness[o["order"]], shipping=shipping.get(o["order"], 0.0))
            for o in report.get("orders") or ()}


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


def sku_figures(plan: dict[str, Any], problem: Problem) -> dict[str, SkuFigures]:
    """Every SKU the plan buys, ships, reports a line of or forecasts: units and money, and its decisions."""
    report = plan.get("report") or {}
    out: dict[str, SkuFigures] = defaultdict(SkuFigures)
    agreements = {ag.id: ag for ag in problem.agreements}
    for po in plan.get("purchase_orders") or ():
        ag = agreements.get(po["agreement"])
        if ag is not None:
            out[ag.sku].bought += int(po["quantity"])
            lines = tuple((x["order"], x["line"], x["quantity"]) for x in po.get("lines") or ())
            out[ag.sku].decisions[("po", po["agreement"], po["period"], lines)] += int(po["quantity"])
    if report:
        for po in report.get("purchase_orders") or ():
            out[po["sku"]].spend = _add(out[po["sku"]].spend, po["cost"])
    line_sku = {(o.id, k): line.sku for o in problem.orders for k, line in enumerate(o.lines)}
    for sh in plan.get("shipments") or ():
        sku = line_sku.get((sh["order"], int(sh["line"])))
        if sku is not None:
            out[sku].shipped += int(sh["quantity"])
            out[sku].decisions[("sh", sh["order"], sh["line"], sh["location"], sh["period"])] += int(sh["quantity"])
    for ln in report.get("lines") or ():
        f = out[ln["sku"]]
        f.lost = (f.lost or 0) + int(ln["quantity"]) - int(ln["delivered"])
        f.lateness = _add(f.lateness, ln.get("lateness_cost"))
    for fill in plan.get("forecast_fills") or ():
        out[fill["sku"]].decisions[("ff", fill["location"], fill["period"])] += int(fill["quantity"])
    for sku, (units, money) in unfilled_forecast(plan, problem).items():
        out[sku].lost = (out[sku].lost or 0) + units
        out[sku].lateness = _add(out[sku].lateness, money)
    _, shipping = _shipping(plan, problem)
    for sku, money in shipping.items():
        out[sku].shipping += money
    if not report:
        for f in out.values():
            f.spend = f.lateness = f.lost = None
    return dict(out)


def _delta(a: float | None, b: float | None, a_there: bool, b_there: bool) -> float | None:
    """B − A, a side without the entity counting 0; None when a side present does not know it."""
    if (a_there and a is None) or (b_there and b is None):
        return None
    return (b or 0.0) - (a or 0.0)


def _sort_key(row: dict[str, Any]) -> tuple[float, str]:
    total = row["total"]
    return (-abs(total) if total is not None else 0.0, row["id"])


def _money_differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) >= CENT


def order_changes(a: dict[str, OrderOutcome], b: dict[str, OrderOutcome]) -> list[dict[str, Any]]:
    """One row per order whose outcome differs (or that one side only has), largest |cost change| first."""
    rows = []
    for oid in set(a) | set(b):
        oa, ob = a.get(oid), b.get(oid)
        if oa is not None and ob is not None and (
                (oa.status, oa.promised, oa.by_due, oa.lost) == (ob.status, ob.promised, ob.by_due, ob.lost)
                and not _money_differs(oa.lateness, ob.lateness) and not _money_differs(oa.shipping, ob.shipping)):
            continue
        lateness = _delta(oa.lateness if oa else None, ob.lateness if ob else None, oa is not None, ob is not None)
        shipping = (ob.shipping if ob else 0.0) - (oa.shipping if oa else 0.0)
        customer = ob.customer if ob is not None else oa.customer if oa is not None else "—"
        rows.append({"id": oid, "customer": customer, "a": oa, "b": ob,
                     "lateness": lateness, "shipping": shipping,
                     "total": None if lateness is None else lateness + shipping})
    return sorted(rows, key=_sort_key)


def sku_changes(a: dict[str, SkuFigures], b: dict[str, SkuFigures]) -> list[dict[str, Any]]:
    """One row per SKU whose decisions or figures differ, largest |spend + lateness + shipping change| first."""
    rows = []
    for sku in set(a) | set(b):
        fa, fb = a.get(sku), b.get(sku)
        if fa is not None and fb is not None and fa.decisions == fb.decisions and (
                (fa.bought, fa.shipped, fa.lost) == (fb.bought, fb.shipped, fb.lost)
                and not any(_money_differs(x, y) for x, y in ((fa.spend, fb.spend), (fa.lateness, fb.lateness),
                                                             (fa.shipping, fb.shipping)))):
            continue
        there = (fa is not None, fb is not None)
        spend = _delta(fa.spend if fa else None, fb.spend if fb else None, *there)
        lateness = _delta(fa.lateness if fa else None, fb.lateness if fb else None, *there)
        shipping = (fb.shipping if fb else 0.0) - (fa.shipping if fa else 0.0)
        total = None if spend is None or lateness is None else spend + lateness + shipping
        rows.append({"id": sku, "a": fa, "b": fb, "spend": spend, "lateness": lateness, "shipping": shipping,
                     "total": total})
    return sorted(rows, key=_sort_key)


def sum_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows]
    return None if any(v is None for v in values) else sum(values)


def unfilled_forecast_cost(plan: dict[str, Any], problem: Problem) -> float:
    """The plan's lost sales that no order line carries: those of its unfilled forecast."""
    return sum(money for _, money in unfilled_forecast(plan, problem).values())
