"""The greedy plan follows the allocation policy: its units handed out again by the rules (solver/allocation.py).

One test per rule on the three-customers example (priorities, order dates, a pack size
that leaves surplus), then property tests on generated problems and the 1,000-order
``small`` problem: the greedy plan stays feasible, the independent evaluator finds no
policy violation, and the supply (purchase orders, forecast fills) is the greedy plan's own.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stockplan.benchmarks.generator import generate
from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver import greedy as greedy_module
from stockplan.solver.allocation import follow_policy
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from tests.conftest import example_data
from tests.solver.test_policies import delivered_in


def three_customers(policy: str, ordered: dict[str, str] | None = None, priorities: dict[str, int] | None = None,
                    on_hand: int | None = None, pack_size: int | None = None) -> Problem:
    """Seven units on hand for three orders of four due now and SO-4's two due in period 2."""
    data = copy.deepcopy(example_data("three-customers"))
    for order in data["orders"]:
        if ordered and order["id"] in ordered:
            order["ordered"] = ordered[order["id"]]
        if priorities and order["id"] in priorities:
            order["priority"] = priorities[order["id"]]
    if on_hand is not None:
        data["stock"][0]["on_hand"] = on_hand
    if pack_size is not None:
        data["agreements"][0]["pack_size"] = pack_size
    data["settings"]["policy"] = policy
    return load_problem(data)


def unallocated_greedy_plan(problem: Problem, monkeypatch: pytest.MonkeyPatch) -> Decisions:
    """The greedy plan as it was before its units are handed out by the policy."""
    with monkeypatch.context() as m:
        m.setattr(greedy_module, "follow_policy", lambda ix, plan: plan)
        return greedy_plan(build_index(problem))



def assert_follows_policy(problem: Problem, plan: Decisions) -> None:
    ev = evaluate(problem, plan)
    assert ev.feasible, [f"{v.rule}: {v.message}" for v in ev.violations[:3]]
    assert ev.policy_violations == [], [f"{v.rule}: {v.message}" for v in ev.policy_violations[:3]]


def assert_same_supply(plan: Decisions, before: Decisions) -> None:
    """Units only change hands: the same purchase orders (dropship lines aside) and forecast fills."""
    assert [(po.agreement, po.period, po.quantity) for po in plan.purchase_orders] == [
        (po.agreement, po.period, po.quantity) for po in before.purchase_orders]
    assert plan.forecast_fills == before.forecast_fills


# --------------------------------------------------------------------------- one test per rule


