"""The planner's view of a plan: line and order status, reasons, projected stock, notices.

:func:`plan_report` turns a feasible plan's numbers into what a planner and an
order-management system need (spec §Outputs). It is a pure function of the problem
and the decisions; it reads the problem through :class:`ProblemIndex` and never
builds the MIP. The rules it applies, each in the function named after it:

- **Deliveries** are shipments (in their period) and dropship purchase-order lines
  (in the order's period plus the agreement's lead periods).
- **Line status** (:func:`line_status`): ``on_time`` when every unit is delivered by
  the due period ``d``; ``backordered`` when every unit is delivered, the last after
  ``d`` (its promised date is the date of that last delivery's period);
  ``partially_lost`` when some, not all, units are delivered by the last period
  ``ℓ``; ``lost`` when nothing is. Orders due beyond the horizon are outside the
  plan: they get no line or order status and are only listed by id in
  ``PlanReport.orders_outside_horizon``.
- **Order status**: the worst of its lines. A ship-complete order is delivered whole
  or not at all, so its lines share one status.
- **Net position** (:func:`net_position`): end stock minus the open backorders at the
  location: the units of lines due by ``t`` and still undelivered at ``t``, counted
  up to the line's last period ``ℓ`` (after ``ℓ`` the units are lost, no longer
  owed). A line's open units are attributed to the location it was last shipped
  from, else to the first location it may ship from in ``locations[]`` order (its
  only one when it has one); a line allowed nowhere is attributed nowhere.
- **Purchase-order tracing** (:func:`fifo_trace`): per SKU and location, units that
  arrive earlier leave earlier. On hand comes first, then per period the inbound
  units, then the plan's purchase orders in plan order; in a period, shipments go
  before forecast fills, earlier due dates first. What is still in stock at the end
  of the horizon is counted as safety stock up to the safety stock level (oldest
  units first), the rest as left in stock.
- **Reasons** (:func:`backorder_reasons`, :func:`purchase_reason`): the first rule
  that applies, in the order the :class:`BackorderReason` and :class:`PurchaseReason`
  enums list them.
- **Customer notices** (:func:`customer_notice`): one per order that has a line not
  on time or whose new promised date lies after its previous promise; the most
  severe kind applies: ``will_miss_latest`` > ``delayed`` > ``backordered``.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.models.problem import Agreement, Policy, Problem, Role
from stockplan.models.report import (
    STATUS_SEVERITY,
    BackorderReason,
    CustomerNotice,
    Kpis,
    LineReport,
    LineStatus,
    NoticeKind,
    NoticeLine,
    OrderReport,
    PlanReport,
    PurchaseOrderReport,
    PurchaseReason,
    RefundLine,
    RefundOffer,
    ReorderPoint,
    ServedLine,
    SkuSmoothing,
    StockProjection,
)
from stockplan.solver.indexing import ProblemIndex, build_index, effective_safety_stock

# Status codes: positions in STATUS_SEVERITY, so a larger code is worse.
ON_TIME, BACKORDERED, PARTIALLY_LOST, LOST = range(4)
BIG = np.int64(1) << 50  # "none" for minima over periods, priorities and lead times
# Lines per block when a (lines, locations, periods) array is built.
BLOCK = 4096


@dataclass
class _Context:
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

    def where(self, allowed: np.ndarray) -> str:
        """Warehouses of an allowed-row in words."""
        if allowed.all() and allowed.size > 1:
            return "any warehouse"
        return " or ".join(self.ix.locations[k] for k in np.flatnonzero(allowed)) or "no warehouse"


def _context(problem: Problem, decisions: Decisions, ix: ProblemIndex) -> _Context:
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
    return _Context(
        problem=problem, decisions=decisions, ix=ix, ag_of=ag_of, line_of=line_of, po_ag=po_ag, po_period=po_period,
        po_qty=po_qty, po_arrival=po_period + ix.ag_lead[po_ag], used=used,
        dates=[problem.horizon.date_of(t) for t in range(ix.T)],
    )


# ---------------------------------------------------------------------------------------------- deliveries


@dataclass
class _Deliveries:
    """Every positive delivery to an indexed line, one row each."""

    line: np.ndarray
    period: np.ndarray
    qty: np.ndarray
    loc: np.ndarray  # -1 for a dropship


def deliveries(ctx: _Context) -> _Deliveries:
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
    return _Deliveries(*(np.array(c, dtype=np.int64) for c in (lines, periods, qtys, locs)))


def line_deliveries(ix: ProblemIndex, dl: _Deliveries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def line_status(quantity: np.ndarray, delivered: np.ndarray, delivered_by_due: np.ndarray) -> np.ndarray:
    """Status code per line (index into STATUS_SEVERITY): on time, backordered, partially lost, lost."""
    return np.where(
        delivered_by_due >= quantity, ON_TIME,
        np.where(delivered >= quantity, BACKORDERED, np.where(delivered > 0, PARTIALLY_LOST, LOST)),
    )


def attributed_location(ix: ProblemIndex, dl: _Deliveries) -> np.ndarray:
    """Location a line's open units count against: last shipped from, else its first allowed; -1 if none."""
    loc = np.where(ix.allowed.any(axis=1), np.argmax(ix.allowed, axis=1), -1).astype(np.int64)
    shipped = dl.loc >= 0
    rows = np.flatnonzero(shipped)
    # Sorted by line then period, the last row of each line is its latest shipment.
    rows = rows[np.lexsort((rows, dl.period[rows], dl.line[rows]))]
    if rows.size:
        last_of_line = np.r_[dl.line[rows][1:] != dl.line[rows][:-1], True]
        loc[dl.line[rows[last_of_line]]] = dl.loc[rows[last_of_line]]
    return loc


