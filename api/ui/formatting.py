"""How the review pages write numbers, dates and codes (Jinja2 filters), and the template environment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: The seven parts of a plan's cost (spec §The cost of a plan), as the pages label them.
COST_PARTS: list[tuple[str, str]] = [
    ("purchase", "Purchase"),
    ("order_fixed", "Order fixed costs"),
    ("holding", "Holding"),
    ("safety_stock", "Below safety stock"),
    ("backorder", "Backorder"),
    ("lost_sales", "Lost sales"),
    ("shipping", "Shipping"),
]
#: How the filters of the plan's tables are labelled.
FILTER_LABELS = {"sku": "SKU", "customer": "Customer", "order": "Order", "supplier": "Supplier",
                 "location": "Location", "status": "Status", "state": "Decision", "priority": "Priority",
                 "from": "From", "to": "To", "show": "Show"}


def missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def money(value: Any) -> str:
    if missing(value):
        return "—"
    v = float(value)
    return f"{0.0 if abs(v) < 0.005 else v:,.2f}"


def signed_money(value: Any) -> str:
    if missing(value):
        return "—"
    v = float(value)
    if abs(v) < 0.005:
        return "±0.00"
    return f"+{v:,.2f}" if v > 0 else f"−{-v:,.2f}"


def percent(value: Any, digits: int = 1) -> str:
    if missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def signed_points(value: Any) -> str:
    """A change of a share, in percentage points."""
    if missing(value):
        return "—"
    v = float(value) * 100
    if abs(v) < 0.005:
        return "±0.0 pt"
    return f"+{v:.1f} pt" if v > 0 else f"−{-v:.1f} pt"


def when(value: dt.datetime | str | None) -> str:
    if missing(value) or value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def short(plan_id: str | None) -> str:
    return (plan_id or "")[:8]


def humanize(code: str | None) -> str:
    return (code or "").replace("_", " ")


def units(value: Any) -> str:
    """A whole number of units with thousands separators."""
    return "—" if missing(value) else f"{int(value):,}"


def item_label(target: str | None) -> str:
    """An audit target as the pages number items: ``purchase_order:3`` is purchase order #4."""
    kind, _, index = (target or "").partition(":")
    if not index.isdigit():
        return humanize(kind)
    return f"{humanize(kind)} #{int(index) + 1}"


def fix_cost(line: dict[str, Any]) -> dict[str, Any]:
    """What delivering a late line on time would cost, in words (from the report's pricing of the line)."""
    pricing = line.get("pricing") or ""
    kind, _, note = pricing.partition(",")
    extra = line.get("extra_cost")
    text = {"exact": signed_money(extra), "upper_bound": f"at most {signed_money(extra)}",
            "impossible": "cannot be on time", "not_priced": "not priced",
            "not_proven": "not priced: the plan is not proven optimal"}.get(kind, "—")
    if kind in ("exact", "upper_bound") and extra is None:
        text = "—"
    breaks = note.strip().removeprefix("breaks ").strip() if note else None
    return {"text": text, "kind": kind or None, "breaks": breaks, "extra": extra}


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, signed_money=signed_money, percent=percent, signed_points=signed_points,
                       when=when, short=short, humanize=humanize, units=units,
                       item_label=item_label)
    env.globals.update(fix_cost=fix_cost, labels=FILTER_LABELS)
    return env


templates = Jinja2Templates(env=_environment())
