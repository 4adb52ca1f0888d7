"""Small problems and plans for the report's tests; every expected value is worked out by hand.

Small problems start from :func:`problem`: 4 weekly periods from Monday 2026-01-05
(period ``t`` starts on ``day(t)``), SKU-A and SKU-B, warehouses WH-1 and WH-2.
Every hand-written plan is checked feasible by the evaluator before it is reported
(:func:`report`).
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from stockplan.models.plan import Decisions, DropshipLine, PurchaseOrder, Shipment
from stockplan.models.problem import Problem
from stockplan.models.report import PlanReport
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from stockplan.solver.indexing import build_index
from stockplan.solver.report import plan_report

START = date(2026, 1, 5)


def day(period: int, offset: int = 0) -> str:
    return (START + timedelta(days=7 * period + offset)).isoformat()


def order(id: str, due: int, *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {"id": id, "customer": f"cust-{id}", "due": day(due),
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines], **fields}


def agreement(id: str, role: str, lead: int, sku: str = "SKU-A", location: str | None = "WH-1",
              unit_cost: float = 2.0, **fields: Any) -> dict[str, Any]:
    ag = {"id": id, "supplier": "SUP-1", "sku": sku, "role": role, "unit_cost": unit_cost,
          "lead_time_days": 7 * lead, **fields}
    if role != "dropship":
        ag["location"] = location
    return ag


def problem(**changes: Any) -> dict[str, Any]:
    """Base: nothing in stock, no orders, no agreements; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "horizon": {"start": START.isoformat(), "periods": 4, "period_days": 7},
        "items": [
            {"sku": "SKU-A", "lost_sale_cost": 10.0, "backorder_cost": 1.0, "holding_cost": 0.1},
            {"sku": "SKU-B", "lost_sale_cost": 10.0, "backorder_cost": 1.0},
        ],
        "locations": [{"id": "WH-1"}, {"id": "WH-2"}],
        "stock": [],
        "orders": [],
        "suppliers": [{"id": "SUP-1"}],
        "agreements": [],
    }
    base.update(copy.deepcopy(changes))
    return base


def stock(sku: str, location: str, on_hand: int, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "location": location, "on_hand": on_hand, **fields}


def ship(order: str, period: int, quantity: int, location: str = "WH-1", line: int = 0) -> Shipment:
    return Shipment(order=order, line=line, location=location, period=period, quantity=quantity)


def po(agreement: str, period: int, quantity: int, lines: list[DropshipLine] | None = None) -> PurchaseOrder:
    return PurchaseOrder(agreement=agreement, period=period, quantity=quantity, lines=lines)


def report(data: dict[str, Any], plan: Decisions) -> PlanReport:
    prob = load_problem(data)
    ev = evaluate(prob, plan)
    assert ev.feasible, [v.message for v in ev.violations]
    return plan_report(prob, plan)


def line_of(rep: PlanReport, order_id: str, line: int = 0) -> Any:
    return next(ln for ln in rep.lines if ln.order == order_id and ln.line == line)


def notice_of(rep: PlanReport, order_id: str) -> Any:
    found = [n for n in rep.notices if n.order == order_id]
    assert len(found) <= 1
    return found[0] if found else None


def greedy_plan_of(prob: Problem) -> Decisions:
    from stockplan.solver.greedy import greedy_plan

    return greedy_plan(build_index(prob))


# Fair share of the 7 boxes on hand in three-customers: 3, 2, 2 in period 0; AG-1 (lead 2)
# brings 7 more in period 2.
FAIR_SHARE = Decisions(
    shipments=[ship("SO-1", 0, 3), ship("SO-2", 0, 2), ship("SO-3", 0, 2),
               ship("SO-1", 2, 1), ship("SO-2", 2, 2), ship("SO-3", 2, 2), ship("SO-4", 2, 2)],
    purchase_orders=[po("AG-1", 0, 7)],
)


LOSSES = problem(
    stock=[stock("SKU-A", "WH-1", 2)],
    orders=[
        order("SO-1", 1, ("SKU-A", 5), latest=day(2, 3)),
        order("SO-2", 0, ("SKU-B", 3)),
        order("SO-9", 6, ("SKU-A", 1)),  # due beyond the 4-period horizon
    ],
)
