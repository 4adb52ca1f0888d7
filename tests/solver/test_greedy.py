"""The greedy plan is always feasible (issue 12): every plan it returns passes the evaluator.

A targeted regression for an agreement whose MOQ, pack size and capacity leave no
quantity to order (moq 10, pack 4, capacity 11: no multiple of 4 lies in 10..11),
then property tests: hand-built problems whose agreement terms (MOQ, pack size,
capacity, price breaks, role, smoothing limit) and orders (ship-complete, windows,
warehouses) are drawn by hypothesis, and generated problems with every feature on.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockplan.benchmarks.generator import generate
from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem, Role
from stockplan.models.validation import load_problem
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.solve import solve

START = "2027-01-04"  # a Monday; periods of 7 days


def day(period: int, offset: int = 0) -> str:
    return (date.fromisoformat(START) + timedelta(days=7 * period + offset)).isoformat()


def greedy(problem: Problem) -> Decisions:
    return greedy_plan(build_index(problem))


def assert_feasible(problem: Problem, plan: Decisions) -> None:
    ev = evaluate(problem, plan)
    assert ev.feasible, [f"{v.rule}: {v.message}" for v in ev.violations[:5]]


def assert_terms_hold(problem: Problem, plan: Decisions) -> None:
    """Every purchase-order total is 0 or a multiple of pack_size in [moq, capacity] (stated directly)."""
    totals: dict[tuple[str, int], int] = {}
    for po in plan.purchase_orders:
        totals[po.agreement, po.period] = totals.get((po.agreement, po.period), 0) + po.quantity
    agreements = {a.id: a for a in problem.agreements}
    for (a_id, _), q in totals.items():
        a = agreements[a_id]
        assert q % a.pack_size == 0
        assert q == 0 or q >= a.moq
        assert a.capacity_per_period is None or q <= a.capacity_per_period


# --------------------------------------------------------------------------- the reported case


def one_sku(agreements: list[dict[str, Any]], quantity: int = 8, ship_complete: bool = False,
            on_hand: int = 0) -> Problem:
    """8 units of A due in period 2, nothing on hand; one-week lead times, so order in period 1."""
    data: dict[str, Any] = {
        "horizon": {"start": START, "periods": 4, "period_days": 7},
        "items": [{"sku": "A", "lost_sale_cost": 100.0, "backorder_cost": 5.0, "holding_cost": 0.1}],
        "locations": [{"id": "WH"}],
        "stock": [{"sku": "A", "location": "WH", "on_hand": on_hand}],
        "orders": [{"id": "SO-1", "customer": "c", "due": day(2), "ship_complete": ship_complete,
                    "lines": [{"sku": "A", "quantity": quantity}]}],
        "suppliers": [{"id": "S1", "order_cost": 0.0}, {"id": "S2", "order_cost": 0.0}],
        "agreements": agreements,
    }
    return load_problem(data)


def agreement(id_: str, **terms: Any) -> dict[str, Any]:
    a: dict[str, Any] = {"id": id_, "supplier": "S1", "sku": "A", "role": "primary", "location": "WH",
                         "unit_cost": 1.0, "lead_time_days": 7}
    a.update(terms)
    return a


def test_moq_10_pack_4_capacity_11_orders_nothing_on_that_agreement() -> None:
    """No multiple of 4 lies in 10..11: the old greedy capped 12 at capacity and ordered 8, below the MOQ."""
    problem = one_sku([agreement("AG", moq=10, pack_size=4, capacity_per_period=11)])
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [po for po in plan.purchase_orders if po.quantity != 0] == []
    assert plan.shipments == []  # nothing else can serve the line: it stays open


@pytest.mark.parametrize("ship_complete", [False, True])
def test_moq_10_pack_4_capacity_11_buys_from_the_other_agreement(ship_complete: bool) -> None:
    problem = one_sku([
        agreement("AG-1", moq=10, pack_size=4, capacity_per_period=11),
        agreement("AG-2", supplier="S2", role="alternate", unit_cost=3.0),
    ], ship_complete=ship_complete)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [(po.agreement, po.period, po.quantity) for po in plan.purchase_orders] == [("AG-2", 1, 8)]
    assert sum(s.quantity for s in plan.shipments) == 8


def test_moq_10_pack_4_capacity_13_orders_12() -> None:
    """With capacity 13 the smallest feasible quantity is 12: ordered, 4 units kept in stock."""
    problem = one_sku([agreement("AG", moq=10, pack_size=4, capacity_per_period=13)])
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [(po.agreement, po.period, po.quantity) for po in plan.purchase_orders] == [("AG", 1, 12)]
    assert sum(s.quantity for s in plan.shipments) == 8


def test_capacity_below_need_still_orders_the_largest_feasible_quantity() -> None:
    """Need 20, moq 10, pack 4, capacity 18: 16 units (not 18, not 20); the rest stays open."""
    problem = one_sku([agreement("AG", moq=10, pack_size=4, capacity_per_period=18)], quantity=20)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [(po.period, po.quantity) for po in plan.purchase_orders if po.period == 1] == [(1, 16)]


def test_smoothing_limit_below_moq_orders_nothing() -> None:
    """max_change_per_period 6 with moq 10: any order would jump from 0 by at least 10."""
    problem = one_sku([agreement("AG", moq=10, max_change_per_period=6)])
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [po for po in plan.purchase_orders if po.quantity != 0] == []


def test_dropship_with_moq_above_the_need_is_not_used() -> None:
    """A dropship delivers exactly what its lines get: 8 units cannot reach a moq of 10."""
    problem = one_sku([agreement("AG", role="dropship", location=None, moq=10)])
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert plan.purchase_orders == []


def test_a_greedy_plan_that_is_feasible_lets_the_decomposition_run() -> None:
    """The symptom of the issue: an infeasible greedy plan made solve() skip decomposition silently."""
    problem = one_sku([agreement("AG", moq=10, pack_size=4, capacity_per_period=11),
                       agreement("AG-2", supplier="S2", role="alternate", unit_cost=3.0)])
    plan = solve(problem, SolveOptions(time_limit=20), method="decompose")
    assert plan.method == "decompose"
    assert_feasible(problem, plan)


def forty_units(**settings_: Any) -> Problem:
    """SO-1 wants 40 units due in period 2; 25 on hand, 10 arrive in period 1 and 5 in period 2."""
    data: dict[str, Any] = {
        "horizon": {"start": START, "periods": 4, "period_days": 7},
        "items": [{"sku": "A", "lost_sale_cost": 50.0, "backorder_cost": 1.0, "holding_cost": 0.1}],
        "locations": [{"id": "WH"}],
        "stock": [{"sku": "A", "location": "WH", "on_hand": 25}],
        "inbound": [{"sku": "A", "location": "WH", "quantity": 10, "arrives": day(1)},
                    {"sku": "A", "location": "WH", "quantity": 5, "arrives": day(2)}],
        "orders": [{"id": "SO-1", "customer": "c", "due": day(2), "lines": [{"sku": "A", "quantity": 40}]}],
        "settings": settings_,
    }
    return load_problem(data)


def test_greedy_never_plans_a_partial_shipment_below_the_minimum() -> None:
    """Minimum 20: the 25 on hand go in period 0, the 10 of period 1 would leave the line short: they wait."""
    problem = forty_units(min_partial_shipment=20)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [(s.period, s.quantity) for s in plan.shipments] == [(0, 25), (2, 15)]
    assert [(s.period, s.quantity) for s in greedy(forty_units()).shipments] == [(0, 25), (1, 10), (2, 5)]


def test_greedy_with_a_shipment_fee_ships_early_only_whole() -> None:
    """With a fee, the line is not split before its due period: all 40 go in period 2, in one shipment."""
    problem = forty_units(shipment_cost=10.0)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert [(s.period, s.quantity) for s in plan.shipments] == [(2, 40)]


def test_greedy_with_a_shipment_fee_puts_an_orders_lines_in_one_parcel() -> None:
    """A is only at WH-B; B is at both, and cheaper to ship from WH-A. With a fee, B joins A's parcel."""
    def plan_of(fee: float) -> set[tuple[str, int]]:
        data: dict[str, Any] = {
            "horizon": {"start": START, "periods": 2, "period_days": 7},
            "items": [{"sku": s, "lost_sale_cost": 50.0} for s in ("A", "B")],
            "locations": [{"id": "WH-A"}, {"id": "WH-B"}],
            "stock": [{"sku": "A", "location": "WH-B", "on_hand": 5}, {"sku": "B", "location": "WH-A", "on_hand": 5},
                      {"sku": "B", "location": "WH-B", "on_hand": 5}],
            "orders": [{"id": "SO-1", "customer": "c", "due": day(0), "ship_cost": {"WH-A": 0.0, "WH-B": 0.5},
                        "lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 3}]}],
            "settings": {"shipment_cost": fee},
        }
        problem = load_problem(data)
        plan = greedy(problem)
        assert_feasible(problem, plan)
        return {(s.location, s.period) for s in plan.shipments}

    assert plan_of(0.0) == {("WH-A", 0), ("WH-B", 0)}
    assert plan_of(4.0) == {("WH-B", 0)}


# --------------------------------------------------------------------------- hand-built problems, drawn


@st.composite
def agreement_terms(draw: st.DrawFn, id_: str, sku: str, n_locations: int, n_suppliers: int) -> dict[str, Any]:
    role = draw(st.sampled_from(["primary", "alternate", "dropship"]))
    unit_cost = draw(st.sampled_from([1.0, 2.5, 4.0, 9.0]))
    a: dict[str, Any] = {
        "id": id_,
        "supplier": f"S{draw(st.integers(0, n_suppliers - 1))}",
        "sku": sku,
        "role": role,
        "unit_cost": unit_cost,
        "lead_time_days": draw(st.sampled_from([0, 3, 7, 14])),
        "moq": draw(st.sampled_from([0, 0, 1, 5, 10, 12, 25])),
        "pack_size": draw(st.sampled_from([1, 1, 2, 3, 4, 6, 12])),
    }
    if role != "dropship":
        a["location"] = f"WH{draw(st.integers(0, n_locations - 1))}"
    if draw(st.booleans()):
        a["capacity_per_period"] = draw(st.integers(0, 40))
    if draw(st.booleans()):
        n = draw(st.integers(1, 3))
        qtys = sorted(draw(st.lists(st.integers(1, 60), min_size=n, max_size=n, unique=True)))
        price, breaks = unit_cost, []
        for q in qtys:
            price = round(price * draw(st.sampled_from([1.0, 0.9, 0.7])), 2)
            breaks.append({"min_qty": q, "unit_cost": price})
        a["price_breaks"] = breaks
    if draw(st.integers(0, 3)) == 0:
        a["max_change_per_period"] = draw(st.sampled_from([0, 3, 6, 10, 24]))
    return a


@st.composite
def problems(draw: st.DrawFn) -> dict[str, Any]:
    T = draw(st.integers(1, 5))
    n_skus, n_locs, n_sups = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    skus, locs = [f"K{k}" for k in range(n_skus)], [f"WH{k}" for k in range(n_locs)]
    items = [{"sku": s, "lost_sale_cost": draw(st.sampled_from([2.0, 10.0, 60.0])),
              "backorder_cost": draw(st.sampled_from([0.0, 0.5, 3.0])),
              "holding_cost": draw(st.sampled_from([0.0, 0.05, 0.5]))} for s in skus]
    stock = [{"sku": s, "location": w, "on_hand": draw(st.integers(0, 12))} for s in skus for w in locs]
    inbound = [{"sku": draw(st.sampled_from(skus)), "location": draw(st.sampled_from(locs)),
                "quantity": draw(st.integers(1, 10)), "arrives": day(draw(st.integers(0, T)))}
               for _ in range(draw(st.integers(0, 2)))]
    forecast = [{"sku": draw(st.sampled_from(skus)), "location": draw(st.sampled_from(locs)),
                 "date": day(draw(st.integers(0, T - 1)), draw(st.integers(0, 6))),
                 "quantity": draw(st.integers(1, 8))}
                for _ in range(draw(st.integers(0, 3)))]
    orders = []
    for o in range(draw(st.integers(1, 6))):
        due = draw(st.integers(-1, T))
        order: dict[str, Any] = {"id": f"SO-{o}", "customer": f"c{o % 3}", "priority": draw(st.integers(1, 5)),
                                 "due": day(due, draw(st.integers(0, 6))), "ship_complete": draw(st.booleans())}
        if draw(st.booleans()):
            order["earliest"] = day(due - draw(st.integers(0, 2)))
        if draw(st.booleans()):
            order["latest"] = day(due + draw(st.integers(0, 3)), 6)
        if n_locs > 1 and draw(st.booleans()):
            allowed = draw(st.lists(st.sampled_from(locs), min_size=1, max_size=n_locs, unique=True))
            order["ship_cost"] = {w: draw(st.sampled_from([0.0, 0.3, 1.5])) for w in allowed}
        line_skus = draw(st.lists(st.sampled_from(skus), min_size=1, max_size=3))
        order["lines"] = [{"sku": s, "quantity": draw(st.integers(1, 30))} for s in line_skus]
        orders.append(order)
    agreements = []
    for k, s in enumerate(skus):
        for j in range(draw(st.integers(0, 3))):
            agreements.append(draw(agreement_terms(f"AG-{k}-{j}", s, n_locs, n_sups)))
    return {
        "horizon": {"start": START, "periods": T, "period_days": 7},
        "items": items,
        "locations": [{"id": w} for w in locs],
        "stock": stock,
        "inbound": inbound,
        "forecast": forecast,
        "orders": orders,
        "suppliers": [{"id": f"S{k}", "order_cost": draw(st.sampled_from([0.0, 5.0, 40.0]))}
                      for k in range(n_sups)],
        "agreements": agreements,
        "settings": {"policy": draw(st.sampled_from(["min_cost", "priority", "fair_share"]))},
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=problems())
def test_greedy_plans_of_drawn_problems_pass_the_evaluator(data: dict[str, Any]) -> None:
    problem = load_problem(data)
    for p in (problem, problem.canonical()):
        plan = greedy(p)
        assert_feasible(p, plan)
        assert_terms_hold(p, plan)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=problems(), minimum=st.integers(0, 25), fee=st.sampled_from([0.0, 3.0, 50.0]),
       own=st.lists(st.integers(0, 25), max_size=6))
def test_greedy_plans_keep_the_minimum_partial_shipment(
        data: dict[str, Any], minimum: int, fee: float, own: list[int]) -> None:
    """Drawn problems with a minimum partial shipment (some orders with their own) and a shipment fee."""
    data["settings"].update(min_partial_shipment=minimum, shipment_cost=fee)
    for order, m in zip(data["orders"], own, strict=False):
        order["min_partial_shipment"] = m
    problem = load_problem(data)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert_terms_hold(problem, plan)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=problems(), moq=st.integers(1, 30), pack=st.integers(2, 12), spare=st.integers(0, 11))
