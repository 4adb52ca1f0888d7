"""Comparing two plans: cost parts side by side, what changed per order and per SKU, and the decisions that changed.

The per-order and per-SKU summaries are built from the two plans as stored (their
decisions and their report); an edited side is summarised as solved, since its report
is the solved plan's. They are paged server-side (:data:`SUMMARY_ROWS` rows a page),
and so are the line-level rows behind their toggle (:data:`LINE_ROWS`), so that the
page stays small on plans of thousands of orders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.db import Job, PlanRow
from stockplan.api.ui import compare_summary as summary
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.formatting import COST_PARTS, short
from stockplan.models.problem import Problem

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


def paged(rows: list[Any], name: str, size: int, pages: dict[str, int],
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


def _key_po(po: dict[str, Any], problem: Problem) -> tuple[str, str]:
    return (po["agreement"], problem.horizon.date_of(po["period"]).isoformat())


def _key_shipment(sh: dict[str, Any], problem: Problem) -> tuple[str, int, str, str]:
    return (sh["order"], int(sh["line"]), sh["location"], problem.horizon.date_of(sh["period"]).isoformat())


def _totals(items: Iterable[dict[str, Any]], key: Any, problem: Problem) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for it in items:
        out[key(it, problem)] += int(it["quantity"])
    return out


def diff_quantities(a: dict[Any, int], b: dict[Any, int]) -> tuple[list[dict[str, Any]], int]:
    """Keys added, removed or with another quantity from ``a`` to ``b``; and how many are unchanged."""
    rows = []
    same = 0
    for key in sorted(set(a) | set(b)):
        qa, qb = a.get(key), b.get(key)
        if qa == qb:
            same += 1
            continue
        change = "added" if qa is None else "removed" if qb is None else "changed"
        rows.append({"key": key, "a": qa, "b": qb, "change": change, "delta": (qb or 0) - (qa or 0)})
    return rows, same


def _side(s: Session, row: PlanRow, problems: list[tuple[Any, Problem]]) -> dict[str, Any]:
    """One plan of the pair: its costs (the evaluator's when edited), KPIs, decisions (as edited) and problem.

    ``problems``: the problems parsed so far, so that a pair of one problem parses it once.
    """
    job = s.get(Job, row.job_id)
    problem = next((p for data, p in problems if job is not None and data == job.problem), None)
    if problem is None:
        problem = services.problem_of(s, row)
        problems.append((job.problem if job is not None else None, problem))
    edited = bool(row.edits and any(row.edits.values()))
    costs = dict(row.plan.get("costs") or {})
    cost = row.cost
    decisions = {k: row.plan.get(k) or [] for k in ("shipments", "forecast_fills", "purchase_orders")}
    if edited:
        verdict = services.evaluation_view(s, row)
        costs, cost = verdict["costs"], verdict["cost"]
        decisions = services.edited_decisions(row).model_dump(mode="json")
    kpis = (row.plan.get("report") or {}).get("kpis") or {}
    return {"row": row, "edited": edited, "cost": cost, "costs": costs, "kpis": kpis, "decisions": decisions,
            "problem": problem, "job": job}


#: The pair's figures (per order, per SKU, line-level changes), kept per pair and edits: paging through a
#: comparison of two 10,000-order plans recomputes nothing.
PAIRS = services.Memo(8)


def _edits_key(row: PlanRow) -> str:
    return json.dumps(row.edits or {}, sort_keys=True)


def _pair_figures(s: Session, a_row: PlanRow, b_row: PlanRow) -> dict[str, Any]:
    """What comparing the two plans costs to work out: read both documents and their problems, diff them.

    Holds no database objects (it outlives the session): plain numbers, strings and rows.
    """
    problems: list[tuple[Any, Problem]] = []
    a, b = _side(s, a_row, problems), _side(s, b_row, problems)
    agreements = {ag.id: ag for side in (a, b) for ag in side["problem"].agreements}
    pos, po_same = diff_quantities(_totals(a["decisions"]["purchase_orders"], _key_po, a["problem"]),
                                   _totals(b["decisions"]["purchase_orders"], _key_po, b["problem"]))
    for r in pos:
        ag = agreements.get(r["key"][0])
        r.update(agreement=r["key"][0], date=r["key"][1], supplier=ag.supplier if ag else "—",
                 sku=ag.sku if ag else "—", location=(ag.location or "dropship") if ag else "—")
    ships, ship_same = diff_quantities(_totals(a["decisions"]["shipments"], _key_shipment, a["problem"]),
                                       _totals(b["decisions"]["shipments"], _key_shipment, b["problem"]))
    for r in ships:
        r.update(order=r["key"][0], line=r["key"][1], location=r["key"][2], date=r["key"][3])
    same_problem = a["job"] is not None and b["job"] is not None and a["job"].problem == b["job"].problem
    # Per order and per SKU: the plans as stored (an edited side as solved: its report is the solved plan's).
    plans = (a_row.plan, b_row.plan)
    orders = summary.order_changes(summary.order_outcomes(a_row.plan, a["problem"]),
                                   summary.order_outcomes(b_row.plan, b["problem"]))
    skus = summary.sku_changes(summary.sku_figures(a_row.plan, a["problem"]),
                               summary.sku_figures(b_row.plan, b["problem"]))
    forecast = (summary.unfilled_forecast_cost(b_row.plan, b["problem"])
                - summary.unfilled_forecast_cost(a_row.plan, a["problem"]))
    totals = {"lateness": summary.sum_of(orders, "lateness"), "shipping": summary.sum_of(orders, "shipping"),
              "total": summary.sum_of(orders, "total"), "forecast": forecast}
    sides = [{k: side[k] for k in ("edited", "cost", "costs", "kpis")} for side in (a, b)]
    return {"sides": sides, "pos": pos, "po_same": po_same, "ships": ships, "ship_same": ship_same,
            "same_problem": same_problem, "reported": all(p.get("report") for p in plans), "orders": orders,
            "skus": skus, "totals": totals}


def compare_context(s: Session, a_row: PlanRow, b_row: PlanRow, pages: dict[str, int] | None = None,
                    root: str = "", lines_open: bool = False) -> dict[str, Any]:
    """The compare page: cost table, per-order and per-SKU summaries (paged) and the line-level changes (paged).

    ``lines_open``: the line-level rows' toggle starts open (a page of them was asked for).
    """
    pages = pages or dict.fromkeys(PAGE_PARAMS, 1)
    key = (a_row.id, _edits_key(a_row), b_row.id, _edits_key(b_row))
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
