"""Parse and check a problem, reporting every error at once with its JSON path.

Two kinds of error, reported together: pydantic checks shapes, types and ranges
(it already collects all of them), and unknown fields are errors, with a
suggestion when a known field at that place is close
(``orders[0].earliest_date: unknown field; did you mean 'earliest'?``);
:func:`check_problem_rules` checks the rules that span entities. When the shape
is not sound, the cross-entity rules still run on every entity whose own shape
is sound (:func:`check_raw_rules`), so one answer lists both kinds. Both produce
:class:`FieldError` with paths such as ``orders[3].lines[0].sku``.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import types
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stockplan.models.problem import (
    Agreement,
    Forecast,
    Inbound,
    Item,
    Location,
    Order,
    Problem,
    Role,
    Stock,
    Supplier,
)


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


def _model_in(annotation: Any, step: int | str | None) -> Any:
    """The type a value of ``annotation`` holds at ``step`` (a list index, a dict key), or itself."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0], step)
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            found = _model_in(arg, step)
            if found is not None and found is not type(None):
                return found
        return None
    if step is None:
        return annotation
    if origin in (list, tuple, set, frozenset) and isinstance(step, int):
        args = get_args(annotation)
        return _model_in(args[0], None) if args else None
    if origin is dict and isinstance(step, str):
        args = get_args(annotation)
        return _model_in(args[1], None) if len(args) == 2 else None
    return None