def test_greedy_plans_pass_when_every_agreement_has_a_gap_between_moq_and_capacity(
        data: dict[str, Any], moq: int, pack: int, spare: int) -> None:
    """Capacity just above the MOQ, often with no pack multiple in between: the issue's trap everywhere."""
    for a in data["agreements"]:
        a["moq"], a["pack_size"], a["capacity_per_period"] = moq, pack, moq + spare % pack
        a.pop("price_breaks", None)
    problem = load_problem(data)
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert_terms_hold(problem, plan)
    smallest = -(-moq // pack) * pack
    if smallest > moq + spare % pack:
        assert all(po.quantity == 0 for po in plan.purchase_orders)


# --------------------------------------------------------------------------- generated problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    moq=st.sampled_from([0.0, 0.5, 1.0]),
    capacity=st.sampled_from([0.0, 0.5, 1.0]),
    breaks=st.sampled_from([0.0, 0.5, 1.0]),
    complete=st.sampled_from([0.0, 0.3, 1.0]),
    dropship=st.sampled_from([0.0, 0.5, 1.0]),
    ragged=st.sampled_from([0.0, 0.5, 1.0]),
    smoothing=st.sampled_from([0.0, 0.5]),
    cover=st.sampled_from([(0.0, 0.1), (0.2, 0.5), (0.6, 1.2)]),
)
def test_greedy_plans_of_generated_problems_pass_the_evaluator(
        seed: int, moq: float, capacity: float, breaks: float, complete: float, dropship: float,
        ragged: float, smoothing: float, cover: tuple[float, float]) -> None:
    data = generate("tiny", seed, orders=30, skus=4, moq_share=moq, capacity_share=capacity,
                    price_break_share=breaks, ship_complete_share=complete, dropship_share=dropship,
                    ragged_terms_share=ragged, smoothing_share=smoothing, stock_cover=cover)
    problem = load_problem(data).canonical()
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert_terms_hold(problem, plan)


@pytest.mark.parametrize("seed", range(3))
def test_greedy_plans_of_small_problems_with_ragged_terms_pass_the_evaluator(seed: int) -> None:
    data = generate("small", seed, ragged_terms_share=0.5, smoothing_share=0.2)
    problem = load_problem(data).canonical()
    plan = greedy(problem)
    assert_feasible(problem, plan)
    assert any(a.role != Role.DROPSHIP and a.capacity_per_period is not None
               and -(-a.moq // a.pack_size) * a.pack_size > a.capacity_per_period for a in problem.agreements)
