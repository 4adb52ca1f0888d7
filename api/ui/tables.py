"""The review pages' tables: each section's filters, sort orders and paging, run as SQL on the review index.

A view is its URL: ``?status=lost&supplier=Acme&sort=-stake&page=2`` names the same
rows for everyone who opens it. :func:`read_view` checks the query (an unknown sort,
a page that is not a number, a date that is not a date are 422 pages naming the
parameter) and :func:`page_of` returns one page of rows, the total, and the values
each drop-down filter offers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from stockplan.api.db import ItemDecision, PlanRow, ReviewRow
from stockplan.api.review_index import LINE, NOTICE, ORDER, PURCHASE_ORDER, STOCK
from stockplan.api.ui.errors import UiError

#: Filters matched as "contains" (ids and names a planner types); the others match exactly.
TEXT_FILTERS = ("sku", "customer", "order")
CHOICE_FILTERS = ("supplier", "location", "status", "state")
STATES = ("proposed", "approved", "rejected")


@dataclass(frozen=True)
class Section:
    """One table of a plan's review: which rows, how they filter and sort, how many per page."""

    name: str
    kind: str
    title: str
    filters: tuple[str, ...]
    sorts: dict[str, tuple[Any, ...]]
    default_sort: str
    page_size: int = 50
    date_label: str = "date"
    defaults: dict[str, str] = field(default_factory=dict)


R = ReviewRow
SECTIONS: dict[str, Section] = {s.name: s for s in (
    Section("exceptions", LINE, "Exceptions", ("status", "sku", "location", "customer", "priority", "from", "to"),
            {"stake": (R.stake,), "due": (R.day,), "order": (R.order_ref, R.item), "sku": (R.sku,),
             "customer": (R.customer,), "priority": (R.priority,), "status": (R.rank,), "short": (R.units,)},
            "-stake", date_label="due"),
    Section("purchase-orders", PURCHASE_ORDER, "Purchase orders",
            ("supplier", "state", "sku", "location", "from", "to"),
            {"po": (R.item,), "supplier": (R.supplier, R.item), "sku": (R.sku,), "placed": (R.day,),
             "quantity": (R.units,), "cost": (R.stake,)}, "supplier", date_label="ordered"),
    Section("shipments", ORDER, "Shipments per order", ("status", "customer", "order", "priority", "from", "to"),
            {"order": (R.order_ref,), "customer": (R.customer,), "due": (R.day,), "status": (R.rank,),
             "stake": (R.stake,), "units": (R.units,)}, "order", date_label="due"),
    Section("notices", NOTICE, "Customer notices", ("status", "customer", "order", "from", "to"),
            {"order": (R.order_ref,), "customer": (R.customer,), "kind": (R.status,), "date": (R.day,)},
            "order", date_label="new date"),
    Section("stock", STOCK, "Projected stock", ("show", "sku", "location"),
            {"sku": (R.sku, R.location), "low": (R.status, R.sku), "lowest": (R.units,)}, "sku", page_size=12,
            defaults={"show": "attention"}),
)}


@dataclass
class View:
    """A checked query of one section: filters, sort key (``-`` first for descending) and page."""

    section: Section
    filters: dict[str, str]
    sort: str
    page: int

    def params(self, **changes: Any) -> dict[str, str]:
        """The view's query parameters with ``changes`` (None removes one); defaults left out."""
        out = {k: v for k, v in self.filters.items() if v != self.section.defaults.get(k)}
        if self.sort != self.section.default_sort:
            out["sort"] = self.sort
        if self.page != 1:
            out["page"] = str(self.page)
        for k, v in changes.items():
            if v is None or v == "" or (k == "sort" and v == self.section.default_sort) or (k == "page" and v == 1):
                out.pop(k, None)
            else:
                out[k] = str(v)
        return out

    def url(self, base: str, **changes: Any) -> str:
        q = urlencode(self.params(**changes))
        return f"{base}?{q}" if q else base

    def sort_link(self, key: str) -> tuple[dict[str, str], str | None]:
        """Params to sort by ``key`` (toggling its direction when it is the sort now), and the current direction."""
        now = self.sort.lstrip("-")
        if now == key:
            direction = "descending" if self.sort.startswith("-") else "ascending"
            return self.params(sort=key if self.sort.startswith("-") else f"-{key}", page=None), direction
        return self.params(sort=f"-{key}" if key in ("stake", "cost", "short", "units") else key, page=None), None

    @property
    def filtered(self) -> bool:
        return any(v != self.section.defaults.get(k) for k, v in self.filters.items())


