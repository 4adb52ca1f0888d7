"""A solved plan in the planner's words: the report, with late lines priced on time.

:func:`explain` joins :func:`stockplan.solver.report.plan_report` (statuses,
promised dates, reasons, projected stock, notices) and
:func:`stockplan.solver.pricing.price_on_time` (the exact extra cost of each late
line on time), pricing at most ``settings.max_priced_lines`` lines: the
highest-priority orders first, then lost before partly lost before backordered,
then the latest. With a ``deadline`` (as :func:`stockplan.solver.solve.solve`
passes), pricing gets whatever time the report leaves before it; the report's
``pricing`` says how much that was and how many lines it left unpriced.
"""

from __future__ import annotations

import time

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.report import LineReport, LineStatus, PlanReport, PricingRun
from stockplan.solver.evaluator import Evaluation
from stockplan.solver.pricing import price_on_time
from stockplan.solver.report import plan_report

_SEVERITY = {LineStatus.LOST: 0, LineStatus.PARTIALLY_LOST: 1, LineStatus.BACKORDERED: 2}


def lines_to_price(report: PlanReport, limit: int) -> list[LineReport]:
    """The late lines a planner most wants priced, at most ``limit`` of them."""
    late = [ln for ln in report.lines if ln.status in _SEVERITY]
    late.sort(key=lambda ln: (ln.priority, _SEVERITY[ln.status], -(ln.periods_late or 0), ln.order, ln.line))
    return late[:limit]


def explain(
    problem: Problem,
    plan: Decisions,
    price: bool = True,
    backend: str = "highs",
    current: Evaluation | None = None,
    budget: float | None = None,
    deadline: float | None = None,
) -> PlanReport:
    """The report of ``plan`` with its late lines priced (see the module doc).

    Parameters
    ----------
    problem : Problem
        The problem the plan solves.
    plan : Decisions
        A feasible plan.
    price : bool
        Price late lines on time (each is a re-solve of the line's SKU).
    backend : str
        The MIP backend of those re-solves.
    current : Evaluation, optional
        The evaluator's verdict on ``plan``, when the caller has it.
    budget : float, optional
        Seconds for pricing in all; lines left when it runs out are ``not_priced``.
    deadline : float, optional
        ``time.perf_counter()`` by which pricing must be done: the budget is at most
        what the report leaves before it (possibly nothing).

    Returns
    -------
    PlanReport
        Lines not priced (beyond ``settings.max_priced_lines``, or out of time) say
        ``pricing = "not_priced"``; ``report.pricing`` counts them.
    """
    report = plan_report(problem, plan)
    if not price:
        return report
    if deadline is not None:
        left = max(0.0, deadline - time.perf_counter())
        budget = left if budget is None else min(budget, left)
    chosen = lines_to_price(report, problem.settings.max_priced_lines)
    started = time.perf_counter()
    prices = price_on_time(problem, plan, [(ln.order, ln.line) for ln in chosen],
                           time_limit=problem.settings.pricing_time_limit, backend=backend, current=current,
                           budget=budget)
    # price_on_time prices the chosen lines in order and stops when its budget runs out.
    report.pricing = PricingRun(budget_seconds=budget, seconds=time.perf_counter() - started,
                                lines_chosen=len(chosen), lines_priced=len(prices),
                                not_priced_for_time=len(chosen) - len(prices))
    for ln in report.lines:
        if ln.status not in _SEVERITY:
            continue
        p = prices.get((ln.order, ln.line))
        if p is None:
            ln.pricing = "not_priced"
            continue
        ln.pricing = p.status + (f", breaks {problem.settings.policy}" if p.breaks_policy else "")
        ln.extra_cost = p.extra_cost
        ln.on_time_cost = p.on_time_cost
    return report
