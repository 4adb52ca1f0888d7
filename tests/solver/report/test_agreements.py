"""The primary of choice and an agreement's spare capacity (solver/report/agreements.py)."""

from __future__ import annotations

from stockplan.models.plan import Decisions
from stockplan.models.validation import load_problem
from stockplan.solver.indexing import build_index
from stockplan.solver.report.agreements import primary_agreements, spare_capacity
from stockplan.solver.report.context import build_context
from tests.solver.report.builders import agreement, po, problem


def test_the_primary_of_choice_is_the_cheapest_then_the_fastest() -> None:
    data = problem(agreements=[
        agreement("AG-P1", "primary", 2), agreement("AG-P2", "primary", 1),
        agreement("AG-P3", "primary", 0, unit_cost=2.5), agreement("AG-A", "alternate", 0, unit_cost=1.0),
        agreement("AG-W2", "primary", 3, location="WH-2"),
    ])
    ix = build_index(load_problem(data))
    got = {(ix.skus[k], ix.locations[loc]): ix.agreement_ids[a] for (k, loc), a in primary_agreements(ix).items()}
    assert got == {("SKU-A", "WH-1"): "AG-P2", ("SKU-A", "WH-2"): "AG-W2"}


def test_spare_capacity_counts_whole_packs_left_per_period() -> None:
    data = problem(agreements=[agreement("AG-P", "primary", 0, capacity_per_period=7, pack_size=2),
                               agreement("AG-U", "primary", 0, sku="SKU-B")])
    prob = load_problem(data)
    ix = build_index(prob)
    ctx = build_context(prob, Decisions(purchase_orders=[po("AG-P", 0, 2)]), ix)
    a, u = ix.agreement_ids.index("AG-P"), ix.agreement_ids.index("AG-U")
    # Period 0: 5 left, 2 whole packs (4 units); period 1: 7 left, 3 packs (6 units).
    assert (spare_capacity(ctx, a, 0, 0), spare_capacity(ctx, a, 1, 1), spare_capacity(ctx, a, 0, 1)) == (4, 6, 10)
    assert spare_capacity(ctx, u, 0, 3) is None  # no capacity limit