def parse_date(value: str, name: str) -> str:
    """An ISO date given as the filter ``name``, or a 422 naming it."""
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise UiError(422, "Invalid filter", f"{name} must be a date such as 2026-12-07, not {value!r}",
                      [{"path": name, "message": "not a date (YYYY-MM-DD)"}]) from None


def page_number(raw: str | None) -> int:
    """The page a ``page`` parameter asks for (1 when not given), or a 422 naming it."""
    raw = raw or "1"
    if not raw.isdigit() or int(raw) < 1 or int(raw) > 1_000_000:
        raise UiError(422, "Invalid page", f"page must be a whole number from 1, not {raw!r}",
                      [{"path": "page", "message": "not a page number"}])
    return int(raw)


def read_view(section: Section, query: dict[str, str]) -> View:
    """The view a page's query asks for, or a 422 naming the parameter that is wrong."""
    allowed = {*section.filters, "sort", "page", "done", "target"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise UiError(422, "Unknown parameter", f"{section.title} has no filter {unknown[0]!r}; it filters by "
                                                f"{', '.join(section.filters)}",
                      [{"path": name, "message": "unknown parameter"} for name in unknown])
    filters = dict(section.defaults)
    for name in section.filters:
        value = (query.get(name) or "").strip()
        if not value:
            continue
        if name in ("from", "to"):
            value = parse_date(value, name)
        elif name == "priority" and not value.lstrip("-").isdigit():
            raise UiError(422, "Invalid filter", f"priority must be a whole number, not {value!r}",
                          [{"path": "priority", "message": "not a whole number"}])
        elif name == "state" and value not in STATES:
            raise UiError(422, "Invalid filter", f"the decision filter is one of {', '.join(STATES)}",
                          [{"path": "state", "message": f"not one of {', '.join(STATES)}"}])
        elif name == "show" and value not in ("attention", "all"):
            raise UiError(422, "Invalid filter", "show is 'attention' or 'all'",
                          [{"path": "show", "message": "not one of attention, all"}])
        filters[name] = value[:200]
    sort = query.get("sort") or section.default_sort
    if sort.lstrip("-") not in section.sorts:
        raise UiError(422, "Invalid sort", f"{section.title} sort by one of {', '.join(section.sorts)} "
                                           f"(a leading '-' for descending), not {sort!r}",
                      [{"path": "sort", "message": "unknown sort key"}])
    return View(section, filters, sort, page_number(query.get("page")))


def _state_column(plan_state: str) -> Any:
    return func.coalesce(ItemDecision.state, literal(plan_state))


def _base(row: PlanRow, kind: str) -> Select[Any]:
    q = select(ReviewRow).where(ReviewRow.plan_id == row.id, ReviewRow.kind == kind)
    if kind == PURCHASE_ORDER:
        q = q.add_columns(_state_column(row.state).label("decided")).outerjoin(ItemDecision, and_(
            ItemDecision.plan_id == ReviewRow.plan_id, ItemDecision.kind == PURCHASE_ORDER,
            ItemDecision.item == ReviewRow.item))
    return q


#: The review-row column each filter of a name reads.
FILTER_COLUMNS = {"sku": R.sku, "customer": R.customer, "order": R.order_ref, "supplier": R.supplier,
                  "location": R.location, "status": R.status}
#: Filters matched exactly and offered as a drop-down of the plan's values.
DROP_DOWNS = ("supplier", "location", "status")


def _where(q: Select[Any], view: View, row: PlanRow) -> Select[Any]:
    for name, value in view.filters.items():
        if name in TEXT_FILTERS:
            q = q.where(func.lower(FILTER_COLUMNS[name]).contains(value.lower(), autoescape=True))
        elif name in DROP_DOWNS:
            q = q.where(FILTER_COLUMNS[name] == value)
        elif name == "state":
            q = q.where(_state_column(row.state) == value)
        elif name == "priority":
            q = q.where(R.priority == int(value))
        elif name == "from":
            q = q.where(R.day >= value)
        elif name == "to":
            q = q.where(R.day <= value)
        elif name == "show" and value == "attention":
            q = q.where(R.rank == 0)
    return q


def matching(s: Session, view: View, row: PlanRow) -> list[int]:
    """The item indices of every row the view's filters match (all pages): what "all matching" decides."""
    q = _where(_base(row, view.section.kind), view, row).with_only_columns(R.item).order_by(R.item)
    return [int(i) for i in s.scalars(q)]


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    view: View
    choices: dict[str, list[str]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.view.section.page_size))

    @property
    def first(self) -> int:
        return min(self.total, (self.view.page - 1) * self.view.section.page_size + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.view.page * self.view.section.page_size)


