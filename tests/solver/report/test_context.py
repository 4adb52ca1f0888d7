"""Deliveries and the per-line sums every part of the report reads (solver/report/context.py)."""

from __future__ import annotations

import pytest

from stockplan.models.plan import Decisions, DropshipLine
from stockplan.models.validation import load_problem
from stockplan.solver.indexing import build_index
from stockplan.solver.report.context import build_context, deliveries, line_deliveries, period_span, plural
from tests.solver.report.builders import agreement, order, po, problem, ship, stock

DATA = problem(stock=[stock("SKU-A", "WH-1", 3)], orders=[order("SO-1", 1, ("SKU-A", 5))],
               agreements=[agreement("DS-1", "dropship", 1)])


def test_a_dropship_is_delivered_in_its_period_plus_the_lead_and_a_shipment_in_its_own() -> None:
    prob = load_problem(DATA)
    ix = build_index(prob)
    plan = Decisions(shipments=[ship("SO-1", 0, 3)],
                     purchase_orders=[po("DS-1", 1, 2, [DropshipLine(order="SO-1", line=0, quantity=2)])])
    ctx = build_context(prob, plan, ix)
    dl = deliveries(ctx)
    # The shipment from WH-1 (location 0) in period 0; the dropship (no location) lands in period 1 + 1.
    assert list(zip(dl.period.tolist(), dl.qty.tolist(), dl.loc.tolist(), strict=True)) == [(0, 3, 0), (2, 2, -1)]
    delivered, by_due, last = line_deliveries(ix, dl)
    assert (delivered.tolist(), by_due.tolist(), last.tolist()) == ([5], [3], [2])
    assert ctx.date(2).isoformat() == "2026-01-19" and ctx.date(5).isoformat() == "2026-02-09"  # beyond: by the horizon


def test_a_plan_naming_what_the_problem_lacks_is_refused() -> None:
    prob = load_problem(DATA)
    ix = build_index(prob)
    with pytest.raises(ValueError, match="unknown agreement 'AG-X'"):
        build_context(prob, Decisions(purchase_orders=[po("AG-X", 0, 1)]), ix)
    with pytest.raises(ValueError, match="unknown location 'WH-9'"):
        deliveries(build_context(prob, Decisions(shipments=[ship("SO-1", 0, 1, location="WH-9")]), ix))
    with pytest.raises(ValueError, match="SO-2 line 0"):
        deliveries(build_context(prob, Decisions(shipments=[ship("SO-2", 0, 1)]), ix))


def test_wording() -> None:
    assert (plural(1, "period"), plural(2, "period")) == ("1 period", "2 periods")
    assert (period_span(0, 0), period_span(0, 2)) == ("period 0", "periods 0–2")
