"""Moves over SKU groups (solver/lns.py): exact sub-problems, never worse, and the bound stays a bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from stockplan.models.plan import Plan, load_plan
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.lns import (
    SkuPlan,
    hold_complete_orders,
    improve_group,
    neighbourhoods,
    ship_complete_orders,
    sku_neighbours,
)
from tests.api.test_cli import no_traceback, run
from tests.conftest import example, example_data

REFERENCE = Path(__file__).parents[2] / "benchmarks" / "reference"
# The best known plan of small seed 0 (benchmarks/reference/small0-best-plan.json), by the evaluator.
SMALL0_BEST_KNOWN = 101_516.24


def test_groups_are_disjoint_cover_every_sku_and_follow_ship_complete_orders() -> None:
    ix = build_index(example("mixed-medium"))
    S = len(ix.skus)
    neighbours = sku_neighbours(S, ship_complete_orders(ix))
    loss = np.random.default_rng(0).random(S)
    for size in (1, 3, 6):
        groups = neighbourhoods(loss, neighbours, size)
        together = np.sort(np.concatenate(groups))
        assert np.array_equal(together, np.arange(S))
        assert all(g.shape[0] <= size for g in groups)
        # The first group is seeded by the largest loss.
        assert int(np.argmax(loss)) in groups[0].tolist()
        for g in groups:
            # Every SKU a group took after its seed shares a ship-complete order with another of the group.
            if g.shape[0] > 1:
                assert all(set(neighbours[k]) & set(g.tolist()) for k in g.tolist())


def test_a_held_ship_complete_order_is_delivered_in_its_period_or_never() -> None:
    problem = example("mixed-medium")
    ix = build_index(problem)
    model, mapping = build_model(ix)
    orders = np.unique(mapping.v_order)
    delivered, refused = int(orders[0]), int(orders[1])
    period = int(mapping.v_t[mapping.v_order == delivered][0])
    hold_complete_orders(model, mapping, {delivered: period, refused: -1})
    v = model.blocks["v"]
    lo, hi = model.col_lower[v], model.col_upper[v]
    mine = mapping.v_order == delivered
    assert np.all(lo[mine & (mapping.v_t == period)] == 1) and np.all(hi[mine & (mapping.v_t != period)] == 0)
    assert np.all(hi[mapping.v_order == refused] == 0)
    others = ~np.isin(mapping.v_order, [delivered, refused])
    assert np.all(lo[others] == 0) and np.all(hi[others] == 1)


def kept_moves(problem: Problem, state: SkuPlan, groups: list[np.ndarray], limit: float,
               waived: Callable[[np.ndarray], np.ndarray | None] = lambda g: None) -> int:
    """Apply the moves on the first four groups; after each kept one the whole plan stays feasible and its
    cost falls by exactly the move's saving (the sub-problem is exact). The number of moves kept."""
    ix, orders = state.ix, ship_complete_orders(state.ix)
    before = evaluate(problem, state.plan())
    kept = 0
    for g in groups[:4]:
        result = improve_group(ix, g, state.period_cost(g, ix.fixed_order_cost()), state.group(g),
                               state.held_orders(g, orders), SolveOptions(time_limit=limit, gap=0.0), "highs",
                               float("inf"), waived(g))
        assert result.saving >= 0.0
        if result.plan is None:
            continue
        kept += 1
        state.replace(g, result.plan)
        after = evaluate(problem, state.plan())
        assert after.feasible, after.violations[:3]
        assert after.objective == pytest.approx(before.objective - result.saving, abs=1e-6)
        before = after
    return kept


@pytest.mark.parametrize("size", [1, 3])
def test_every_move_saves_exactly_what_the_evaluator_sees(size: int) -> None:
    problem = example("mixed-medium")
    ix = build_index(problem)
    state = SkuPlan(problem, ix, greedy_plan(ix))
    groups = neighbourhoods(np.arange(len(ix.skus), dtype=float),
                            sku_neighbours(len(ix.skus), ship_complete_orders(ix)), size)
    assert kept_moves(problem, state, groups, 10) > 0  # the greedy plan of this example is not optimal per SKU


@pytest.mark.parametrize("size", [1, 2])
def test_every_move_saves_exactly_what_the_evaluator_sees_with_shipment_fees(size: int) -> None:
    """With shipment fees shared by an order's lines of other SKUs: where another SKU of the incumbent
    already ships the order (that warehouse, that period), the group pays nothing more for it."""
    data = example_data("mixed-medium")
    data["settings"].update(shipment_cost=3.0, min_partial_shipment=2)
    problem = load_problem(data)
    ix = build_index(problem)
    incumbent = greedy_plan(ix)
    before = evaluate(problem, incumbent)
    assert before.feasible and before.shipment_fees > 0
    state = SkuPlan(problem, ix, incumbent)
    neighbours = [sorted(set(a) | set(b)) for a, b in zip(sku_neighbours(len(ix.skus), ship_complete_orders(ix)),
                                                          state.sharing, strict=True)]
    groups = neighbourhoods(np.arange(len(ix.skus), dtype=float), neighbours, size)
    shared = 0

    def waived(g: np.ndarray) -> np.ndarray | None:
        nonlocal shared
        found = state.fee_waived(g)
        assert found is not None
        shared += found.size > 0
        return found

    assert kept_moves(problem, state, groups, 5, waived) > 0 and shared > 0


@pytest.mark.slow
def test_cli_plan_of_1000_orders_uses_the_moves_and_its_bound_stays_below_the_best_known_plan(
    tmp_path: Path,
) -> None:
    out = tmp_path / "plan.json"
    problem_file = REFERENCE / "small0.json"
    proc = run("solve", problem_file, "--time-limit", "25", "--out", out)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    plan = Plan.model_validate_json(out.read_text())
    problem = load_problem(json.loads(problem_file.read_text()))
    ev = evaluate(problem, plan)
    assert ev.feasible and ev.cost == pytest.approx(plan.cost, abs=1e-6)
    assert plan.method == "decompose" and "moves over SKU groups" in plan.message, plan.message
    greedy = evaluate(problem, greedy_plan(build_index(problem.canonical())))
    assert plan.cost < greedy.cost
    # The reported bound (the whole problem's MIP ran beside the moves at this limit) is a real bound.
    assert plan.bound is not None and plan.warnings == [], plan.warnings
    assert plan.bound <= SMALL0_BEST_KNOWN + 1e-6 and plan.bound <= plan.cost + 1e-6


def test_the_reference_plan_of_small_seed_0_costs_what_the_benchmarks_say() -> None:
    problem = load_problem(json.loads((REFERENCE / "small0.json").read_text()))
    best = load_plan(json.loads((REFERENCE / "small0-best-plan.json").read_text()))
    ev = evaluate(problem, best)
    assert ev.feasible and ev.cost == pytest.approx(SMALL0_BEST_KNOWN, abs=0.01)