def _choices(s: Session, row: PlanRow, view: View) -> dict[str, list[str]]:
    """The values each exact-match filter of the section can take in this plan (for its drop-down)."""
    out: dict[str, list[str]] = {}
    for name in view.section.filters:
        if name in DROP_DOWNS:
            col = FILTER_COLUMNS[name]
            out[name] = [v for v in s.scalars(select(col).distinct().where(
                R.plan_id == row.id, R.kind == view.section.kind, col.is_not(None)).order_by(col)) if v]
        elif name == "state":
            out[name] = list(STATES)
    return out


def page_of(s: Session, row: PlanRow, view: View) -> Page:
    """One page of the view's rows (each a dict of the row's data, its item index and, for purchase orders,
    its decision state), how many rows match, and the drop-down filters' values."""
    q = _where(_base(row, view.section.kind), view, row)
    total = int(s.scalar(q.with_only_columns(func.count()).order_by(None)) or 0)
    key = view.sort.lstrip("-")
    descending = view.sort.startswith("-")
    order = [c.desc() if descending else c.asc() for c in view.section.sorts[key]]
    if key != "status" and view.section.kind in (LINE, ORDER):
        order.append(R.rank.asc())
    size = view.section.page_size
    q = q.order_by(*order, R.item.asc()).limit(size).offset((view.page - 1) * size)
    rows = []
    for rec in s.execute(q):
        r: ReviewRow = rec[0]
        rows.append(r.data | {"item": r.item, "stake": r.stake,
                              "decided": rec[1] if view.section.kind == PURCHASE_ORDER else None})
    return Page(rows, total, view, _choices(s, row, view))


def open_purchase_orders_by_supplier(s: Session, row: PlanRow) -> list[dict[str, Any]]:
    """Per supplier: its purchase orders, and those still to decide with their units and cost."""
    is_open = _state_column(row.state) == "proposed"
    q = (select(R.supplier, func.count(), func.sum(case((is_open, 1), else_=0)),
                func.sum(case((is_open, R.units), else_=0)), func.sum(case((is_open, R.stake), else_=0.0)))
         .outerjoin(ItemDecision, and_(ItemDecision.plan_id == R.plan_id, ItemDecision.kind == PURCHASE_ORDER,
                                       ItemDecision.item == R.item))
         .where(R.plan_id == row.id, R.kind == PURCHASE_ORDER).group_by(R.supplier).order_by(R.supplier))
    return [{"supplier": sup or "—", "orders": int(n), "open": int(o or 0), "units": int(u or 0),
             "cost": float(c or 0.0)} for sup, n, o, u, c in s.execute(q)]
