"""The strengthenings (solver/model/strengthen.py, R1 in segments.py): every plan keeps them, LP points do not.

Each family: a known feasible plan (the best known plan of small seed 0, greedy
plans, the examples' MIP optima) satisfies it at the same cost as in the plain
model; the plain model's LP optimum is cut off by it; and the strengthened LP
bound never exceeds a known plan's cost.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.generator import generate
from stockplan.models.plan import Decisions, load_plan
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import encode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.mip import MipModel
from stockplan.solver.model.segments import PriceSegments, price_segments, useful_quantity
from stockplan.solver.model.strengthen import NONE, Strengthening
from stockplan.solver.solve import solve
from tests.conftest import example

REFERENCE = Path(__file__).parents[2] / "benchmarks" / "reference"
ALL = Strengthening(tight_segments=True, dropship_links=True, segment_flows=True)
R3_ONLY = Strengthening(tight_segments=False, dropship_links=True, segment_flows=False)
R5_ONLY = Strengthening(tight_segments=False, dropship_links=False, segment_flows=True)


def _small0() -> Problem:
    return load_problem(json.loads((REFERENCE / "small0.json").read_text())).canonical()


def assert_kept_at_cost(problem: Problem, plan: Decisions, flags: Strengthening, tol: float = 1e-6) -> None:
    """``plan`` encodes into the model built with ``flags`` as a feasible point costing what the evaluator says."""
    ix = build_index(problem)
    model, mapping = build_model(ix, strengthen=flags)
    x = encode_plan(ix, model, mapping, plan)
    assert x is not None and model.max_violation(x) <= 1e-6
    assert model.objective(x) == pytest.approx(evaluate(problem, plan).objective, abs=tol)


def _lp(model: MipModel) -> np.ndarray:
    result = get_backend("highs").solve(replace(model, integrality=np.zeros_like(model.integrality)),
                                        SolveOptions(time_limit=120, gap=0.0))
    assert result.outcome == "optimal" and result.x is not None
    return result.x


def _lp_value(model: MipModel) -> float:
    return model.objective(_lp(model))


@pytest.mark.parametrize("name", ["mixed-small", "mixed-medium", "three-customers"])
@pytest.mark.parametrize("flags", [ALL, R3_ONLY, R5_ONLY], ids=["all", "R3", "R5"])
def test_the_examples_optimal_plans_keep_every_strengthening_at_their_cost(name: str, flags: Strengthening) -> None:
    problem = example(name).canonical()
    assert_kept_at_cost(problem, solve(problem, SolveOptions(time_limit=30, gap=0.0), method="mip"), flags)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_greedy_plans_of_generated_problems_keep_every_strengthening(seed: int) -> None:
    problem = load_problem(generate("tiny", seed=seed, orders=40)).canonical()
    assert_kept_at_cost(problem, greedy_plan(build_index(problem)), ALL)


def test_tight_segments_hold_no_more_packs_than_can_be_used_from_arrival_on() -> None:
    ix = build_index(_small0())
    plain, tight = price_segments(ix), price_segments(ix, tight=True)
    need = useful_quantity(ix, by_location=True)
    ag = tight.slot_ag[tight.seg_slot]
    arrival = tight.slot_p[tight.seg_slot] + ix.ag_lead[ag]
    usable = -(-need[ag, arrival] // ix.ag_pack[ag])
    assert np.all(tight.seg_hi <= np.maximum(tight.seg_lo, usable))
    assert np.all(tight.seg_hi >= tight.seg_lo)
    # Tighter than the plain bounds somewhere, looser nowhere; a slot whose arrival nobody can use is gone.
    def key(s: PriceSegments) -> np.ndarray:
        return (s.slot_ag[s.seg_slot] * ix.T + s.slot_p[s.seg_slot]) * 100_000 + s.seg_lo

    plain_hi = dict(zip(key(plain).tolist(), plain.seg_hi.tolist(), strict=True))
    pairs = [(hi, plain_hi[k]) for k, hi in zip(key(tight).tolist(), tight.seg_hi.tolist(), strict=True)]
    assert len(pairs) <= plain.seg_hi.shape[0]
    assert all(a <= b for a, b in pairs) and any(a < b for a, b in pairs)


def test_the_best_known_plan_of_1000_orders_keeps_every_strengthening_at_its_cost() -> None:
    best = load_plan(json.loads((REFERENCE / "small0-best-plan.json").read_text()))
    assert_kept_at_cost(_small0(), best, ALL, tol=1e-4)


def test_dropship_links_cut_off_the_plain_lp_optimum() -> None:
    ix = build_index(_small0())
    plain, _ = build_model(ix, strengthen=NONE)
    linked, _ = build_model(ix, strengthen=R3_ONLY)  # the same columns, rows added at the end
    x = _lp(plain)
    rows = linked.row_blocks["dropship_link"]
    excess = (linked.matrix[rows] @ x) - linked.row_upper[rows]
    assert excess.max() > 1e-3


@pytest.mark.slow
def test_segment_flows_cut_off_the_plain_lp_optimum_and_raise_the_bound_below_the_best_plan() -> None:
    ix = build_index(_small0())
    plain, _ = build_model(ix, strengthen=NONE)
    flows, _ = build_model(ix, strengthen=R5_ONLY)
    x = _lp(plain)
    # The plain LP's decisions, with any flows at all: infeasible.
    n_plain = plain.num_cols
    lo, hi = flows.col_lower.copy(), flows.col_upper.copy()
    lo[:n_plain] = hi[:n_plain] = x
    fixed = replace(flows, col_lower=lo, col_upper=hi, integrality=np.zeros_like(flows.integrality))
    assert get_backend("highs").solve(fixed, SolveOptions(time_limit=60, gap=0.0)).outcome == "infeasible"
    plain_lp, strong_lp = plain.objective(x), _lp_value(build_model(ix, strengthen=ALL)[0])
    assert plain_lp + 500 < strong_lp <= 101_516.24  # measured: 98,847 -> 99,738; the best known plan 101,516.24