def test_priority_gives_the_surplus_of_a_pack_to_the_higher_line_still_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Packs of five leave a unit over in period 2: the greedy plan gave it to SO-4 (priority 3)
    while SO-2 (priority 1) had 3 of 4; handed out by priority, SO-2 gets it."""
    problem = three_customers("priority", priorities={"SO-1": 1, "SO-2": 1, "SO-3": 1}, pack_size=5)
    before = unallocated_greedy_plan(problem, monkeypatch)
    assert {v.rule for v in evaluate(problem, before).policy_violations} == {"priority"}
    plan = greedy_plan(build_index(problem))
    assert_follows_policy(problem, plan)
    assert_same_supply(plan, before)
    assert sum(s.quantity for s in plan.shipments if s.order == "SO-2") == 4
    assert all(s.order != "SO-4" for s in plan.shipments)


def test_fair_share_gives_seven_units_to_three_orders_of_four_as_3_2_2(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = three_customers("fair_share")
    before = unallocated_greedy_plan(problem, monkeypatch)
    assert sorted(delivered_in(before, 0).values()) == [3, 4]  # the rule-based split: first come, first served
    plan = greedy_plan(build_index(problem))
    assert_follows_policy(problem, plan)
    assert_same_supply(plan, before)
    now = delivered_in(plan, 0)
    assert sorted(now.values()) == [2, 2, 3]
    assert now["SO-1"] == 3  # undated orders: the extra unit goes by the smaller id


def test_fair_share_tie_goes_to_the_older_order() -> None:
    problem = three_customers("fair_share", {"SO-1": "2026-11-30", "SO-2": "2026-11-25", "SO-3": "2026-11-02"})
    plan = greedy_plan(build_index(problem))
    assert_follows_policy(problem, plan)
    assert delivered_in(plan, 0) == {"SO-3": 3, "SO-2": 2, "SO-1": 2}
    # An undated order queues behind every dated one.
    plan = greedy_plan(build_index(three_customers("fair_share", {"SO-2": "2026-11-25"})))
    assert delivered_in(plan, 0)["SO-2"] == 3


def test_priority_fair_share_serves_the_higher_priority_whole_then_shares_to_the_older_order() -> None:
    problem = three_customers("priority_fair_share", {"SO-1": "2026-11-20", "SO-2": "2026-11-12"}, {"SO-3": 2})
    plan = greedy_plan(build_index(problem))
    assert_follows_policy(problem, plan)
    assert delivered_in(plan, 0) == {"SO-3": 4, "SO-2": 2, "SO-1": 1}
    assert evaluate(problem, plan).cost == pytest.approx(26.0)  # the optimum: who waits costs the same
    # Without dates the smaller id wins the tie.
    plan = greedy_plan(build_index(three_customers("priority_fair_share", None, {"SO-3": 2})))
    assert delivered_in(plan, 0) == {"SO-3": 4, "SO-1": 2, "SO-2": 1}


def test_min_cost_plans_are_left_as_they_are() -> None:
    problem = three_customers("min_cost")
    ix = build_index(problem)
    plan = greedy_plan(ix)
    assert follow_policy(ix, plan) is plan


def test_ship_complete_orders_keep_their_deliveries(monkeypatch: pytest.MonkeyPatch) -> None:
    data = generate("tiny", seed=5, orders=30, skus=2, policy="priority_fair_share", stock_cover=(0.2, 0.5),
                    ship_complete_share=0.5)
    problem = load_problem(data)
    before = unallocated_greedy_plan(problem, monkeypatch)
    plan = greedy_plan(build_index(problem))
    complete = {o.id for o in problem.orders if o.ship_complete}
    assert complete

    def of_complete(p: Decisions) -> list[tuple[str, int, str, int, int]]:
        return sorted((s.order, s.line, s.location, s.period, s.quantity) for s in p.shipments if s.order in complete)

    assert of_complete(plan) == of_complete(before)
    assert_follows_policy(problem, plan)


# --------------------------------------------------------------------------- generated problems


def generated(seed: int, policy: str, dated: bool, **overrides: Any) -> Problem:
    """A few SKUs, two warehouses, scarce stock, priorities 1-5 (as tests/solver/test_policies.py draws them)."""
    kw: dict[str, Any] = {"orders": 24, "skus": 2, "stock_cover": (0.2, 0.5), "ship_complete_share": 0.0}
    kw.update(overrides)
    data = generate("tiny", seed=seed, policy=policy, **kw)
    if dated:
        rng = random.Random(seed)
        for order in data["orders"]:
            if rng.random() < 0.8:
                order["ordered"] = f"2026-11-{rng.randint(1, 28):02d}"
    return load_problem(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["priority", "fair_share", "priority_fair_share"]),
       dated=st.booleans())
@example(seed=1009, policy="priority_fair_share", dated=False)  # the rules of thumb broke one rule; exact now
@example(seed=437, policy="priority_fair_share", dated=True)
def test_greedy_plans_of_generated_problems_follow_their_policy(seed: int, policy: str, dated: bool) -> None:
    problem = generated(seed, policy, dated)
    for p in (problem, problem.canonical()):
        assert_follows_policy(p, greedy_plan(build_index(p)))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["priority", "fair_share", "priority_fair_share"]))
@example(seed=1199, policy="priority")
def test_greedy_plans_with_dropship_units_to_place_stay_feasible_and_break_the_policy_less(
        seed: int, policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dropship unit bought must still reach a line (a purchase order's lines sum to its quantity).

    With dropship on every SKU the greedy plan can buy more than the lines whose window holds the
    arrival period lack once the stock is handed out by the rules: such a unit then replaces a
    shipment whatever the rules say (seed 1199: one line due now waits a period for it while a
    lower line keeps its unit). Feasibility comes first; the rules are broken less than before.
    """
    problem = generated(seed, policy, True, orders=30, skus=3, stock_cover=(0.1, 0.6), dropship_share=1.0,
                        ship_complete_share=0.3, earliest_share=0.3, moq_share=1.0)
    before = evaluate(problem, unallocated_greedy_plan(problem, monkeypatch))
    plan = greedy_plan(build_index(problem))
    ev = evaluate(problem, plan)
    assert ev.feasible, [f"{v.rule}: {v.message}" for v in ev.violations[:3]]
    assert len(ev.policy_violations) <= len(before.policy_violations)
    for po in plan.purchase_orders:
        if po.lines is not None:
            assert sum(d.quantity for d in po.lines) == po.quantity


# --------------------------------------------------------------------------- the 1,000-order problem


@pytest.fixture(scope="module")
def small_min_cost_cost() -> float:
    problem = load_problem(generate("small", seed=0, ordered_share=0.9)).canonical()
    return evaluate(problem, greedy_plan(build_index(problem))).cost


@pytest.mark.parametrize("policy", ["priority", "fair_share", "priority_fair_share"])
def test_the_greedy_plan_of_the_small_problem_follows_its_policy_at_about_the_min_cost_greedy_cost(
        policy: str, small_min_cost_cost: float, monkeypatch: pytest.MonkeyPatch) -> None:
    problem = load_problem(generate("small", seed=0, policy=policy, ordered_share=0.9)).canonical()
    before = unallocated_greedy_plan(problem, monkeypatch)
    assert len(evaluate(problem, before).policy_violations) > 50  # what there was to repair
    plan = greedy_plan(build_index(problem))
    assert_follows_policy(problem, plan)
    assert_same_supply(plan, before)
    assert evaluate(problem, plan).cost <= 1.03 * small_min_cost_cost
