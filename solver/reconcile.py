"""Does the model agree with the evaluator on the plan a solve returns?

The evaluator is the judge of a plan's cost; the model is what the solver
minimised and what its bound refers to. Both must give a plan the same
objective (the model's ``c·x + offset`` of the plan's column vector, the
evaluator's cost plus promise slip), and a proven bound must not lie above the
objective of a plan that follows the policy the bound is for. Where they do not
agree, nothing is adjusted: the disagreement is logged and returned as a
warning for the plan (``Plan.warnings``), and the solve does not claim
``optimal``.
"""

from __future__ import annotations

import logging

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.solver.builder import ModelMap
from stockplan.solver.decode import encode_plan
from stockplan.solver.evaluator import Evaluation
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import FRACTIONAL_BLOCKS, MipModel

log = logging.getLogger(__name__)

# Relative tolerance (of max(1, |objective|)) of every comparison here.
REL_TOL = 1e-6


def tolerance(value: float) -> float:
    """The absolute tolerance of a comparison with ``value``."""
    return REL_TOL * max(1.0, abs(value))


def decoded_vector(model: MipModel, x: np.ndarray) -> np.ndarray:
    """``x`` as it is decoded: every unit-counting column rounded to a whole number.

    The fair-share levels (fractions of a line, cost 0) are kept as they are.
    """
    out = np.rint(x)
    for name in FRACTIONAL_BLOCKS:
        if name in model.blocks:
            out[model.blocks[name]] = x[model.blocks[name]]
    return out


def plan_objective(ix: ProblemIndex, model: MipModel, mapping: ModelMap, plan: Decisions) -> float | None:
    """The model's objective ``c·x + offset`` of ``plan`` encoded as columns; None if the model cannot express it."""
    x = encode_plan(ix, model, mapping, plan)
    return None if x is None else model.objective(x)


def objective_warnings(model_objective: float | None, ev: Evaluation, what: str) -> list[str]:
    """A warning (also logged) when the model's objective of ``what`` is not the evaluator's ``ev.objective``.

    ``model_objective`` None means the model cannot express the plan: that is a
    disagreement only for a plan that follows its policy (the model enforces it).
    """
    if model_objective is None:
        if ev.policy_violations:
            return []
        message = (f"the model cannot express {what}, which the evaluator accepts "
                   f"(objective {ev.objective:.6f})")
    elif abs(model_objective - ev.objective) > tolerance(ev.objective):
        message = (f"model objective {model_objective:.6f} of {what} differs from the evaluator's "
                   f"{ev.objective:.6f} (by {model_objective - ev.objective:+.6g})")
    else:
        return []
    log.warning(message)
    return [message]


def solution_warnings(vector_objective: float, plan_objective: float | None) -> tuple[list[str], list[str]]:
    """Warnings and notes on a solver's vector against its decoded plan's model objective.

    The plan is decoded from the vector's decisions (shipments, fills, packs); its
    other columns (supplier-period binaries, safety-stock shortfall) follow from them,
    and :func:`plan_objective` sets them at their least. A vector costing more is a
    solver's incumbent paying for nothing (a note); costing less is impossible for a
    feasible vector, so it is a warning.
    """
    if plan_objective is None:
        return [], []
    excess = vector_objective - plan_objective
    if excess < -tolerance(plan_objective):
        message = (f"the solver's solution has model objective {vector_objective:.6f}, below the "
                   f"{plan_objective:.6f} of the plan decoded from it")
        log.warning(message)
        return [message], []
    if excess > tolerance(plan_objective):
        return [], [f"the solver's solution paid {excess:.6g} its plan does not cost (supplier periods "
                    "ordered in without an order, safety-stock shortfall beyond the plan's, or a shipment fee "
                    "without a shipment)"]
    return [], []


def bound_warnings(bound: float | None, ev: Evaluation) -> list[str]:
    """A warning (also logged) when the proven ``bound`` lies above the plan's objective beyond tolerance."""
    if bound is None or bound <= ev.objective + tolerance(ev.objective):
        return []
    message = f"the proven bound {bound:.6f} is above the plan's objective {ev.objective:.6f}"
    if ev.policy_violations:
        message += " (the plan does not follow the allocation policy the bound is for)"
    log.warning(message)
    return [message]
