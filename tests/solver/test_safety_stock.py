"""Safety stock, reorder points, the review period and the notes (solver/safety_stock.py).

Every expected value is worked out by hand: 4 weekly periods, z(0.95) = 1.6449.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from stockplan.models.plan import Decisions
from stockplan.models.report import SafetyStockBasis, SafetyStockNoteCode
from stockplan.models.validation import load_problem
from stockplan.solver import evaluator
from stockplan.solver.indexing import build_index
from stockplan.solver.safety_stock import effective_safety_stock, safety_stock_levels, safety_stock_notes

Z95 = 1.6448536269514722


def agreement(id: str, role: str, days: int, sku: str = "SKU-1", location: str = "WH-1",
              unit_cost: float = 2.0) -> dict[str, Any]:
    return {"id": id, "supplier": "SUP-1", "sku": sku, "role": role, "location": location, "unit_cost": unit_cost,
            "lead_time_days": days}


STATS = {"demand_per_period": 2.0, "demand_std": 3.0, "service_level": 0.95}


def problem(stock: list[dict[str, Any]], agreements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "horizon": {"start": "2026-01-05", "periods": 4, "period_days": 7},
        "items": [{"sku": "SKU-1", "lost_sale_cost": 10.0}, {"sku": "SKU-2", "lost_sale_cost": 10.0}],
        "locations": [{"id": "WH-1"}, {"id": "WH-2"}],
        "stock": stock,
        "orders": [],
        "suppliers": [{"id": "SUP-1"}],
        "agreements": agreements,
    }


def level_of(data: dict[str, Any], index: int = 0) -> Any:
    return safety_stock_levels(load_problem(data))[index]


# ------------------------------------------------------------------------------------------ values


def test_the_spec_formula_without_a_review_period() -> None:
    # L = 2 (14 days): ceil(1.6449 * 3 * sqrt 2) = ceil(6.98) = 7; reorder ceil(2 * 2) + 7 = 11.
    v = level_of(problem([{"sku": "SKU-1", "location": "WH-1", **STATS}], [agreement("AG-P", "primary", 14)]))
    assert (v.safety_stock, v.reorder_point, v.basis, v.lead_periods, v.review_periods, v.primary) == (
        7, 11, SafetyStockBasis.STATISTICS, 2, 0, "AG-P")
    assert math.ceil(Z95 * 3 * math.sqrt(2)) == 7


def test_a_review_period_covers_lead_time_plus_review() -> None:
    # R = 10 days -> 2 periods (rounded up like a lead time); L + R = 4:
    # ceil(1.6449 * 3 * 2) = ceil(9.87) = 10; reorder ceil(2 * 4) + 10 = 18.
    stock = [{"sku": "SKU-1", "location": "WH-1", **STATS, "review_period_days": 10}]
    v = level_of(problem(stock, [agreement("AG-P", "primary", 14)]))
    assert (v.safety_stock, v.reorder_point, v.lead_periods, v.review_periods) == (10, 18, 2, 2)
    # A review period of 0 days is the spec's formula.
    stock[0]["review_period_days"] = 0
    assert level_of(problem(stock, [agreement("AG-P", "primary", 14)])).safety_stock == 7


def test_given_safety_stock_has_a_reorder_point_with_or_without_a_demand_rate() -> None:
    data = problem([{"sku": "SKU-1", "location": "WH-1", "safety_stock": 5, "demand_per_period": 2.5},
                    {"sku": "SKU-2", "location": "WH-1", "safety_stock": 4},
                    {"sku": "SKU-1", "location": "WH-2", "on_hand": 3}],
                   [agreement("AG-P", "primary", 14), agreement("AG-2", "primary", 21, sku="SKU-2")])
    with_rate, without_rate, neither = safety_stock_levels(load_problem(data))
    # ceil(2.5 * 2) + 5 = 10.
    assert (with_rate.safety_stock, with_rate.reorder_point, with_rate.basis) == (5, 10, SafetyStockBasis.GIVEN)
    # No demand rate: the lead-time demand is unknown; the reorder point is the safety stock itself.
    assert (without_rate.reorder_point, without_rate.lead_periods, without_rate.demand_per_period) == (4, 3, None)
    assert (neither.safety_stock, neither.reorder_point, neither.basis) == (0, None, SafetyStockBasis.NONE)


def test_given_safety_stock_with_a_review_period_orders_for_lead_time_plus_review() -> None:
    data = problem([{"sku": "SKU-1", "location": "WH-1", "safety_stock": 5, "demand_per_period": 2.5,
                     "review_period_days": 7}], [agreement("AG-P", "primary", 14)])
    # The given safety stock stays; reorder ceil(2.5 * 3) + 5 = 13.
    assert (level_of(data).safety_stock, level_of(data).reorder_point) == (5, 13)


# ------------------------------------------------------------------------------------------ notes


def test_safety_stock_without_a_cost_is_noted_given_or_computed() -> None:
    data = problem([{"sku": "SKU-1", "location": "WH-1", "safety_stock": 12},
                    {"sku": "SKU-2", "location": "WH-1", **STATS},
                    {"sku": "SKU-1", "location": "WH-2", "safety_stock": 3, "safety_stock_cost": 0.5},
                    {"sku": "SKU-2", "location": "WH-2", "safety_stock": 0}],
                   [agreement("AG-P", "primary", 14, sku="SKU-2")])
    notes = safety_stock_notes(load_problem(data))
    assert [(n.path, n.sku, n.location, n.code) for n in notes] == [
        ("stock[0]", "SKU-1", "WH-1", SafetyStockNoteCode.NO_COST),
        ("stock[1]", "SKU-2", "WH-1", SafetyStockNoteCode.NO_COST)]
    assert notes[0].message == "safety stock 12 of SKU-1 at WH-1 is ignored: its safety_stock_cost is 0"
    assert notes[1].message == ("safety stock 7 of SKU-2 at WH-1 (from its demand statistics) is ignored: "
                                "its safety_stock_cost is 0")


def test_statistics_without_a_primary_agreement_are_noted_with_the_alternates_lead_time() -> None:
    stock = [{"sku": "SKU-1", "location": "WH-1", **STATS, "safety_stock_cost": 1.0}]
    data = problem(stock, [agreement("AG-7", "alternate", 21), agreement("AG-P", "primary", 7, location="WH-2")])
    (note,) = safety_stock_notes(load_problem(data))
    assert (note.path, note.code) == ("stock[0]", SafetyStockNoteCode.NO_PRIMARY)
    assert note.message == ("SKU-1 at WH-1 has demand statistics but no primary agreement: the spec's L = 0 "
                            "gives safety stock 0; its alternate AG-7 has a lead time of 3 periods")
    # Several alternates, cheapest first; none at all.
    data["agreements"].append(agreement("AG-8", "alternate", 7, unit_cost=1.0))
    (note,) = safety_stock_notes(load_problem(data))
    assert note.message.endswith("its alternates AG-8, AG-7 have lead times of 1, 3 periods")
    (note,) = safety_stock_notes(load_problem(problem(stock, [])))
    assert note.message.endswith("gives safety stock 0; no alternate agreement restocks it there either")


def test_statistics_without_a_primary_but_with_a_review_period() -> None:
    # L = 0, R = 1: ceil(1.6449 * 3 * 1) = 5, and without a cost it is ignored too.
    stock = [{"sku": "SKU-1", "location": "WH-1", **STATS, "review_period_days": 7}]
    no_primary, no_cost = safety_stock_notes(load_problem(problem(stock, [agreement("AG-7", "alternate", 21)])))
    assert no_primary.message == (
        "SKU-1 at WH-1 has demand statistics but no primary agreement: L = 0 gives safety stock 5, from the "
        "review period of 1 period alone; its alternate AG-7 has a lead time of 3 periods")
    assert no_cost.code == SafetyStockNoteCode.NO_COST and no_cost.message.startswith("safety stock 5 of SKU-1")


def test_no_note_when_the_safety_stock_is_held() -> None:
    data = problem([{"sku": "SKU-1", "location": "WH-1", **STATS, "safety_stock_cost": 1.0},
                    {"sku": "SKU-1", "location": "WH-2", "on_hand": 4}],
                   [agreement("AG-P", "primary", 14)])
    assert safety_stock_notes(load_problem(data)) == []


# ------------------------------------------------------------------------------------------ one value everywhere


def with_review_periods(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """``data`` with a review period on some stock entries, and statistics without a primary on others."""
    rng = random.Random(seed)
    out = copy.deepcopy(data)
    for s in out["stock"]:
        if rng.random() < 0.5:
            s["review_period_days"] = rng.choice([0, 1, 7, 10, 30])
    # A fifth of the SKU-locations lose their primaries: L is 0 there (nothing refers to an agreement).
    bare = {(s["sku"], s["location"]) for s in out["stock"] if rng.random() < 0.2}
    out["agreements"] = [a for a in out["agreements"]
                         if a["role"] != "primary" or (a["sku"], a.get("location")) not in bare]
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_the_model_index_and_the_evaluator_agree_on_every_safety_stock(seed: int) -> None:
    from benchmarks.generator import generate

    data = with_review_periods(generate("small", seed), seed)
    prob = load_problem(data)
    assert any(s.review_period_days for s in prob.stock) and any(s.service_level for s in prob.stock)
    assert any(n.code == SafetyStockNoteCode.NO_PRIMARY for n in safety_stock_notes(prob))
    safety, _ = effective_safety_stock(prob)
    assert evaluator.effective_safety_stock(prob) == safety
    ix = build_index(prob)
    NL = ix.n_locations
    for (sku, loc), ss in safety.items():
        assert ix.safety_stock[ix.skus.index(sku) * NL + ix.locations.index(loc)] == ss


def test_the_review_period_is_what_the_model_and_the_evaluator_charge() -> None:
    from stockplan.solver.solve import solve

    # Nothing on hand and nothing to buy: safety stock 10 (L 2 + R 2) short in every period, 0.5 per unit.
    stock = [{"sku": "SKU-1", "location": "WH-1", **STATS, "review_period_days": 14, "safety_stock_cost": 0.5}]
    prob = load_problem(problem(stock, [agreement("AG-P", "primary", 14, unit_cost=100.0)]))
    assert evaluator.evaluate(prob, Decisions()).costs.safety_stock == pytest.approx(10 * 4 * 0.5)
    plan = solve(prob)
    assert plan.status == "optimal" and plan.warnings == []
    assert plan.costs.safety_stock == pytest.approx(10 * 4 * 0.5)