# ---------------------------------------------------------------------------------------------- stock


@dataclass
class _Stock:
    """Per pair (sku * NL + location) and period."""

    start: np.ndarray
    inbound: np.ndarray
    arrivals: np.ndarray
    shipped: np.ndarray
    filled: np.ndarray
    end: np.ndarray
    fill_pair: np.ndarray  # per forecast fill
    fill_period: np.ndarray
    fill_qty: np.ndarray

    @property
    def gross(self) -> np.ndarray:
        """Units physically at hand in a period before anything leaves: ``start + inbound + arrivals``."""
        return self.start + self.inbound + self.arrivals


def projected_stock(ctx: _Context, dl: _Deliveries) -> _Stock:
    """``I(t) = I(t-1) + inbound(t) + arrivals(t) - shipped(t) - filled(t)``, ``I(-1) = on_hand``."""
    ix = ctx.ix
    P, T, NL = ix.n_pairs, ix.T, ix.n_locations
    arrivals = np.zeros((P, T), dtype=np.int64)
    into_stock = ~ix.ag_dropship[ctx.po_ag] & (ctx.po_arrival < T)
    a = ctx.po_ag[into_stock]
    np.add.at(arrivals, (ix.ag_sku[a] * NL + ix.ag_loc[a], ctx.po_arrival[into_stock]), ctx.po_qty[into_stock])
    shipped = np.zeros((P, T), dtype=np.int64)
    s = dl.loc >= 0
    np.add.at(shipped, (ix.line_sku[dl.line[s]] * NL + dl.loc[s], dl.period[s]), dl.qty[s])
    sku_of = {k: i for i, k in enumerate(ix.skus)}
    loc_of = {k: i for i, k in enumerate(ix.locations)}
    fills = ctx.decisions.forecast_fills
    try:
        fill_pair = np.array([sku_of[f.sku] * NL + loc_of[f.location] for f in fills], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"a forecast fill names unknown SKU or location {exc.args[0]!r}") from None
    fill_period = np.array([f.period for f in fills], dtype=np.int64)
    fill_qty = np.array([f.quantity for f in fills], dtype=np.int64)
    filled = np.zeros((P, T), dtype=np.int64)
    np.add.at(filled, (fill_pair, fill_period), fill_qty)
    end = ix.on_hand[:, None] + np.cumsum(ix.inbound + arrivals - shipped - filled, axis=1)
    start = np.concatenate([ix.on_hand[:, None], end[:, :-1]], axis=1)
    return _Stock(start=start, inbound=ix.inbound, arrivals=arrivals, shipped=shipped, filled=filled, end=end,
                  fill_pair=fill_pair, fill_period=fill_period, fill_qty=fill_qty)


def open_backorders(ix: ProblemIndex, dl: _Deliveries, delivered: np.ndarray, by_due: np.ndarray,
                    loc: np.ndarray) -> np.ndarray:
    """(pairs, T): units of lines due by t, undelivered at t and t <= ℓ, at their attributed location.

    A difference array per pair: the open units start at ``d``, drop with every later
    delivery, and what is left stops counting after ``ℓ``.
    """
    P, T, NL = ix.n_pairs, ix.T, ix.n_locations
    diff = np.zeros((P, T + 1), dtype=np.int64)
    has = loc >= 0
    pair = ix.line_sku * NL + np.maximum(loc, 0)
    idx = np.flatnonzero(has)
    np.add.at(diff, (pair[idx], ix.line_due[idx]), ix.line_qty[idx] - by_due[idx])
    np.add.at(diff, (pair[idx], ix.line_last[idx] + 1), -(ix.line_qty[idx] - delivered[idx]))
    late = has[dl.line] & (dl.period > ix.line_due[dl.line])
    np.add.at(diff, (pair[dl.line[late]], np.minimum(dl.period[late], T)), -dl.qty[late])
    out: np.ndarray = np.cumsum(diff[:, :T], axis=1)
    return out


def net_position(end: np.ndarray, open_units: np.ndarray) -> np.ndarray:
    """End stock less the open backorders it owes."""
    return end - open_units


# ---------------------------------------------------------------------------------------------- FIFO


