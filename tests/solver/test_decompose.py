"""Decomposition: parts cover the problem, linking orders stay whole, the bound is a bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generator import generate
from stockplan.models.plan import Decisions, Shipment
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decompose import (
    SharedFees,
    align_split_orders,
    coupled_parts,
    fix_complete_orders,
    linking_orders,
    part_index,
    solve_decomposed,
)
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index, subset_index
from stockplan.solver.solve import solve
from tests.conftest import example

MEDIUM_OPTIMUM = 5391.664


@pytest.mark.parametrize("target", [1, 20, 60, 10_000])
def test_parts_cover_every_sku_once(target: int) -> None:
    ix = build_index(example("mixed-medium"))
    parts = coupled_parts(ix, target)
    together = np.sort(np.concatenate(parts))
    assert np.array_equal(together, np.arange(len(ix.skus)))


def test_subset_indexes_partition_lines_and_agreements() -> None:
    ix = build_index(example("mixed-medium"))
    parts = coupled_parts(ix, 40)
    subs = [subset_index(ix, p) for p in parts]
    assert sum(s.n_lines for s in subs) == ix.n_lines
    assert sorted(a for s in subs for a in s.agreement_ids) == sorted(ix.agreement_ids)


def test_linking_orders_are_ship_complete_orders_spanning_parts() -> None:
    problem = example("mixed-medium")
    ix = build_index(problem)
    parts = coupled_parts(ix, 20)
    part_of = {sku: c for c, p in enumerate(parts) for sku in p.tolist()}
    for o in linking_orders(ix, parts):
        order = problem.orders[int(o)]
        assert order.ship_complete
        assert len({part_of[ix.skus.index(line.sku)] for line in order.lines}) > 1


def test_split_order_moves_to_its_latest_period_and_stays_feasible() -> None:
    problem = example("mixed-medium")
    ix = build_index(problem)
    greedy = greedy_plan(ix)
    parts = coupled_parts(ix, 20)
    links = linking_orders(ix, parts)
    delivered_late = {s.order for s in greedy.shipments if s.period > 0}
    target = next(problem.orders[int(o)] for o in links if problem.orders[int(o)].id in delivered_late)
    # Pretend one part shipped its line a period earlier than the others.
    shipments = list(greedy.shipments)
    k = next(i for i, s in enumerate(shipments) if s.order == target.id)
    original = shipments[k].period
    shipments[k] = Shipment(**{**shipments[k].model_dump(), "period": original - 1})
    split = Decisions(shipments=shipments, forecast_fills=greedy.forecast_fills,
                      purchase_orders=greedy.purchase_orders)
    assert not evaluate(problem, split).feasible
    aligned = align_split_orders(problem, [split], links)[0]
    ev = evaluate(problem, aligned)
    assert ev.feasible, ev.violations[:3]
    assert {s.period for s in aligned.shipments if s.order == target.id} == {original}


def test_partly_delivered_linking_order_is_withdrawn() -> None:
    problem = example("mixed-medium")
    ix = build_index(problem)
    greedy = greedy_plan(ix)
    links = linking_orders(ix, coupled_parts(ix, 20))
    delivered = {s.order for s in greedy.shipments}
    target = next(problem.orders[int(o)].id for o in links if problem.orders[int(o)].id in delivered)
    first = next(i for i, s in enumerate(greedy.shipments) if s.order == target)
    partial = greedy.model_copy(update={"shipments": greedy.shipments[:first] + greedy.shipments[first + 1:]})
    aligned = align_split_orders(problem, [partial], links)[0]
    assert all(s.order != target for s in aligned.shipments)
    assert evaluate(problem, aligned).feasible


def test_fixing_a_complete_order_closes_its_other_periods() -> None:
    ix = build_index(example("mixed-medium"))
    model, mapping = build_model(ix)
    order = int(mapping.v_order[0])
    periods = mapping.v_t[mapping.v_order == order]
    fix_complete_orders(model, mapping, {order: int(periods[-1])})
    v = model.col_upper[model.blocks["v"]]
    mine = mapping.v_order == order
    assert np.all(v[mine & (mapping.v_t != periods[-1])] == 0)
    assert np.all(v[mine & (mapping.v_t == periods[-1])] == 1)
    assert np.all(v[~mine] == 1)


def test_decomposed_plan_is_feasible_and_its_bound_is_below_the_known_optimum() -> None:
    problem = example("mixed-medium")
    plan = solve(problem, SolveOptions(time_limit=20, gap=1e-4, workers=2), method="decompose")
    assert plan.method == "decompose"
    ev = evaluate(problem, plan)
    assert ev.feasible and ev.cost == plan.cost
    assert plan.bound is not None and plan.warnings == []
    assert plan.bound <= MEDIUM_OPTIMUM + 1e-6 <= plan.cost + 2e-6
    greedy_cost = evaluate(problem, greedy_plan(build_index(problem))).cost
    assert plan.cost < greedy_cost


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_decomposition_bound_never_exceeds_the_mip_optimum(seed: int) -> None:
    problem = load_problem(generate("tiny", seed=seed, orders=12))
    exact = solve(problem, SolveOptions(time_limit=60, gap=0.0), method="mip")
    ix = build_index(problem)
    result = solve_decomposed(problem, ix, greedy_plan(ix), SolveOptions(time_limit=20, gap=0.0), workers=1,
                              target_lines=3)
    assert evaluate(problem, result.plan).feasible
    assert result.warnings == [] and exact.warnings == []
    assert result.cost >= exact.cost - 1e-6
    # The Lagrangian bound as the parts proved it (nothing clamps it), under the MIP's optimum.
    assert result.bound is None or result.bound <= exact.cost + 1e-6


def test_shipment_fees_shared_by_parts_are_split_evenly_then_waived_where_another_part_ships() -> None:
    """An order with lines in two parts: each pays half its fee in the relaxed rounds; later nothing
    where the other part already ships it (that warehouse, that period), the whole fee elsewhere."""
    data = generate("tiny", seed=3, orders=10)
    data["settings"]["shipment_cost"] = 6.0
    problem = load_problem(data)
    ix = build_index(problem)
    parts = [np.array([0]), np.arange(1, len(ix.skus))]
    fees = SharedFees(ix, part_index(len(ix.skus), parts))
    in_part = [set(ix.line_order[np.isin(ix.line_sku, p)].tolist()) for p in parts]
    shared = sorted(in_part[0] & in_part[1])
    alone = sorted(in_part[0] - in_part[1])
    assert shared and alone
    (first, _), (second, _) = fees.relaxed(2)
    assert first is second and first is not None
    assert np.all(first[shared] == 3.0) and np.all(first[alone] == 6.0)
    o = problem.orders[shared[0]].id
    line = next(j for j, ln in enumerate(problem.orders[shared[0]].lines) if ix.skus.index(ln.sku) != 0)
    other = Decisions(shipments=[Shipment(order=o, line=line, location=ix.locations[1], period=2, quantity=1)])
    (fee_0, waived_0), (fee_1, waived_1) = fees.fixed([Decisions(), other])
    assert fee_0 is None and fee_1 is None
    sub = subset_index(ix, parts[0], fee_waived=waived_0)
    assert sub.shipment_fee(np.array([shared[0]] * 2), np.array([1, 0]), np.array([2, 2])).tolist() == [0.0, 6.0]
    assert waived_1 is not None and waived_1.size == 0


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_decomposition_with_shipment_fees_bound_never_exceeds_the_mip_optimum(seed: int) -> None:
    """Parts of 3 lines: most orders span parts and share their fees; the bound stays a bound."""
    data = generate("tiny", seed=seed, orders=12)
    data["settings"].update(shipment_cost=5.0, min_partial_shipment=3)
    problem = load_problem(data)
    exact = solve(problem, SolveOptions(time_limit=60, gap=0.0), method="mip")
    ix = build_index(problem)
    result = solve_decomposed(problem, ix, greedy_plan(ix), SolveOptions(time_limit=10, gap=0.0), workers=1,
                              target_lines=3)
    assert evaluate(problem, result.plan).feasible
    assert result.warnings == [] and exact.warnings == []
    assert result.evaluation.objective >= exact.objective - 1e-6
    assert result.bound is None or result.bound <= exact.objective + 1e-6


def test_part_size_gives_parts_of_at_most_500_lines_up_to_3000_and_300_above() -> None:
    from stockplan.solver.decompose import part_size

    assert part_size(1_764, 2) == 500
    assert part_size(800, 2) == 400
    assert part_size(17_748, 2) == 300
    assert part_size(10, 4) == 3
