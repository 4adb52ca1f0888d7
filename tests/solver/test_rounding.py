"""LP rounding: whole packs within MOQ and capacity, a feasible plan, the LP value below the optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.backends.highs import HighsBackend
from stockplan.solver.builder import build_model
from stockplan.solver.decode import decode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.indexing import build_index
from stockplan.solver.rounding import lp_rounding, round_purchases
from tests.conftest import example

OPTIMA = {"mixed-small": 2108.93, "mixed-medium": 5391.664}


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_rounded_plan_is_feasible_and_the_lp_value_bounds_the_optimum(name: str) -> None:
    problem = example(name)
    ix = build_index(problem)
    model, mapping = build_model(ix)
    result = lp_rounding(ix, model, mapping, SolveOptions(time_limit=30, gap=1e-4))
    assert result.x is not None and result.lp_bound is not None
    plan = decode_plan(ix, model, mapping, result.x)
    ev = evaluate(problem, plan)
    assert ev.feasible, ev.violations[:3]
    assert result.lp_bound <= OPTIMA[name] + 1e-6 <= ev.cost + 2e-6


def test_rounded_quantities_are_whole_packs_within_moq_and_capacity() -> None:
    ix = build_index(example("mixed-medium"))
    model, mapping = build_model(ix)
    lp = HighsBackend().solve(replace(model, integrality=np.zeros_like(model.integrality)), SolveOptions())
    assert lp.x is not None
    units = round_purchases(ix, mapping, model, lp.x)
    ag = mapping.slot_ag
    assert np.all(units % ix.ag_pack[ag] == 0)
    ordered = units > 0
    assert np.all(units[ordered] >= ix.ag_moq[ag[ordered]])
    capped = ordered & (ix.ag_cap[ag] >= 0)
    assert np.all(units[capped] <= ix.ag_cap[ag[capped]])
    assert ordered.any()
