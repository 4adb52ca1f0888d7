"""Parse and check a problem, reporting every error at once with its JSON path.

Two passes: pydantic checks shapes, types and ranges (it already collects all
of them); when the shape is sound, :func:`check_problem_rules` checks the rules
that span entities. Both produce :class:`FieldError` with paths such as
``orders[3].lines[0].sku``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stockplan.models.problem import Problem, Role


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ProblemError(ValueError):
    """A problem (or plan) that does not follow the planning model."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} error(s): {shown}{more}")


@dataclass(frozen=True)
class Limits:
    """Size caps that keep one request from exhausting the machine."""

    max_orders: int = 200_000
    max_lines: int = 1_000_000
    max_items: int = 100_000
    max_agreements: int = 200_000
    max_entries: int = 2_000_000  # stock, inbound and forecast rows each
    max_periods: int = 520


def json_path(loc: Iterable[int | str]) -> str:
    """``("orders", 3, "lines", 0, "sku")`` -> ``orders[3].lines[0].sku``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


def errors_from_pydantic(exc: ValidationError, prefix: Sequence[int | str] = ()) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        # Skip pydantic's internal tags (e.g. "function-after[...]") in the path.
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        errors.append(FieldError(json_path([*prefix, *loc]), err["msg"]))
    return errors


def load_problem(data: Any, limits: Limits | None = None) -> Problem:
    """Parse ``data`` (decoded JSON) into a :class:`Problem` or raise :class:`ProblemError`."""
    limits = limits or Limits()
    if not isinstance(data, dict):
        raise ProblemError([FieldError("$", "a problem is a JSON object")])
    size_errors = check_size(data, limits)
    if size_errors:
        # Refuse before building millions of objects.
        raise ProblemError(size_errors)
    try:
        problem = Problem.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(errors_from_pydantic(exc)) from None
    errors = check_problem_rules(problem)
    if errors:
        raise ProblemError(errors)
    return problem


def check_size(data: dict[str, Any], limits: Limits) -> list[FieldError]:
    caps = {
        "orders": limits.max_orders,
        "items": limits.max_items,
        "agreements": limits.max_agreements,
        "stock": limits.max_entries,
        "inbound": limits.max_entries,
        "forecast": limits.max_entries,
    }
    errors = [
        FieldError(key, f"{len(data[key])} entries exceed the limit of {cap}")
        for key, cap in caps.items()
        if isinstance(data.get(key), list) and len(data[key]) > cap
    ]
    orders = data.get("orders")
    if isinstance(orders, list):
        n_lines = sum(
            len(o["lines"]) for o in orders if isinstance(o, dict) and isinstance(o.get("lines"), list)
        )
        if n_lines > limits.max_lines:
            errors.append(
                FieldError("orders", f"{n_lines} order lines exceed the limit of {limits.max_lines}")
            )
    horizon = data.get("horizon")
    if isinstance(horizon, dict):
        periods = horizon.get("periods")
        if isinstance(periods, int) and periods > limits.max_periods:
            errors.append(
                FieldError("horizon.periods", f"{periods} periods exceed the limit of {limits.max_periods}")
            )
    return errors


def check_unique_ids(values: Sequence[str], path: str, field: str) -> list[FieldError]:
    counts = Counter(values)
    return [
        FieldError(f"{path}[{i}].{field}", f"duplicate {field} {v!r}")
        for i, v in enumerate(values)
        if counts[v] > 1
    ]


def check_problem_rules(p: Problem) -> list[FieldError]:
    """Rules spanning entities: unique ids, resolvable references, date order, prices."""
    errors: list[FieldError] = []
    skus = {i.sku for i in p.items}
    locs = {loc.id for loc in p.locations}
    suppliers = {s.id for s in p.suppliers}

    errors += check_unique_ids([i.sku for i in p.items], "items", "sku")
    errors += check_unique_ids([loc.id for loc in p.locations], "locations", "id")
    errors += check_unique_ids([o.id for o in p.orders], "orders", "id")
    errors += check_unique_ids([s.id for s in p.suppliers], "suppliers", "id")
    errors += check_unique_ids([a.id for a in p.agreements], "agreements", "id")

    def ref(value: str | None, known: set[str], path: str, what: str) -> None:
        if value is not None and value not in known:
            errors.append(FieldError(path, f"unknown {what} {value!r}"))

    seen_stock: dict[tuple[str, str], int] = {}
    for i, s in enumerate(p.stock):
        ref(s.sku, skus, f"stock[{i}].sku", "sku")
        ref(s.location, locs, f"stock[{i}].location", "location")
        key = (s.sku, s.location)
        if key in seen_stock:
            errors.append(
                FieldError(f"stock[{i}]", f"duplicate stock entry for {key}, first at stock[{seen_stock[key]}]")
            )
        seen_stock.setdefault(key, i)
        stats = (s.demand_per_period, s.demand_std, s.service_level)
        if s.safety_stock is None and any(v is not None for v in stats) and any(v is None for v in stats):
            errors.append(
                FieldError(
                    f"stock[{i}]",
                    "safety stock from statistics needs demand_per_period, demand_std and service_level",
                )
            )
    for i, b in enumerate(p.inbound):
        ref(b.sku, skus, f"inbound[{i}].sku", "sku")
        ref(b.location, locs, f"inbound[{i}].location", "location")
    for i, f in enumerate(p.forecast):
        ref(f.sku, skus, f"forecast[{i}].sku", "sku")
        ref(f.location, locs, f"forecast[{i}].location", "location")
    for i, o in enumerate(p.orders):
        for j, line in enumerate(o.lines):
            ref(line.sku, skus, f"orders[{i}].lines[{j}].sku", "sku")
        for loc in o.ship_cost or {}:
            ref(loc, locs, f"orders[{i}].ship_cost.{loc}", "location")
        if o.latest is not None and o.latest < o.due:
            errors.append(FieldError(f"orders[{i}].latest", "latest is before due"))
        if o.earliest is not None and o.latest is not None and o.earliest > o.latest:
            errors.append(FieldError(f"orders[{i}].earliest", "earliest is after latest"))
    for i, a in enumerate(p.agreements):
        ref(a.supplier, suppliers, f"agreements[{i}].supplier", "supplier")
        ref(a.sku, skus, f"agreements[{i}].sku", "sku")
        if a.role != Role.DROPSHIP:
            if a.location is None:
                errors.append(FieldError(f"agreements[{i}].location", "required unless role is dropship"))
            else:
                ref(a.location, locs, f"agreements[{i}].location", "location")
        errors += check_price_breaks(a.unit_cost, a.price_breaks or [], f"agreements[{i}].price_breaks")
    return errors


def check_price_breaks(unit_cost: float, breaks: Sequence[Any], path: str) -> list[FieldError]:
    """A larger ``min_qty`` never has a higher price, nor one above the agreement's own."""
    errors = []
    for k, pb in enumerate(breaks):
        if pb.unit_cost > unit_cost:
            errors.append(FieldError(f"{path}[{k}].unit_cost", "is higher than the agreement's unit_cost"))
    order = sorted(range(len(breaks)), key=lambda k: breaks[k].min_qty)
    for a, b in itertools.pairwise(order):
        if breaks[a].min_qty == breaks[b].min_qty:
            errors.append(FieldError(f"{path}[{b}].min_qty", "duplicate min_qty"))
        elif breaks[b].unit_cost > breaks[a].unit_cost:
            errors.append(
                FieldError(f"{path}[{b}].unit_cost", "a larger min_qty has a higher unit_cost")
            )
    return errors
