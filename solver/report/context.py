"""What every part of the report reads: the plan's purchase orders as arrays, and its deliveries.

- **Deliveries** (:func:`deliveries`) are shipments (in their period) and dropship
  purchase-order lines (in the order's period plus the agreement's lead periods).
- **Per line** (:func:`line_deliveries`): units delivered, units delivered by the
  due period ``d``, and the period of the last delivery.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.solver.indexing import ProblemIndex

BIG = np.int64(1) << 50  # "none" for minima over periods, priorities and lead times


@dataclass
class ReportContext:
    problem: Problem
    decisions: Decisions
    ix: ProblemIndex
    ag_of: dict[str, int]
    line_of: dict[tuple[str, int], int]  # (order id, line number) -> indexed line
    # one row per purchase order of the plan
    po_ag: np.ndarray
    po_period: np.ndarray
    po_qty: np.ndarray
    po_arrival: np.ndarray
    used: np.ndarray  # (agreements, T): units ordered per agreement and period placed
    dates: list[dt.date]  # first day of periods 0..T-1

    def date(self, period: int) -> dt.date:
        return self.dates[period] if 0 <= period < len(self.dates) else self.problem.horizon.date_of(period)

    def day(self, period: int) -> str:
        """A period in words: the date it starts (reasons and notices speak in dates)."""
        return self.date(period).isoformat()

    def span(self, lo: int, hi: int) -> str:
        """Periods lo..hi in words: from the first one's first day to the last one's last day."""
        lo = max(lo, 0)
        first, last = self.date(lo), self.date(max(hi, lo) + 1) - dt.timedelta(days=1)
        return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"

    def line_latest(self, i: int) -> str:
        """The last date a line can be delivered on: its ``latest``, else the horizon's last day."""
        latest = self.problem.orders[int(self.ix.line_order[i])].latest
        end = self.date(int(self.ix.line_last[i]) + 1) - dt.timedelta(days=1)
        return (latest if latest is not None and latest <= end else end).isoformat()

    def where(self, allowed: np.ndarray) -> str:
        """Warehouses of an allowed-row in words."""
        if allowed.all() and allowed.size > 1:
            return "any warehouse"
        return " or ".join(self.ix.locations[k] for k in np.flatnonzero(allowed)) or "no warehouse"


def build_context(problem: Problem, decisions: Decisions, ix: ProblemIndex) -> ReportContext:
    """Index the plan's purchase orders; ``ValueError`` when one names an unknown agreement."""
    ag_of = {a: k for k, a in enumerate(ix.agreement_ids)}
    orders = problem.orders
    line_of = {(orders[o].id, n): i
               for i, (o, n) in enumerate(zip(ix.line_order.tolist(), ix.line_no.tolist(), strict=True))}
    pos = decisions.purchase_orders
    try:
        po_ag = np.array([ag_of[po.agreement] for po in pos], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"the plan names unknown agreement {exc.args[0]!r}") from None
    po_period = np.array([po.period for po in pos], dtype=np.int64)
    po_qty = np.array([po.quantity for po in pos], dtype=np.int64)
    used = np.zeros((len(ix.agreement_ids), ix.T), dtype=np.int64)
    np.add.at(used, (po_ag, po_period), po_qty)
    return ReportContext(
        problem=problem, decisions=decisions, ix=ix, ag_of=ag_of, line_of=line_of, po_ag=po_ag, po_period=po_period,
        po_qty=po_qty, po_arrival=po_period + ix.ag_lead[po_ag], used=used,
        dates=[problem.horizon.date_of(t) for t in range(ix.T)],
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def period_span(lo: int, hi: int) -> str:
    return f"period {hi}" if lo >= hi else f"periods {lo}–{hi}"


@dataclass
class Deliveries:
    """Every positive delivery to an indexed line, one row each."""

    line: np.ndarray
    period: np.ndarray
    qty: np.ndarray
    loc: np.ndarray  # -1 for a dropship


def deliveries(ctx: ReportContext) -> Deliveries:
    """Shipments in their period; dropship lines in the order's period plus the agreement's lead."""
    ix = ctx.ix
    loc_of = {loc: k for k, loc in enumerate(ix.locations)}
    lines: list[int] = []
    periods: list[int] = []
    qtys: list[int] = []
    locs: list[int] = []

    def add(order: str, line: int, period: int, qty: int, loc: int) -> None:
        if qty <= 0:
            return
        i = ctx.line_of.get((order, line))
        if i is None:
            raise ValueError(f"the plan delivers to {order} line {line}, which is not an order line in the plan")
        lines.append(i)
        periods.append(period)
        qtys.append(qty)
        locs.append(loc)

    for s in ctx.decisions.shipments:
        if s.location not in loc_of:
            raise ValueError(f"the plan ships from unknown location {s.location!r}")
        add(s.order, s.line, s.period, s.quantity, loc_of[s.location])
    for k, po in enumerate(ctx.decisions.purchase_orders):
        if ix.ag_dropship[ctx.po_ag[k]]:
            for entry in po.lines or ():
                add(entry.order, entry.line, int(ctx.po_arrival[k]), entry.quantity, -1)
    return Deliveries(*(np.array(c, dtype=np.int64) for c in (lines, periods, qtys, locs)))


def line_deliveries(ix: ProblemIndex, dl: Deliveries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line: units delivered, units delivered by the due period, last delivery period (-1: none)."""
    n = ix.n_lines
    delivered = np.zeros(n, dtype=np.int64)
    np.add.at(delivered, dl.line, dl.qty)
    by_due = np.zeros(n, dtype=np.int64)
    early = dl.period <= ix.line_due[dl.line]
    np.add.at(by_due, dl.line[early], dl.qty[early])
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, dl.line, dl.period)
    return delivered, by_due, last


def line_lateness_cost(ix: ProblemIndex, dl: Deliveries) -> np.ndarray:
    """Per line: what its lateness costs in the plan (spec §The cost of a plan), the money at stake on it.

    Backorder cost per open unit and period from the due period ``d`` to the last ``ℓ``,
    then the lost sale of what is still open after ``ℓ``. A unit delivered in period
    ``t ≤ ℓ`` is open in ``max(t, d) - d`` of those periods instead of all ``ℓ - d + 1``.
    Summed over the lines this is the plan's ``backorder`` cost and its ``lost_sales``
    cost without the forecast's.
    """
    due, last = ix.line_due, ix.line_last
    periods = np.maximum(0, last - due + 1)
    in_time = dl.period <= last[dl.line]
    line, t, qty = dl.line[in_time], dl.period[in_time], dl.qty[in_time]
    spared = np.zeros(ix.n_lines)  # unit-periods no longer open thanks to the deliveries
    np.add.at(spared, line, qty * np.maximum(0, last[line] - np.maximum(t, due[line]) + 1))
    got = np.zeros(ix.n_lines, dtype=np.int64)
    np.add.at(got, line, qty)
    open_periods = periods * ix.line_qty - spared
    return ix.line_backorder * open_periods + ix.line_lost * np.maximum(0, ix.line_qty - got)