def model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model whose fields are expected at ``loc`` inside ``model`` (None if none is)."""
    current: Any = model
    for step in loc:
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(step, str):
            info = current.model_fields.get(step)
            if info is None:
                return None
            current = _model_in(info.annotation, None)
        else:
            current = _model_in(current, step)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unknown_field_message(name: object, known: Iterable[str]) -> str:
    """``unknown field; did you mean 'earliest'?`` (or the fields allowed there when none is close)."""
    known = list(known)
    text = str(name)
    close = [k for k in known if k.lower() == text.lower()] or difflib.get_close_matches(text, known, n=1)
    if close:
        return f"unknown field; did you mean {close[0]!r}?"
    if known:
        return f"unknown field; allowed here: {', '.join(known)}"
    return "unknown field"


def errors_from_pydantic(exc: ValidationError, prefix: Sequence[int | str] = (),
                         model: type[BaseModel] | None = None) -> list[FieldError]:
    """One :class:`FieldError` per pydantic error, paths under ``prefix``.

    With ``model`` (the model that was validated), an unknown field says which known
    field it is probably a misspelling of.
    """
    errors = []
    for err in exc.errors(include_url=False):
        # Skip pydantic's internal tags (e.g. "function-after[...]") in the path.
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            parent = model_at(model, loc[:-1]) if model is not None and loc else None
            message = unknown_field_message(loc[-1] if loc else "", parent.model_fields if parent else ())
        errors.append(FieldError(json_path([*prefix, *loc]), message))
    return errors


def load_problem(data: Any, limits: Limits | None = None) -> Problem:
    """Parse ``data`` (decoded JSON) into a :class:`Problem` or raise :class:`ProblemError`.

    Every error at once: shape errors (types, ranges, unknown fields) and, for the
    entities whose own shape is sound, the cross-entity rules.
    """
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
        raise ProblemError(errors_from_pydantic(exc, model=Problem) + check_raw_rules(data)) from None
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
    return _unique([(i, v) for i, v in enumerate(values)], path, field)


def _unique(values: Sequence[tuple[int, str]], path: str, field: str) -> list[FieldError]:
    counts = Counter(v for _, v in values)
    return [
        FieldError(f"{path}[{i}].{field}", f"duplicate {field} {v!r}")
        for i, v in values
        if counts[v] > 1
    ]


@dataclass
class _Parts:
    """The entities the cross-entity rules look at, each with its index in the input.

    From a parsed problem: all of them. From raw data whose shape is not sound: the
    entities whose own shape is sound; the ids (for uniqueness and references) are
    every id written as a string, and a set of known ids is None when its list is
    not even a list (references to it cannot be checked).
    """

    items: list[tuple[int, Item]] = field(default_factory=list)
    locations: list[tuple[int, Location]] = field(default_factory=list)
    stock: list[tuple[int, Stock]] = field(default_factory=list)
    inbound: list[tuple[int, Inbound]] = field(default_factory=list)
    orders: list[tuple[int, Order]] = field(default_factory=list)
    forecast: list[tuple[int, Forecast]] = field(default_factory=list)
    suppliers: list[tuple[int, Supplier]] = field(default_factory=list)
    agreements: list[tuple[int, Agreement]] = field(default_factory=list)
    ids: dict[str, list[tuple[int, str]] | None] = field(default_factory=dict)


#: The lists of a problem, the model of their entries, and the field that identifies each.
_SECTIONS: dict[str, tuple[type[BaseModel], str | None]] = {
    "items": (Item, "sku"),
    "locations": (Location, "id"),
    "stock": (Stock, None),
    "inbound": (Inbound, None),
    "orders": (Order, "id"),
    "forecast": (Forecast, None),
    "suppliers": (Supplier, "id"),
    "agreements": (Agreement, "id"),
}


def check_problem_rules(p: Problem) -> list[FieldError]:
    """Rules spanning entities: unique ids, resolvable references, date order, prices."""
    parts = _Parts()
    for name, (_, key) in _SECTIONS.items():
        setattr(parts, name, list(enumerate(getattr(p, name))))
        if key is not None:
            parts.ids[name] = [(i, getattr(e, key)) for i, e in enumerate(getattr(p, name))]
    return _check_rules(parts)


def check_raw_rules(data: dict[str, Any]) -> list[FieldError]:
    """The cross-entity rules on decoded JSON whose shape is not sound, for its sound entities."""
    parts = _Parts()
    for name, (model, key) in _SECTIONS.items():
        raw = data.get(name, None if Problem.model_fields[name].is_required() else [])
        if not isinstance(raw, list):
            if key is not None:
                parts.ids[name] = None
            continue
        sound = []
        for i, entry in enumerate(raw):
            # Unknown fields are already reported; the rest of the entity may still be checked.
            with contextlib.suppress(ValidationError):
                sound.append((i, model.model_validate(_known_only(model, entry))))
        setattr(parts, name, sound)
        if key is not None:
            parts.ids[name] = [(i, e[key]) for i, e in enumerate(raw) if isinstance(e, dict)
                               and isinstance(e.get(key), str)]
    return _check_rules(parts)


def _known_only(model: type[BaseModel], value: Any) -> Any:
    """``value`` without the fields ``model`` does not know, at every level."""
    if not isinstance(value, dict):
        return value
    out = {}
    for name, item in value.items():
        info = model.model_fields.get(name)
        if info is None:
            continue
        inner = _model_in(info.annotation, None)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            item = _known_only(inner, item)
        elif isinstance(item, list):
            element = _model_in(info.annotation, 0)
            if isinstance(element, type) and issubclass(element, BaseModel):
                item = [_known_only(element, x) for x in item]
        out[name] = item
    return out


def _check_rules(p: _Parts) -> list[FieldError]:
    errors: list[FieldError] = []

    def known(name: str) -> set[str] | None:
        ids = p.ids.get(name)
        return None if ids is None else {v for _, v in ids}

    skus, locs, suppliers = known("items"), known("locations"), known("suppliers")
    for name, (_, id_field) in _SECTIONS.items():
        ids = p.ids.get(name)
        if id_field is not None and ids is not None:
            errors += _unique(ids, name, id_field)

    def ref(value: str | None, known: set[str] | None, path: str, what: str) -> None:
        if value is not None and known is not None and value not in known:
            errors.append(FieldError(path, f"unknown {what} {value!r}"))

    seen_stock: dict[tuple[str, str], int] = {}
    for i, s in p.stock:
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
    for i, b in p.inbound:
        ref(b.sku, skus, f"inbound[{i}].sku", "sku")
        ref(b.location, locs, f"inbound[{i}].location", "location")
    for i, f in p.forecast:
        ref(f.sku, skus, f"forecast[{i}].sku", "sku")
        ref(f.location, locs, f"forecast[{i}].location", "location")
    for i, o in p.orders:
        for j, line in enumerate(o.lines):
            ref(line.sku, skus, f"orders[{i}].lines[{j}].sku", "sku")
        for loc in o.ship_cost or {}:
            ref(loc, locs, f"orders[{i}].ship_cost.{loc}", "location")
        if o.latest is not None and o.latest < o.due:
            errors.append(FieldError(f"orders[{i}].latest", "latest is before due"))
        if o.earliest is not None and o.latest is not None and o.earliest > o.latest:
            errors.append(FieldError(f"orders[{i}].earliest", "earliest is after latest"))
        if o.promised is not None and o.latest is not None and o.promised > o.latest:
            # The promise-slip penalty counts from the promised period to latest: it would be negative.
            errors.append(FieldError(f"orders[{i}].promised", "promised is after latest"))
    for i, a in p.agreements:
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
