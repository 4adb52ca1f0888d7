"""What every page of one plan shows above its table: the header, what needs a decision, the decision box.

Read from the plan's row and its summary (``plans.summary``), never from the plan
document, so the header costs the same for 25 orders and for 10,000. The one
exception is an edited plan: its verdict comes from the evaluator (memoised per
edit, :data:`stockplan.api.services.VERDICTS`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from stockplan.api import services
from stockplan.api.db import AuditEntry, PlanRow
from stockplan.api.review_index import ensure_indexed
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.formatting import COST_PARTS, short
from stockplan.api.ui.tables import SECTIONS, open_purchase_orders_by_supplier

#: Above this gap the header says the plan is not proven near-optimal.
GAP_WARNING = 0.02
#: Suppliers listed under "needs a decision" (most money still to decide first).
SUPPLIERS_SHOWN = 8
EXCEPTION_LABELS = {"backordered": "Late", "partially_lost": "Short", "lost": "Lost"}


def load_plan_row(s: Session, plan_id: str) -> PlanRow:
    """The plan's row without its (large) plan document, or a 404 page."""
    row = s.get(PlanRow, plan_id, options=[defer(PlanRow.plan)])
    if row is None:
        raise UiError(404, "Plan not found", f"there is no plan {plan_id!r}: it may have been mistyped, or "
                                             "belong to another database")
    return row


def decision_panel(s: Session, row: PlanRow, summary: dict[str, Any],
                   verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the decision box shows: state, the edited plan's verdict, and whether approval is possible."""
    edited = bool(row.edits and any(row.edits.values()))
    if edited and verdict is None:
        verdict = services.evaluation_view(s, row)
    blocked = None
    if row.state != "proposed":
        blocked = f"This plan is already {row.state}."
    elif row.superseded_by is not None:
        blocked = "A newer plan of this scenario superseded this one: approve that one instead."
    elif edited and verdict is not None and not verdict["feasible"]:
        n = len(verdict["violations"])
        blocked = f"The edited plan breaks {n} rule{'s' if n != 1 else ''}: fix the quantities before approving."
    parts = []
    if edited and verdict is not None:
        solved = summary.get("costs") or {}
        parts = [{"label": label, "delta": verdict["costs"].get(key, 0.0) - solved.get(key, 0.0)}
                 for key, label in COST_PARTS if abs(verdict["costs"].get(key, 0.0) - solved.get(key, 0.0)) >= 0.005]
    return {"id": row.id, "state": row.state, "superseded_by": row.superseded_by, "decided_by": row.decided_by,
            "decided_at": row.decided_at, "edited": edited, "verdict": verdict if edited else None,
            "blocked": blocked, "can_approve": blocked is None,
            "can_decide_items": row.state == "proposed",
            "can_approve_items": row.state == "proposed" and row.superseded_by is None
            and not (edited and verdict is not None and not verdict["feasible"]),
            "can_edit": row.state == "proposed" and row.superseded_by is None, "part_deltas": parts,
            "n_purchase_orders": summary.get("n_purchase_orders", 0)}


def warnings_of(row: PlanRow, summary: dict[str, Any]) -> list[dict[str, str]]:
    """What a planner should know before trusting the plan: time limit, gap, the solver's and policy notes."""
    out = []
    if row.outcome == "time_limit":
        out.append({"kind": "time_limit", "text": "The solve reached its time limit: this is the best plan found "
                                                  "then, not a proven optimum."})
    if row.gap is not None and row.gap > GAP_WARNING:
        out.append({"kind": "gap", "text": f"The plan may cost up to {row.gap * 100:.1f}% more than the best "
                                           "possible (its proven gap)."})
    out += [{"kind": "solver", "text": w} for w in summary.get("warnings") or []]
    out += [{"kind": "policy", "text": w} for w in (summary.get("policy_violations") or [])[:5]]
    notes = summary.get("safety_stock_notes") or []
    out += [{"kind": "safety_stock", "text": w} for w in notes[:5]]
    if len(notes) > 5:
        out.append({"kind": "safety_stock", "text": f"… and {len(notes) - 5} more safety-stock notes."})
    return out


def attention(s: Session, row: PlanRow, summary: dict[str, Any]) -> dict[str, Any]:
    """Counts and money at stake per exception status, purchase orders to decide per supplier, warnings."""
    exceptions = summary.get("exceptions") or {}
    cards = [{"status": k, "label": label, **exceptions.get(k, {"lines": 0, "units": 0, "stake": 0.0})}
             for k, label in EXCEPTION_LABELS.items()]
    suppliers = open_purchase_orders_by_supplier(s, row)
    # The suppliers with the most money still to decide; the rest are one filter away on the purchase orders page.
    top = sorted(suppliers, key=lambda x: (x["open"] == 0, -x["cost"], x["supplier"]))[:SUPPLIERS_SHOWN]
    return {"exceptions": cards, "suppliers": top,
            "n_suppliers": len(suppliers), "open_pos": sum(x["open"] for x in suppliers),
            "warnings": warnings_of(row, summary)}


def predecessor(s: Session, row: PlanRow) -> str | None:
    return s.scalar(select(PlanRow.id).where(PlanRow.superseded_by == row.id)
                    .order_by(PlanRow.created_at.desc()).limit(1))


def header(s: Session, row: PlanRow, section: str) -> dict[str, Any]:
    """The context every page of a plan shares."""
    summary = ensure_indexed(s, row)
    costs = summary.get("costs") or {}
    total = sum(costs.get(k, 0.0) for k, _ in COST_PARTS) or 1.0
    n_audit = int(s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.plan_id == row.id)) or 0)
    exceptions = summary.get("exceptions") or {}
    counts = {"exceptions": sum(int(v.get("lines", 0)) for v in exceptions.values()),
              "purchase-orders": summary.get("n_purchase_orders", 0), "shipments": None,
              "notices": summary.get("n_notices", 0), "stock": None, "audit": n_audit}
    tabs = [{"name": name, "title": sec.title, "count": counts.get(name),
             "href": f"/ui/plans/{row.id}" + ("" if name == "exceptions" else f"/{name}")}
            for name, sec in SECTIONS.items()]
    tabs.append({"name": "audit", "title": "Audit trail", "count": n_audit, "href": f"/ui/plans/{row.id}/audit"})
    return {
        "title": f"Plan {short(row.id)}", "row": row, "summary": summary, "section": section, "tabs": tabs,
        "kpis": summary.get("kpis") or {}, "has_report": summary.get("has_report", False),
        "costs": [{"key": k, "label": label, "value": costs.get(k, 0.0), "share": costs.get(k, 0.0) / total}
                  for k, label in COST_PARTS],
        "solve": summary.get("solve") or {}, "plan": row, "decision": (d := decision_panel(s, row, summary)), "d": d,
        "attention": attention(s, row, summary), "predecessor": predecessor(s, row),
    }
