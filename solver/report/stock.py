"""Projected stock per SKU, location and period, and the net position against open backorders.

- **Projected stock** (:func:`projected_stock`): ``I(t) = I(t-1) + inbound(t) +
  arrivals(t) - shipped(t) - filled(t)`` with ``I(-1) = on_hand`` (spec rule 1).
- **Net position** (:func:`net_position`): end stock minus the open backorders at the
  location: the units of lines due by ``t`` and still undelivered at ``t``, counted
  up to the line's last period ``ℓ`` (after ``ℓ`` the units are lost, no longer
  owed). A line's open units are attributed (:func:`attributed_location`) to the
  location it was last shipped from, else to the first location it may ship from in
  ``locations[]`` order (its only one when it has one); a line allowed nowhere is
  attributed nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockplan.models.report import StockProjection
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.report.context import Deliveries, ReportContext
from stockplan.solver.safety_stock import effective_safety_stock


@dataclass
class ProjectedStock:
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


def projected_stock(ctx: ReportContext, dl: Deliveries) -> ProjectedStock:
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
    return ProjectedStock(start=start, inbound=ix.inbound, arrivals=arrivals, shipped=shipped, filled=filled,
                          end=end, fill_pair=fill_pair, fill_period=fill_period, fill_qty=fill_qty)


def attributed_location(ix: ProblemIndex, dl: Deliveries) -> np.ndarray:
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


def open_backorders(ix: ProblemIndex, dl: Deliveries, delivered: np.ndarray, by_due: np.ndarray,
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


def stock_projections(ctx: ReportContext, stock: ProjectedStock, owed: np.ndarray) -> list[StockProjection]:
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
