"""Comparing two plans: cost parts side by side and the decisions that changed between them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from stockplan.api import services
from stockplan.api.db import Job, PlanRow
from stockplan.api.ui.formatting import COST_PARTS, short
from stockplan.models.problem import Problem


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


def _side(s: Session, row: PlanRow) -> dict[str, Any]:
    edited = bool(row.edits and any(row.edits.values()))
    costs = dict(row.plan.get("costs") or {})
    cost = row.cost
    if edited:
        verdict = services.evaluation_view(s, row)
        costs, cost = verdict["costs"], verdict["cost"]
    kpis = (row.plan.get("report") or {}).get("kpis") or {}
    return {"row": row, "view": services.plan_view(s, row, include_plan=False), "edited": edited, "cost": cost,
            "costs": costs, "kpis": kpis, "decisions": services.edited_decisions(row).model_dump(mode="json"),
            "problem": services.problem_of(s, row), "job": s.get(Job, row.job_id)}


def compare_context(s: Session, a_row: PlanRow, b_row: PlanRow) -> dict[str, Any]:
    a, b = _side(s, a_row), _side(s, b_row)
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
    return {"title": f"Compare {short(a_row.id)} and {short(b_row.id)}", "a": a, "b": b, "metrics": metrics,
            "pos": pos, "po_same": po_same, "ships": ships, "ship_same": ship_same, "same_problem": same_problem}
