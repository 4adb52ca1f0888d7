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
from stockplan.models.report import BackorderReason, LineReport, LineStatus, PlanReport, PricingRun
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
        if ln.reason_code == BackorderReason.COST_TRADEOFF and p.extra_cost is not None and p.plan is not None:
            ln.reason = priced_reason(problem, plan, p.plan, ln, p.extra_cost, p.status == "upper_bound")
    return report


COSTS_MORE = "costs more than the lateness it saves"


def priced_reason(problem: Problem, plan: Decisions, on_time: Decisions, ln: LineReport, extra: float,
                  at_most: bool) -> str:
    """A cost reason with its numbers: what on time costs in all, net of the lateness it saves, and how."""
    saves = lateness_cost(problem, plan, ln)
    how = on_time_means(problem, plan, on_time, ln)
    priced = (f"costs {'at most ' if at_most else ''}{extra:,.2f} more in all, net of the {saves:,.2f} of "
              f"lateness it saves ({how})")
    return ln.reason.replace(COSTS_MORE, priced) if ln.reason and COSTS_MORE in ln.reason else f"on time {priced}"


def lateness_cost(problem: Problem, plan: Decisions, ln: LineReport) -> float:
    """What the line's lateness costs in ``plan``: backorder cost per open unit and period from due to
    last, then the lost sale of what is still open (spec §The cost of a plan)."""
    order = next(o for o in problem.orders if o.id == ln.order)
    sku = order.lines[ln.line].sku
    item = next(i for i in problem.items if i.sku == sku)
    per_period = order.lines[ln.line].backorder_cost
    per_period = item.backorder_cost if per_period is None else per_period
    got = [0] * (ln.last_period + 1)
    for t, units in line_deliveries(problem, plan, ln):
        if t <= ln.last_period:
            got[t] += units
    delivered, cost = 0, 0.0
    for t in range(ln.last_period + 1):
        delivered += got[t]
        if t >= ln.due_period:
            cost += per_period * (ln.quantity - delivered)
    return cost + item.lost_sale_cost * (ln.quantity - delivered)


def line_deliveries(problem: Problem, plan: Decisions, ln: LineReport) -> list[tuple[int, int]]:
    """(period, units) reaching the line: its shipments, and dropships in their period plus the lead."""
    out = [(s.period, s.quantity) for s in plan.shipments if (s.order, s.line) == (ln.order, ln.line)]
    lead = {a.id: problem.horizon.lead_periods(a.lead_time_days) for a in problem.agreements}
    out += [(po.period + lead[po.agreement], dl.quantity) for po in plan.purchase_orders for dl in po.lines or ()
            if (dl.order, dl.line) == (ln.order, ln.line)]
    return out


def on_time_means(problem: Problem, plan: Decisions, on_time: Decisions, ln: LineReport) -> str:
    """How the on-time plan does it: the agreements it buys more from, else whose stock it takes."""
    sku_of = {a.id: a.sku for a in problem.agreements}

    def bought(p: Decisions) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for po in p.purchase_orders:
            if sku_of[po.agreement] == ln.sku:
                out[po.agreement, po.period] = out.get((po.agreement, po.period), 0) + po.quantity
        return out

    now, then = bought(plan), bought(on_time)
    more = sorted({a for (a, t), q in then.items() if q > now.get((a, t), 0)})
    if more:
        return "via " + ", ".join(more)
    order_sku = {(o.id, j): line.sku for o in problem.orders for j, line in enumerate(o.lines)}

    def by_due(p: Decisions) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in p.shipments:
            if order_sku[s.order, s.line] == ln.sku and s.order != ln.order and s.period <= ln.due_period:
                out[s.order] = out.get(s.order, 0) + s.quantity
        return out

    was, will = by_due(plan), by_due(on_time)
    losers = sorted(o for o, q in was.items() if will.get(o, 0) < q)
    if not losers:
        return "from stock at hand"
    return f"with the stock {', '.join(losers[:3])} {'gets' if len(losers) == 1 else 'get'} now"
