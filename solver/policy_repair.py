"""An exact hand-out of a SKU's supply by its allocation policy: the greedy plan's last resort.

:mod:`stockplan.solver.allocation` hands a SKU's units out by rules of thumb, one move
at a time. Now and then (a left-over dropship unit that must reach a line, and equal
lines sharing what is left) every single move breaks a rule although an allocation of
the same supply that keeps them all exists. For those SKUs the model answers exactly:
the SKU's sub-model with every purchase column fixed to the plan's (what is left is who
gets the units: :func:`stockplan.solver.lns.reallocate_supply`), ship-complete orders
that span other SKUs held to their period. A SKU whose sub-model finds nothing in its
time keeps its allocation.
"""

from __future__ import annotations

import time

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.builder import build_model
from stockplan.solver.decode import decode_plan, encode_plan
from stockplan.solver.indexing import ProblemIndex, subset_index
from stockplan.solver.lns import SkuPlan, hold_complete_orders, reallocate_supply, ship_complete_orders

#: Seconds for one SKU's sub-model, and for all of them: a last resort must not eat the solve's budget.
PER_SKU_SECONDS = 0.5
TOTAL_SECONDS = 2.0


def hand_out_exactly(ix: ProblemIndex, plan: Decisions, skus: list[int], backend: str = "highs") -> Decisions:
    """``plan`` with the deliveries of each SKU of ``skus`` (indices into ``ix.skus``) handed out again
    by the model so that they keep the policy, purchases unchanged; a SKU it cannot do in time is left."""
    deadline = time.perf_counter() + TOTAL_SECONDS
    state = SkuPlan(ix.problem, ix, plan)
    complete = ship_complete_orders(ix)
    for k in skus:
        left = deadline - time.perf_counter()
        if left <= 0.01:
            break
        group = np.array([k])
        sub = subset_index(ix, group)
        model, mapping = build_model(sub)
        hold_complete_orders(model, mapping, state.held_orders(group, complete))
        x0 = encode_plan(sub, model, mapping, state.group(group), feasible_only=False)
        if x0 is None:
            continue
        x = reallocate_supply(model, x0, SolveOptions(time_limit=min(PER_SKU_SECONDS, left), threads=1), backend)
        if x is not None:
            state.replace(group, decode_plan(sub, model, mapping, x))
    return state.plan()
