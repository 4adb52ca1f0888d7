"""Comparing two plans: cost parts side by side, what changed per order and per SKU, and the decisions that changed.

The per-order and per-SKU summaries are built from the two plans as stored (their
decisions and their report); an edited side is summarised as solved, since its report
is the solved plan's. They are paged server-side (:data:`SUMMARY_ROWS` rows a page),
and so are the line-level rows behind their toggle (:data:`LINE_ROWS`), so that the
page stays small on plans of thousands of orders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, overload
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.compare_facts import Facts, is_current, plan_facts, read_facts, unpack
from stockplan.api.db import PlanRow
from stockplan.api.memory import collector_paused
from stockplan.api.review_index import ensure_indexed
from stockplan.api.ui import compare_summary as summary
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.formatting import COST_PARTS, short

#: Rows a page of the per-order and per-SKU summaries.
SUMMARY_ROWS = 50
#: Rows a page of each line-level table (changed purchase orders, changed shipments).
LINE_ROWS = 100
#: The query parameters that page the compare page, with the section each one pages.
PAGE_PARAMS = {"orders_page": "orders", "skus_page": "skus", "lines_page": "lines"}


def page_numbers(values: dict[str, str | None]) -> dict[str, int]:
    """The pages asked for (1 when not given); a 422 for anything but a whole number from 1."""
    pages = {}
    for name in PAGE_PARAMS:
        value = (values.get(name) or "").strip()
        if not value:
            pages[name] = 1
            continue
        if not value.isdigit() or int(value) < 1 or len(value) > 9:
            raise UiError(422, "Invalid page", f"{name} must be a page number from 1, not {value!r}",
                          [{"path": name, "message": "a whole number from 1"}])
        pages[name] = int(value)
    return pages


def paged(rows: Sequence[Any], name: str, size: int, pages: dict[str, int],
          href: Callable[[str, int], str]) -> dict[str, Any]:
    """One page of ``rows``: the rows, "rows X–Y of N", links to the previous and next pages."""
    page, total = pages[name], len(rows)
    count = max(1, -(-total // size))
    shown = rows[(page - 1) * size:page * size]
    first = (page - 1) * size + 1
    return {"rows": shown, "page": page, "pages": count, "total": total, "first": first,
            "last": first + len(shown) - 1, "past_end": page > count,
            "prev": href(name, min(page - 1, count)) if page > 1 else None,
            "next": href(name, page + 1) if page < count else None, "start": href(name, 1)}


def _totals(decisions: dict[str, list[Any]], edits: dict[str, Any] | None = None) -> dict[str, int]:
    """Units per key of stored decisions (``compare_facts._decisions``), the planner's edits (units by index)
    applied."""
    totals = dict(zip(decisions["key"], decisions["units"], strict=True))
    at, each = decisions["at"], decisions["each"]
    for index, quantity in (edits or {}).items():
        i = int(index)
        if 0 <= i < len(at):
            key = decisions["key"][at[i]]
            totals[key] += int(quantity) - each[i]
    return totals


class ChangedRows(Sequence[dict[str, Any]]):
    """The keys whose quantity changed from ``a`` to ``b``, sorted; a key's row is made when its page is shown
    (two 10,000-order plans can differ in thousands of shipments, and a page shows 100)."""

    def __init__(self, keys: list[Any], a: dict[Any, int], b: dict[Any, int],
                 describe: Callable[[Any], dict[str, Any]]) -> None:
        self.keys, self.a, self.b, self.describe = keys, a, b, describe

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._row(key) for key in self.keys[index]]
        return self._row(self.keys[index])

    def _row(self, key: Any) -> dict[str, Any]:
        qa, qb = self.a.get(key), self.b.get(key)
        change = "added" if qa is None else "removed" if qb is None else "changed"
        return {"key": key, "a": qa, "b": qb, "change": change, "delta": (qb or 0) - (qa or 0)} | self.describe(key)


def diff_quantities(a: dict[Any, int], b: dict[Any, int],
                    describe: Callable[[Any], dict[str, Any]]) -> tuple[ChangedRows, int]:
    """Keys added, removed or with another quantity from ``a`` to ``b`` (``describe``: a key's display fields);
    and how many are unchanged."""
    # Set operations on the (key, units) pairs; sorted by the keys' fields (order, line, ... as the page lists).
    changed = sorted({key for key, _ in a.items() ^ b.items()}, key=unpack)
    return ChangedRows(changed, a, b, describe), len(a.keys() | b.keys()) - len(changed)


def facts_of(s: Session, row: PlanRow) -> Facts:
    """The plan's compare facts, worked out and kept first if it was stored before they existed."""
    if not is_current(row.compare):
        row.compare = plan_facts(row.plan, services.problem_of(s, row))
        s.commit()
    assert row.compare is not None
    return read_facts(row.compare)


def _side(s: Session, row: PlanRow) -> dict[str, Any]:
    """One plan of the pair: its costs (the evaluator's when edited), KPIs and compare facts."""
    summary = ensure_indexed(s, row)
    edited = bool(row.edits and any(row.edits.values()))
    costs, cost = dict(summary.get("costs") or {}), row.cost
    if edited:
        verdict = services.evaluation_view(s, row)
        costs, cost = verdict["costs"], verdict["cost"]
    return {"edited": edited, "cost": cost, "costs": costs, "kpis": summary.get("kpis") or {},
            "facts": facts_of(s, row)}


#: The pair's figures (per order, per SKU, line-level changes), kept per pair and edits: paging through a
#: comparison of two 10,000-order plans recomputes nothing.
PAIRS = services.Memo(8)


def _edits_key(row: PlanRow) -> str:
    return json.dumps(row.edits or {}, sort_keys=True)


def _pair_figures(s: Session, a_row: PlanRow, b_row: PlanRow) -> dict[str, Any]:
    """What comparing the two plans costs to work out: diff their compare facts (neither document is read).

    The line-level rows are the decisions as edited; the per-order and per-SKU rows the plans as
    solved (an edited side's report is the solved plan's). Holds no database objects (it outlives
    the session): plain numbers, strings and rows.
    """
    a, b = _side(s, a_row), _side(s, b_row)
    fa, fb = a["facts"], b["facts"]
    agreements = fa.agreements | fb.agreements

    def purchase_order(key: str) -> dict[str, Any]:
        agreement, date = unpack(key)
        supplier, sku, location = agreements.get(agreement) or ("—", "—", "—")
        return {"agreement": agreement, "date": date, "supplier": supplier, "sku": sku, "location": location}

    def shipment(key: str) -> dict[str, Any]:
        order, line, location, date = unpack(key)
        return {"order": order, "line": line, "location": location, "date": date}

    pos, po_same = diff_quantities(_totals(fa.purchase_orders, (a_row.edits or {}).get("purchase_orders")),
                                   _totals(fb.purchase_orders, (b_row.edits or {}).get("purchase_orders")),
                                   purchase_order)
    ships, ship_same = diff_quantities(_totals(fa.shipments, (a_row.edits or {}).get("shipments")),
                                       _totals(fb.shipments, (b_row.edits or {}).get("shipments")),
                                       shipment)
    orders = summary.order_changes(fa.orders, fb.orders)
    skus = summary.sku_changes(fa.skus, fb.skus)
    totals = {"lateness": summary.sum_of(orders, "lateness"), "shipping": summary.sum_of(orders, "shipping"),
              "total": summary.sum_of(orders, "total"), "forecast": fb.forecast_lost_sales - fa.forecast_lost_sales}
    sides = [{k: side[k] for k in ("edited", "cost", "costs", "kpis")} for side in (a, b)]
    return {"sides": sides, "pos": pos, "po_same": po_same, "ships": ships, "ship_same": ship_same,
            "same_problem": fa.problem == fb.problem, "reported": fa.reported and fb.reported, "orders": orders,
            "skus": skus, "totals": totals}


def compare_context(s: Session, a_row: PlanRow, b_row: PlanRow, pages: dict[str, int] | None = None,
                    root: str = "", lines_open: bool = False) -> dict[str, Any]:
    """The compare page: cost table, per-order and per-SKU summaries (paged) and the line-level changes (paged).

    ``lines_open``: the line-level rows' toggle starts open (a page of them was asked for).
    """
    pages = pages or dict.fromkeys(PAGE_PARAMS, 1)
    key = (a_row.id, _edits_key(a_row), b_row.id, _edits_key(b_row))
    with collector_paused():
        fig = PAIRS.get(key, lambda: _pair_figures(s, a_row, b_row))
    a, b = ({"row": row} | side for row, side in zip((a_row, b_row), fig["sides"], strict=True))
    metrics: list[dict[str, Any]] = [{"label": "Total cost", "a": a["cost"], "b": b["cost"], "kind": "money",
                                      "higher": "worse", "total": True}]
    metrics += [{"label": label, "a": a["costs"].get(k, 0.0), "b": b["costs"].get(k, 0.0), "kind": "money",
                 "higher": "worse"} for k, label in COST_PARTS]
    metrics += [{"label": "Proven bound", "a": a_row.bound, "b": b_row.bound, "kind": "money", "higher": None},
                {"label": "Gap", "a": a_row.gap, "b": b_row.gap, "kind": "share", "higher": "worse"},
                {"label": "Fill rate", "a": a["kpis"].get("fill_rate"), "b": b["kpis"].get("fill_rate"),
                 "kind": "share", "higher": "better"},
                {"label": "On-time fill rate", "a": a["kpis"].get("on_time_fill_rate"),
                 "b": b["kpis"].get("on_time_fill_rate"), "kind": "share", "higher": "better"},
                {"label": "Units lost", "a": a["kpis"].get("units_lost"), "b": b["kpis"].get("units_lost"),
                 "kind": "units", "higher": "worse"}]
    for m in metrics:
        m["delta"] = None if m["a"] is None or m["b"] is None else m["b"] - m["a"]
        d, tolerance = m["delta"], 0.005 if m["kind"] == "money" else 1e-9
        m["tone"] = ("same" if d is None or abs(d) < tolerance or m["higher"] is None else
                     ("worse" if (d > 0) == (m["higher"] == "worse") else "better"))
    def href(name: str, page: int) -> str:
        """This view with another page of one section: ``a``, ``b`` and the other pages kept (bookmarkable)."""
        others = {k: v for k, v in pages.items() if v != 1 and k != name}
        query = {"a": a_row.id, "b": b_row.id} | others | {name: page}
        return f"{root}/ui/compare?{urlencode(query)}#{PAGE_PARAMS[name]}"

    return {"title": f"Compare {short(a_row.id)} and {short(b_row.id)}", "a": a, "b": b, "metrics": metrics,
            "pos": paged(fig["pos"], "lines_page", LINE_ROWS, pages, href), "po_same": fig["po_same"],
            "ships": paged(fig["ships"], "lines_page", LINE_ROWS, pages, href), "ship_same": fig["ship_same"],
            "lines_open": lines_open, "line_rows": LINE_ROWS, "same_problem": fig["same_problem"],
            "reported": fig["reported"], "orders": paged(fig["orders"], "orders_page", SUMMARY_ROWS, pages, href),
            "order_totals": fig["totals"], "skus": paged(fig["skus"], "skus_page", SUMMARY_ROWS, pages, href)}
