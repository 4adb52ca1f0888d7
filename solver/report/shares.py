"""Fair shares: what each line got by its due date, and why a line got less than one that looks equal.

Under ``fair_share`` and ``priority_fair_share`` a planner asks "why did this order
get less than that one?". Lines are compared with the other lines of their SKU,
priority and due period (what they got by then is comparable); the reason for the
largest difference is named: a tie that went to an older order, the max-min split
of unequal quantities, a ship-complete order (outside the split), other warehouses
or another earliest date (so the two were not competing for the same units).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stockplan.models.problem import Policy
from stockplan.solver.policies import order_age_rank, ties_go_to_older_orders
from stockplan.solver.report.context import ReportContext

FAIR_POLICIES = (Policy.FAIR_SHARE, Policy.PRIORITY_FAIR_SHARE)


def fair_shares(ctx: ReportContext, by_due: np.ndarray) -> dict[int, tuple[float, str | None]]:
    """Per line, under a fair-share policy: its share by due, and a note when a comparable line got more."""
    problem, ix = ctx.problem, ctx.ix
    if problem.settings.policy not in FAIR_POLICIES or ix.n_lines == 0:
        return {}
    share = by_due / np.maximum(ix.line_qty, 1)
    rank = order_age_rank(problem)[ix.line_order]
    by_age = ties_go_to_older_orders(problem)
    groups: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(ix.line_sku.tolist(), ix.line_priority.tolist(), ix.line_due.tolist(), strict=True)):
        groups[key].append(i)
    out: dict[int, tuple[float, str | None]] = {i: (float(share[i]), None) for i in range(ix.n_lines)}
    for lines in groups.values():
        if len(lines) < 2:
            continue
        best = max(lines, key=lambda j: (share[j], -rank[j]))
        for i in lines:
            if share[i] < share[best] - 1e-12:
                out[i] = (float(share[i]), _why_less(ctx, i, best, by_due, rank, by_age))
    return out


def _why_less(ctx: ReportContext, i: int, j: int, by_due: np.ndarray, rank: np.ndarray, by_age: bool) -> str:
    """Why line ``i`` got a smaller share by its due date than line ``j`` of the same SKU and priority."""
    ix = ctx.ix
    other = ctx.problem.orders[int(ix.line_order[j])].id
    if ix.line_complete[j]:
        return f"{other} is ship-complete: delivered whole or not at all, outside the fair-share split"
    if ix.line_complete[i]:
        return "this order is ship-complete: delivered whole or not at all, outside the fair-share split"
    if not (ix.allowed[i] == ix.allowed[j]).all():
        return f"{other} may ship from {ctx.where(ix.allowed[j])}, this order from {ctx.where(ix.allowed[i])}"
    if ix.line_first[i] != ix.line_first[j]:
        return f"{other} takes delivery from {ctx.day(int(ix.line_first[j]))}, this order from " \
               f"{ctx.day(int(ix.line_first[i]))}"
    # Equal lines: the max-min split leaves at most one unit of difference to hand out.
    if by_age and rank[j] < rank[i]:
        return f"a tie lost to the older order {other}"
    return f"within one unit of {other}'s share: the max-min split of {int(by_due[i] + by_due[j])} units"