def fifo_trace(in_group: np.ndarray, in_qty: np.ndarray, out_group: np.ndarray,
               out_qty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match outflows to inflows first in, first out within each group.

    Both sides are sorted by group, then in FIFO order, with positive quantities.
    Each group's units are laid on one axis (inflows and outflows each from the
    group's base); the overlaps of the two sets of intervals are the matches.
    Returns ``(inflow, outflow, units)`` per matched piece; ``outflow = -1`` for
    inflow units that never leave (an outflow with no inflow left is dropped).
    """
    n_groups = int(max(in_group.max(initial=-1), out_group.max(initial=-1))) + 1
    in_total = np.bincount(in_group, in_qty, n_groups).astype(np.int64)
    out_total = np.bincount(out_group, out_qty, n_groups).astype(np.int64)
    base = np.concatenate([[0], np.cumsum(np.maximum(in_total, out_total))[:-1]]).astype(np.int64)

    def intervals(group: np.ndarray, qty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        end = np.cumsum(qty)
        first = np.searchsorted(group, group, side="left")  # first row of each row's group
        end = base[group] + end - (end[first] - qty[first])
        return end - qty, end

    in_start, in_end = intervals(in_group, in_qty)
    out_start, out_end = intervals(out_group, out_qty)
    cuts = np.unique(np.concatenate([in_start, in_end, out_start, out_end]))
    seg, length = cuts[:-1], np.diff(cuts)
    i = np.searchsorted(in_end, seg, side="right")
    o = np.searchsorted(out_end, seg, side="right")
    in_ok = (i < in_end.size) & (in_start[np.minimum(i, in_end.size - 1)] <= seg) if in_end.size else seg < 0
    out_ok = (o < out_end.size) & (out_start[np.minimum(o, out_end.size - 1)] <= seg) if out_end.size else seg < 0
    keep = in_ok & (length > 0)
    return i[keep], np.where(out_ok[keep], o[keep], -1), length[keep]


@dataclass
class _PoFlows:
    served: dict[int, dict[tuple[int, int], int]]  # po -> (line, delivery period) -> units
    to_forecast: np.ndarray
    first_fill: np.ndarray  # earliest period its units serve forecast demand; -1 when they serve none
    to_safety: np.ndarray
    left: np.ndarray


def purchase_order_flows(ctx: _Context, dl: _Deliveries, stock: _Stock) -> _PoFlows:
    """Where the units of each purchase order go: lines, forecast, safety stock, left in stock."""
    ix = ctx.ix
    T, NL = ix.T, ix.n_locations
    n_po = len(ctx.po_ag)
    served: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    # Inflows: (pair, period, kind, ref, qty); kind 0 on hand, 1 inbound, 2 a purchase order.
    oh = np.flatnonzero(ix.on_hand > 0)
    ib_pair, ib_t = np.nonzero(ix.inbound)
    po = np.flatnonzero(~ix.ag_dropship[ctx.po_ag] & (ctx.po_arrival < T) & (ctx.po_qty > 0))
    a = ctx.po_ag[po]
    in_pair = np.concatenate([oh, ib_pair, ix.ag_sku[a] * NL + ix.ag_loc[a]])
    in_t = np.concatenate([np.full(oh.size, -1), ib_t, ctx.po_arrival[po]])
    in_kind = np.concatenate([np.zeros(oh.size), np.ones(ib_pair.size), np.full(po.size, 2)]).astype(np.int64)
    in_ref = np.concatenate([np.full(oh.size + ib_pair.size, -1), po]).astype(np.int64)
    in_qty = np.concatenate([ix.on_hand[oh], ix.inbound[ib_pair, ib_t], ctx.po_qty[po]]).astype(np.int64)
    order = np.lexsort((in_ref, in_kind, in_t, in_pair))
    # Outflows: shipments (earlier due first), forecast fills, then the safety stock kept at the end.
    s = np.flatnonzero(dl.loc >= 0)
    keep = np.minimum(ix.safety_stock, np.maximum(stock.end[:, -1], 0))
    ss = np.flatnonzero(keep > 0)
    f = np.flatnonzero(stock.fill_qty > 0)
    out_pair = np.concatenate([ix.line_sku[dl.line[s]] * NL + dl.loc[s], stock.fill_pair[f], ss])
    out_t = np.concatenate([dl.period[s], stock.fill_period[f], np.full(ss.size, T)])
    out_kind = np.concatenate([np.zeros(s.size), np.ones(f.size), np.full(ss.size, 2)]).astype(np.int64)
    out_due = np.concatenate([ix.line_due[dl.line[s]], np.zeros(f.size + ss.size, dtype=np.int64)])
    out_ref = np.concatenate([s, f, ss]).astype(np.int64)
    out_qty = np.concatenate([dl.qty[s], stock.fill_qty[f], keep[ss]]).astype(np.int64)
    out_order = np.lexsort((out_ref, out_due, out_kind, out_t, out_pair))

    i, o, units = fifo_trace(in_pair[order], in_qty[order], out_pair[out_order], out_qty[out_order])
    from_po = in_kind[order][i] == 2
    i, o, units = in_ref[order][i[from_po]], o[from_po], units[from_po]
    kind = np.where(o >= 0, out_kind[out_order][np.maximum(o, 0)], -1)
    ref = out_ref[out_order][np.maximum(o, 0)]
    to_forecast = np.bincount(i[kind == 1], units[kind == 1], n_po).astype(np.int64)
    to_safety = np.bincount(i[kind == 2], units[kind == 2], n_po).astype(np.int64)
    left = np.bincount(i[kind == -1], units[kind == -1], n_po).astype(np.int64)
    first_fill = np.full(n_po, BIG, dtype=np.int64)
    np.minimum.at(first_fill, i[kind == 1], stock.fill_period[ref[kind == 1]])
    first_fill[first_fill == BIG] = -1
    for k, row, u in zip(i[kind == 0].tolist(), ref[kind == 0].tolist(), units[kind == 0].tolist(), strict=True):
        served[k][int(dl.line[row]), int(dl.period[row])] += u
    for k, p in enumerate(ctx.decisions.purchase_orders):
        if ix.ag_dropship[ctx.po_ag[k]]:
            for entry in p.lines or ():
                if entry.quantity > 0:
                    served[k][ctx.line_of[entry.order, entry.line], int(ctx.po_arrival[k])] += entry.quantity
    return _PoFlows(served=served, to_forecast=to_forecast, first_fill=first_fill, to_safety=to_safety,
                    left=left)


# ---------------------------------------------------------------------------------------------- reasons


def _rank(ix: ProblemIndex, a: int) -> tuple[float, int, str]:
    """Primary of choice: lowest unit cost, then shorter lead, then id (spec §Safety stock)."""
    ag = ix.agreements[a]
    return ag.unit_cost, int(ix.ag_lead[a]), ag.id


def primary_agreements(ix: ProblemIndex) -> dict[tuple[int, int], int]:
    """The primary agreement per (sku, location) index."""
    best: dict[tuple[int, int], int] = {}
    for a, ag in enumerate(ix.agreements):
        if ag.role == Role.PRIMARY and ix.ag_loc[a] >= 0:
            key = (int(ix.ag_sku[a]), int(ix.ag_loc[a]))
            if key not in best or _rank(ix, a) < _rank(ix, best[key]):
                best[key] = a
    return best


def spare_capacity(ctx: _Context, a: int, lo: int, hi: int) -> int | None:
    """Whole packs agreement ``a`` could still order in periods lo..hi (None: unlimited)."""
    cap, pack = int(ctx.ix.ag_cap[a]), int(ctx.ix.ag_pack[a])
    if cap < 0:
        return None
    room = np.maximum(cap - ctx.used[a, max(lo, 0):hi + 1], 0)
    return int((room - room % pack).sum())


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _periods(lo: int, hi: int) -> str:
    return f"period {hi}" if lo >= hi else f"periods {lo}–{hi}"


def purchase_reason(ctx: _Context, k: int, need_due: int | None, need_fill: int | None, locs: np.ndarray,
                    primaries: dict[tuple[int, int], int]) -> tuple[PurchaseReason, str]:
    """Why purchase order ``k`` uses its agreement rather than the primary, the first rule that applies.

    ``need_due``: the earliest due period of the lines it serves; ``need_fill``: the
    earliest period its units serve forecast demand (None: they serve none);
    ``locs``: the locations whose primary it stands in for.
    """
    ix = ctx.ix
    a = int(ctx.po_ag[k])
    ag: Agreement = ix.agreements[a]
    sku = int(ix.ag_sku[a])
    if ag.role == Role.PRIMARY:
        return PurchaseReason.PRIMARY, f"{ag.id} is the primary agreement for {ag.sku} at {ag.location}"
    candidates = [primaries[sku, loc] for loc in locs.tolist() if (sku, loc) in primaries]
    if not candidates:
        mask = np.zeros(ix.n_locations, dtype=bool)
        mask[locs] = True
        return PurchaseReason.NO_PRIMARY, f"no primary agreement for {ag.sku} at {ctx.where(mask)}"
    p = min(candidates, key=lambda c: _rank(ix, c))
    primary: Agreement = ix.agreements[p]
    lead = int(ix.ag_lead[p])
    arrival = int(ctx.po_arrival[k])
    # The units are needed by the earliest period they serve, or by when they land if that is later.
    needs = [n for n in (need_due, need_fill) if n is not None]
    need = min(needs) if needs else None
    target = arrival if need is None else max(need, arrival)
    if lead > target:
        if need is None or need < arrival:
            after = f"after period {arrival}, when {ag.id} delivers"
        elif need == need_due:
            after = f"after the due period {need}"
        else:
            after = f"after period {need}, when forecast demand takes them"
        return (PurchaseReason.PRIMARY_TOO_SLOW, f"primary {primary.id} (lead {_n(lead, 'period')}) "
                f"would arrive in period {lead} at the earliest, {after}")
    qty = int(ctx.used[a, ctx.po_period[k]])
    spare = spare_capacity(ctx, p, 0, target - lead)
    if spare is not None and spare < int(ctx.po_qty[k]):
        when = _periods(0, target - lead)
        if spare == 0:
            return (PurchaseReason.PRIMARY_CAPACITY,
                    f"primary {primary.id} capacity ({primary.capacity_per_period} per period) is used up in {when}")
        return (PurchaseReason.PRIMARY_CAPACITY,
                f"primary {primary.id} has only {spare} units of capacity left in {when}")
    price, primary_price = ag.price_at(qty), primary.price_at(qty)
    if price < primary_price - 1e-9:
        breaks = [b.min_qty for b in ag.price_breaks or () if b.min_qty <= qty]
        brk = f" (price break from {max(breaks)})" if breaks and price < ag.unit_cost else ""
        return (PurchaseReason.CHEAPER_AT_QUANTITY,
                f"{ag.id} costs {price:g} per unit at {qty} units{brk}, primary {primary.id} {primary_price:g}")
    if qty < primary.moq or qty % primary.pack_size:
        terms = [f"in packs of {primary.pack_size}"] if qty % primary.pack_size else []
        terms += [f"at least {primary.moq} units at a time"] if qty < primary.moq else []
        return (PurchaseReason.PRIMARY_MOQ_PACK,
                f"primary {primary.id} sells only {' and '.join(terms)}; {qty} units are ordered")
    if ag.role == Role.DROPSHIP:
        return PurchaseReason.DROPSHIP_NO_STOCK, "dropship delivers straight to the customer, holding no stock"
    return (PurchaseReason.LOWER_TOTAL_COST,
            f"cheaper overall than primary {primary.id} in this plan (fixed order cost, holding, shipping)")


def _window_min(values: np.ndarray, pairs: np.ndarray, allowed: np.ndarray, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """Per row: min of ``values[pair, t]`` over its allowed pairs and periods lo..hi (BIG when empty)."""
    out = np.full(pairs.shape[0], BIG, dtype=np.int64)
    t = np.arange(values.shape[1])
    for s in range(0, pairs.shape[0], BLOCK):
        b = slice(s, s + BLOCK)
        mask = allowed[b][:, :, None] & ((t >= lo[b, None]) & (t <= hi[b, None]))[:, None, :]
        out[b] = np.where(mask, values[pairs[b]], BIG).min(axis=(1, 2), initial=BIG)
    return out


def backorder_reasons(ctx: _Context, stock: _Stock, status: np.ndarray, by_due: np.ndarray, last: np.ndarray,
                      dl: _Deliveries) -> dict[int, tuple[BackorderReason, str]]:
    """Reason per line not on time, the first that applies, in :class:`BackorderReason` order."""
    ix = ctx.ix
    P, T, NL = ix.n_pairs, ix.T, ix.n_locations
    cand = np.flatnonzero(status != ON_TIME)
    if cand.size == 0:
        return {}
    d, e, ell = ix.line_due[cand], ix.line_first[cand], ix.line_last[cand]
    sku, allowed = ix.line_sku[cand], ix.allowed[cand]
    pairs = sku[:, None] * NL + np.arange(NL)[None, :]
    # The wait: from d to just before the last delivery when all came, else to ℓ.
    w_end = np.where(status[cand] == BACKORDERED, last[cand] - 1, ell)

    gross = stock.gross
    cum = np.concatenate([np.zeros((P, 1), dtype=np.int64), np.cumsum(gross, axis=1)], axis=1)
    at_hand = ((cum[pairs, (w_end + 1)[:, None]] - cum[pairs, d[:, None]]) * allowed).sum(axis=1)
    no_stock = at_hand <= 0

    higher = np.zeros(cand.size, dtype=bool)
    if ctx.problem.settings.policy == Policy.PRIORITY:
        # Smallest priority number shipped per pair and period.
        top = np.full((P, T), BIG, dtype=np.int64)
        s = dl.loc >= 0
        np.minimum.at(top, (ix.line_sku[dl.line[s]] * NL + dl.loc[s], dl.period[s]), ix.line_priority[dl.line[s]])
        higher = _window_min(top, pairs, allowed, d, w_end) < ix.line_priority[cand]

    # Fastest agreement per pair (stock) and per SKU (dropship): placed in period 0 it lands in period `lead`.
    stock_lead = np.full(P, BIG, dtype=np.int64)
    stock_ag = np.full(P, -1, dtype=np.int64)
    drop_lead = np.full(len(ix.skus), BIG, dtype=np.int64)
    drop_ag = np.full(len(ix.skus), -1, dtype=np.int64)
    by_sku: dict[int, list[int]] = defaultdict(list)
    for a in range(len(ix.agreement_ids)):
        k, lead = int(ix.ag_sku[a]), int(ix.ag_lead[a])
        by_sku[k].append(a)
        if ix.ag_dropship[a]:
            if lead < drop_lead[k]:
                drop_lead[k], drop_ag[k] = lead, a
        elif lead < stock_lead[k * NL + ix.ag_loc[a]]:
            stock_lead[k * NL + ix.ag_loc[a]], stock_ag[k * NL + ix.ag_loc[a]] = lead, a
    lead_at = np.where(allowed, stock_lead[pairs], BIG)
    best_loc = np.argmin(lead_at, axis=1)
    fast_stock = lead_at[np.arange(cand.size), best_loc]
    fast_drop = np.where(ix.line_complete[cand], BIG, drop_lead[sku])
    fastest = np.minimum(fast_stock, fast_drop)
    fastest_ag = np.where(fast_stock <= fast_drop, stock_ag[pairs[np.arange(cand.size), best_loc]], drop_ag[sku])

    primaries = primary_agreements(ix)
    out: dict[int, tuple[BackorderReason, str]] = {}
    for r, i in enumerate(cand.tolist()):
        name = ix.skus[int(sku[r])]
        di, ei, li = int(d[r]), int(e[r]), int(ell[r])
        if ei > di:
            out[i] = (BackorderReason.EARLIEST_AFTER_DUE,
                      f"the customer takes delivery from period {ei}, after the due period {di}")
        elif no_stock[r]:
            until = (f"before period {int(last[i])}" if status[i] == BACKORDERED
                     else f"up to its last period {li}")
            out[i] = BackorderReason.NO_STOCK, f"no stock of {name} at {ctx.where(allowed[r])} {until}"
        elif (held := ship_complete_binding(ctx, gross, i)) is not None:
            out[i] = BackorderReason.SHIP_COMPLETE_HELD, f"ship-complete order held back by SKU {held}"
        elif higher[r]:
            out[i] = BackorderReason.HIGHER_PRIORITY, f"stock of {name} went to higher-priority orders"
        elif fastest[r] >= BIG:
            out[i] = BackorderReason.NO_AGREEMENT, f"no agreement supplies {name} to {ctx.where(allowed[r])}"
        elif fastest[r] > di:
            ag_id = ix.agreement_ids[int(fastest_ag[r])]
            after = f"after the latest period {li}" if fastest[r] > li else f"after the due period {di}"
            out[i] = (BackorderReason.LEAD_TIME,
                      f"the fastest agreement for {name} ({ag_id}) arrives in period {int(fastest[r])}, {after}")
        elif (full := capacity_binding(ctx, i, by_sku[int(sku[r])], primaries,
                                       int(ix.line_qty[i] - by_due[i]))) is not None:
            out[i] = BackorderReason.CAPACITY, full
        elif status[i] == BACKORDERED:
            out[i] = BackorderReason.COST_TRADEOFF, "delivering on time costs more than the backorder"
        else:
            what = "delivering it" if status[i] == LOST else "delivering in full"
            out[i] = BackorderReason.COST_TRADEOFF, f"{what} costs more than the lost sale"
    return out


def ship_complete_binding(ctx: _Context, gross: np.ndarray, i: int) -> str | None:
    """The SKU of another line that holds a ship-complete order back, or None.

    At the order's first deliverable period ``max(d, e)``, a SKU binds when the units at
    hand at the order's warehouses fall short of what the order needs of it.
    """
    ix = ctx.ix
    if not ix.line_complete[i]:
        return None
    t = int(max(ix.line_due[i], ix.line_first[i]))
    if t > ix.line_last[i]:
        return None
    o = ix.line_order[i]
    lo, hi = np.searchsorted(ix.line_order, [o, o + 1])  # the order's lines are contiguous
    need: dict[int, int] = defaultdict(int)
    for j in range(lo, hi):
        need[int(ix.line_sku[j])] += int(ix.line_qty[j])
    locs = np.flatnonzero(ix.allowed[i])
    for k, q in need.items():
        if k != ix.line_sku[i] and int(gross[k * ix.n_locations + locs, t].sum()) < q:
            return ix.skus[k]
    return None


def capacity_binding(ctx: _Context, i: int, agreements: list[int], primaries: dict[tuple[int, int], int],
                     short: int) -> str | None:
    """Reason text when every agreement that could land units by ``d`` lacks the capacity, else None."""
    ix = ctx.ix
    d, e = int(ix.line_due[i]), int(ix.line_first[i])
    usable = [a for a in agreements
              if int(ix.ag_lead[a]) <= d
              and ((ix.ag_dropship[a] and not ix.line_complete[i]) or
                   (not ix.ag_dropship[a] and ix.allowed[i, ix.ag_loc[a]]))]
    if not usable:
        return None
    spare = 0
    for a in usable:
        # A dropship must land within the line's window; stock may land earlier and wait.
        lo = max(0, e - int(ix.ag_lead[a])) if ix.ag_dropship[a] else 0
        room = spare_capacity(ctx, a, lo, d - int(ix.ag_lead[a]))
        if room is None:
            return None
        spare += room
    if spare >= short:
        return None
    named = [a for a in usable if primaries.get((int(ix.ag_sku[a]), int(ix.ag_loc[a]))) == a]
    a = named[0] if named else min(usable, key=lambda c: _rank(ix, c))
    role = "primary agreement" if named else "agreement"
    when = _periods(0, d - int(ix.ag_lead[a]))
    left = "is used up" if spare == 0 else f"leaves only {spare} units"
    return f"{role} {ix.agreement_ids[a]} capacity {left} in {when}"


# ---------------------------------------------------------------------------------------------- orders, notices


def customer_notice(ctx: _Context, o: int, lines: list[LineReport], order: OrderReport) -> CustomerNotice | None:
    """The one notice an order gets, of its most severe kind; None when nothing needs saying."""
    src = ctx.problem.orders[o]
    prev = order.previous_promise_period
    # Lines late against their due date or, when the order carries a promise, against that promise.
    late = [ln for ln in lines if ln.status != LineStatus.ON_TIME or (
        prev is not None and ln.last_delivery_period is not None and ln.last_delivery_period > prev)]
    broken = prev is not None and order.promised_period is not None and order.promised_period > prev
    if not late:
        return None
    qty = sum(ln.quantity for ln in lines)
    new = order.promised_date
    short = [ln for ln in lines if ln.delivered < ln.quantity]
    refund = None
    if short:
        kind = NoticeKind.WILL_MISS_LATEST
        units = sum(ln.quantity - ln.delivered for ln in short)
        refund = RefundOffer(units=units, lines=[RefundLine(line=ln.line, sku=ln.sku, units=ln.quantity - ln.delivered)
                                                 for ln in short])
        ell = lines[0].last_period
        latest = src.latest if src.latest is not None and ctx.problem.horizon.period_of(src.latest) <= ell \
            else ctx.date(ell + 1) - dt.timedelta(days=1)
        rest = f"; the other units arrive by {new.isoformat()}" if new is not None else ""
        message = (f"We cannot deliver {units} of the {qty} units of your order {src.id} by "
                   f"{latest.isoformat()} and offer you a refund for them{rest}.")
    elif broken:
        kind = NoticeKind.DELAYED
        assert new is not None and src.promised is not None
        message = (f"Your order {src.id} is delayed: we promised it for {src.promised.isoformat()} "
                   f"and now expect to deliver it by {new.isoformat()}.")
    else:
        kind = NoticeKind.BACKORDERED
        assert new is not None
        on_time = sum(ln.delivered_by_due for ln in lines)
        if src.promised is not None:
            message = f"Your order {src.id} will arrive by {new.isoformat()}, as we promised."
        elif on_time:
            message = (f"Part of your order {src.id} is on backorder: {on_time} of {qty} units arrive by "
                       f"{src.due.isoformat()} and the rest by {new.isoformat()}.")
        else:
            message = (f"Your order {src.id} is on backorder and will arrive by {new.isoformat()} "
                       f"instead of {src.due.isoformat()}.")
    return CustomerNotice(
        order=src.id, customer=src.customer, kind=kind, new_date=new, previous_promise=src.promised,
        lines=[NoticeLine(line=ln.line, sku=ln.sku, quantity=ln.quantity, delivered_by_due=ln.delivered_by_due,
                          short=ln.quantity - ln.delivered, new_date=ln.promised_date) for ln in late],
        refund_offer=refund, message=message,
    )


def order_smoothing(ctx: _Context) -> tuple[list[SkuSmoothing], float, float]:
    """Per SKU: variance over periods of units ordered and of demand, and their ratio (bullwhip)."""
    ix = ctx.ix
    n, T = len(ix.skus), ix.T
    ordered = np.zeros((n, T), dtype=np.int64)
    np.add.at(ordered, (ix.ag_sku[ctx.po_ag], ctx.po_period), ctx.po_qty)
    demand = ix.forecast.reshape(n, ix.n_locations, T).sum(axis=1)
    np.add.at(demand, (ix.line_sku, ix.line_due), ix.line_qty)
    order_var = ordered.var(axis=1)
    demand_var = demand.var(axis=1)
    rows = []
    for k in np.flatnonzero(ordered.any(axis=1) | demand.any(axis=1)).tolist():
        ratio = float(order_var[k] / demand_var[k]) if demand_var[k] > 0 else None
        rows.append(SkuSmoothing(sku=ix.skus[k], ordered_units=int(ordered[k].sum()),
                                 demand_units=int(demand[k].sum()), order_variance=float(order_var[k]),
                                 demand_variance=float(demand_var[k]), bullwhip_ratio=ratio))
    return rows, float(order_var.sum()), float(demand_var.sum())


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# ---------------------------------------------------------------------------------------------- report


def plan_report(problem: Problem, decisions: Decisions, ix: ProblemIndex | None = None) -> PlanReport:
    """The planner's view of a feasible plan (see the module docstring for the rules).

    ``ix`` may pass ``build_index(problem)`` when the caller has it already. Raises
    ``ValueError`` when the plan names an unknown agreement, location, SKU or line.
    """
    with _without_cycle_collection():
        return _plan_report(problem, decisions, ix if ix is not None else build_index(problem))


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while the report's objects are built.

    A report of 50,000 orders allocates some 300,000 small objects that hold no
    cycles; every collection would walk the whole problem again, which doubled the
    run time. Reference counting still frees everything; the collector's state is
    restored on the way out.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan_report(problem: Problem, decisions: Decisions, ix: ProblemIndex) -> PlanReport:
    ctx = _context(problem, decisions, ix)
    dl = deliveries(ctx)
    delivered, by_due, last = line_deliveries(ix, dl)
    status = line_status(ix.line_qty, delivered, by_due)
    loc = attributed_location(ix, dl)
    stock = projected_stock(ctx, dl)
    owed = open_backorders(ix, dl, delivered, by_due, loc)
    reasons = backorder_reasons(ctx, stock, status, by_due, last, dl)
    lines = line_reports(ctx, status, delivered, by_due, last, loc, reasons)
    orders, notices = order_reports(ctx, lines, status)
    in_plan = set(ix.line_order.tolist())
    outside = [o.id for k, o in enumerate(problem.orders) if k not in in_plan]
    return PlanReport(
        period_dates=ctx.dates, lines=lines, orders=orders, orders_outside_horizon=outside,
        kpis=plan_kpis(ctx, status, delivered, by_due, orders), stock=stock_projections(ctx, stock, owed),
        reorder_points=reorder_points(problem), purchase_orders=purchase_order_reports(ctx, dl, stock),
        notices=notices,
    )


def line_reports(ctx: _Context, status: np.ndarray, delivered: np.ndarray, by_due: np.ndarray, last: np.ndarray,
                 loc: np.ndarray, reasons: dict[int, tuple[BackorderReason, str]]) -> list[LineReport]:
    ix = ctx.ix
    orders = ctx.problem.orders
    out = []
    # Plain lists: indexing numpy arrays element by element is slow on 100,000 lines.
    cols = zip(ix.line_order.tolist(), ix.line_no.tolist(), ix.line_qty.tolist(), delivered.tolist(),
               by_due.tolist(), ix.line_due.tolist(), ix.line_last.tolist(), last.tolist(), loc.tolist(),
               status.tolist(), strict=True)
    for i, (o_i, j, qty, got, on_time, d, ell, li, at, st) in enumerate(cols):
        o = orders[o_i]
        code, text = reasons.get(i, (None, None))
        out.append(LineReport(
            order=o.id, line=j, sku=o.lines[j].sku, customer=o.customer, priority=o.priority, quantity=qty,
            delivered=got, delivered_by_due=on_time, due=o.due, due_period=d, last_period=ell,
            last_delivery_period=li if li >= 0 else None, promised_date=ctx.date(li) if li >= 0 else None,
            periods_late=max(0, li - d) if li >= 0 else None, location=ix.locations[at] if at >= 0 else None,
            status=STATUS_SEVERITY[st], reason=text, reason_code=code,
        ))
    return out


def order_reports(ctx: _Context, lines: list[LineReport],
                  status: np.ndarray) -> tuple[list[OrderReport], list[CustomerNotice]]:
    """Each order within the horizon (the worst of its lines, its latest promise) and its notice, if any."""
    ix = ctx.ix
    if not lines:
        return [], []
    # Lines of an order are contiguous in the index.
    order_idx, first = np.unique(ix.line_order, return_index=True)
    bounds = np.r_[first, ix.n_lines].tolist()
    worst = np.maximum.reduceat(status, first).tolist()
    last = np.array([-1 if ln.last_delivery_period is None else ln.last_delivery_period for ln in lines])
    promised_of = np.maximum.reduceat(last, first).tolist()
    qty = np.add.reduceat(ix.line_qty, first).tolist()
    got = np.add.reduceat(np.array([ln.delivered for ln in lines], dtype=np.int64), first).tolist()
    reports: list[OrderReport] = []
    notices: list[CustomerNotice] = []
    for r, o_i in enumerate(order_idx.tolist()):
        o = ctx.problem.orders[o_i]
        promised = promised_of[r] if promised_of[r] >= 0 else None
        prev = ctx.problem.horizon.period_of(o.promised) if o.promised is not None else None
        report = OrderReport(
            order=o.id, customer=o.customer, priority=o.priority, ship_complete=o.ship_complete,
            status=STATUS_SEVERITY[worst[r]], line_count=bounds[r + 1] - bounds[r], quantity=qty[r],
            delivered=got[r], due=o.due, due_period=lines[bounds[r]].due_period,
            promised_date=ctx.date(promised) if promised is not None else None, promised_period=promised,
            previous_promise=o.promised, previous_promise_period=prev,
            slip_periods=max(0, promised - prev) if promised is not None and prev is not None else None,
        )
        reports.append(report)
        if worst[r] != ON_TIME or prev is not None:
            notice = customer_notice(ctx, o_i, lines[bounds[r]:bounds[r + 1]], report)
            if notice is not None:
                notices.append(notice)
    return reports, notices


def plan_kpis(ctx: _Context, status: np.ndarray, delivered: np.ndarray, by_due: np.ndarray,
              orders: list[OrderReport]) -> Kpis:
    ix = ctx.ix
    units = int(ix.line_qty.sum())
    orders_on_time = sum(r.status == LineStatus.ON_TIME for r in orders)
    lines_on_time = int((status == ON_TIME).sum())
    smoothing, order_var, demand_var = order_smoothing(ctx)
    return Kpis(
        orders_total=len(orders), orders_on_time=orders_on_time,
        orders_on_time_share=_share(orders_on_time, len(orders)),
        lines_total=ix.n_lines, lines_on_time=lines_on_time, lines_on_time_share=_share(lines_on_time, ix.n_lines),
        lines_backordered=int((status == BACKORDERED).sum()),
        lines_partially_lost=int((status == PARTIALLY_LOST).sum()), lines_lost=int((status == LOST).sum()),
        units_ordered=units, units_delivered=int(delivered.sum()), units_delivered_by_due=int(by_due.sum()),
        units_lost=int((ix.line_qty - delivered).sum()),
        fill_rate=_share(int(delivered.sum()), units), on_time_fill_rate=_share(int(by_due.sum()), units),
        order_smoothing=smoothing, total_order_variance=order_var, total_demand_variance=demand_var,
        bullwhip_ratio=order_var / demand_var if demand_var > 0 else None,
    )


def stock_projections(ctx: _Context, stock: _Stock, owed: np.ndarray) -> list[StockProjection]:
    """One entry per SKU and location that has stock, safety stock, a flow, forecast or open backorders."""
    ix = ctx.ix
    NL = ix.n_locations
    _, reorder = effective_safety_stock(ctx.problem)
    net = net_position(stock.end, owed)
    active = (ix.on_hand > 0) | (ix.safety_stock > 0) | (
        stock.inbound | stock.arrivals | stock.shipped | stock.filled | ix.forecast | owed).any(axis=1)
    out = []
    for p in np.flatnonzero(active).tolist():
        sku, location = ix.skus[p // NL], ix.locations[p % NL]
        out.append(StockProjection(
            sku=sku, location=location, safety_stock=int(ix.safety_stock[p]),
            reorder_point=reorder.get((sku, location)), start=stock.start[p].tolist(),
            inbound=stock.inbound[p].tolist(), arrivals=stock.arrivals[p].tolist(),
            shipped=stock.shipped[p].tolist(), forecast=ix.forecast[p].tolist(),
            forecast_served=stock.filled[p].tolist(), end=stock.end[p].tolist(),
            below_safety=(stock.end[p] < ix.safety_stock[p]).tolist(), open_backorders=owed[p].tolist(),
            net_position=net[p].tolist(),
        ))
    return out


def reorder_points(problem: Problem) -> list[ReorderPoint]:
    """Safety stock and reorder point of every ``stock[]`` entry (spec §Safety stock and reorder points)."""
    safety, reorder = effective_safety_stock(problem)
    return [ReorderPoint(sku=sku, location=loc, safety_stock=ss, reorder_point=reorder.get((sku, loc)))
            for (sku, loc), ss in safety.items()]


def purchase_order_reports(ctx: _Context, dl: _Deliveries, stock: _Stock) -> list[PurchaseOrderReport]:
    """Every purchase order of the plan: what it costs, whom it serves, and why this agreement."""
    ix = ctx.ix
    orders = ix.problem.orders
    flows = purchase_order_flows(ctx, dl, stock)
    primaries = primary_agreements(ix)
    all_locs = np.arange(ix.n_locations)
    line_order, line_no, line_due = ix.line_order.tolist(), ix.line_no.tolist(), ix.line_due.tolist()
    po_ag, po_arrival = ctx.po_ag.tolist(), ctx.po_arrival.tolist()
    dropship = ix.ag_dropship.tolist()
    out = []
    for k, po in enumerate(ctx.decisions.purchase_orders):
        a, arrival = po_ag[k], po_arrival[k]
        ag: Agreement = ix.agreements[a]
        served = sorted(flows.served.get(k, {}).items(), key=lambda kv: (kv[0][1], kv[0][0]))
        serves = [ServedLine(order=orders[line_order[i]].id, line=line_no[i], quantity=u, period=t,
                             date=ctx.date(t), on_time=t <= line_due[i])
                  for (i, t), u in served]
        need_due = min((line_due[i] for (i, _), _ in served), default=None)
        if dropship[a]:
            rows = [i for (i, _), _ in served]
            locs = np.flatnonzero(ix.allowed[rows].any(axis=0)) if rows else all_locs
        else:
            locs = ix.ag_loc[a:a + 1]
        fill = int(flows.first_fill[k])
        code, text = purchase_reason(ctx, k, need_due, fill if fill >= 0 else None, locs, primaries)
        price = ag.price_at(int(ctx.used[a, po.period]))
        out.append(PurchaseOrderReport(
            index=k, agreement=ag.id, supplier=ag.supplier, role=ag.role.value, sku=ag.sku,
            location=None if dropship[a] else ag.location, period=po.period, placed_date=ctx.date(po.period),
            arrival_period=arrival, arrival_date=ctx.date(arrival), quantity=po.quantity, unit_price=price,
            cost=price * po.quantity, serves=serves, to_forecast=int(flows.to_forecast[k]),
            to_safety_stock=int(flows.to_safety[k]), left_in_stock=int(flows.left[k]),
            beyond_horizon=po.quantity if arrival >= ix.T and not dropship[a] else 0,
            reason=text, reason_code=code,
        ))
    return out
