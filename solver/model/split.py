"""Split-shipment control (extension): a fee per shipment and a minimum partial shipment.

For the fee, a *shipment* is an order, a warehouse and a period with a positive
quantity over the order's lines (one parcel); for the minimum, it is one line's
units from one warehouse in one period, and it *leaves the line short* when
everything delivered to the line up to and including that period (shipments and
dropships) is below its quantity. Dropships are the supplier's deliveries: they pay
no fee and have no minimum, but count towards completing a line. Lines of
ship-complete orders are always completed by their one delivery: the minimum never
binds them.

Neither family adds a column or a row to a problem that does not use it: the model
of such a problem is the spec's, exactly as before.

Columns (binary)

* ``shipment_fee``  ``g[o,l,t]``: order ``o`` ships from ``l`` in ``t``; costs the order's
  fee (per :meth:`stockplan.solver.indexing.ProblemIndex.shipment_fee`, so that a
  decomposition part pays nothing where another part already ships)
* ``line_shipped``  ``b[i,l,t]``: line ``i`` (with a minimum) ships from ``l`` in ``t``; a line
  that is its order's only line (in this index) with a fee uses ``g`` instead
* ``line_done``     ``c[i,t]``: line ``i`` (with a minimum) is delivered in full by the end of ``t``

Rows

* ``shipment_link``     ``x[i,l,t] - q_i p[i,l,t] ≤ 0``, ``p`` the line's ``b``, else its order's ``g``
* ``line_shipped_fee``  ``b[i,l,t] - g[o,l,t] ≤ 0``
* ``line_done_by``      ``q_i c[i,t] - Σ_{l, t' ≤ t} x[i,l,t'] - Σ_{a, p + L_a ≤ t} y[a,i,p] ≤ 0``
* ``partial_minimum``   ``x[i,l,t] - m_i b[i,l,t] + m_i c[i,t] ≥ 0`` with ``m_i = min(minimum, q_i)``:
  a shipment is at least ``m_i`` unless the line is whole by then (a shipment of at
  least ``q_i`` units completes the line anyway, so the smaller coefficient keeps the
  same plans)

With the binaries fixed, the flows stay a network with bounds (``line_done_by`` with
``c = 1`` only says that the line is whole by ``t``), so they keep integral vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockplan.solver.mip import INF, MipModel
from stockplan.solver.model.columns import expand
from stockplan.solver.model.context import BuildContext, Columns


@dataclass(frozen=True)
class SplitShipments:
    """Where the split-shipment columns are, to fill them in for a warm start (:func:`fill_split_shipments`)."""

    fee_cols: np.ndarray  # g columns
    fee_order: np.ndarray  # g column -> order (index into problem.orders)
    fee_loc: np.ndarray
    fee_t: np.ndarray
    fee_of_x: np.ndarray  # x column (position in the x block) -> its order's g column, or -1 (no fee)
    shipped_cols: np.ndarray  # b columns
    shipped_x: np.ndarray  # b column -> x column (position in the x block)
    done_cols: np.ndarray  # c columns
    done_line: np.ndarray
    done_t: np.ndarray
    done_rows: np.ndarray  # the line_done_by row of each c column
    done_qty: np.ndarray  # q_i of each c column


def minimum_lines(ctx: BuildContext) -> np.ndarray:
    """Per line, the minimum that binds its partial shipments (``min(minimum, q_i)``; 0 where none binds)."""
    ix = ctx.ix
    m = np.minimum(ix.line_min_partial, ix.line_qty)
    return np.where((m >= 2) & ~ix.line_complete, m, 0)


def add_split_shipments(ctx: BuildContext, c: Columns) -> SplitShipments | None:
    """Shipment fees and minimum partial shipments (see the module doc); None when the problem has neither.

    Parameters
    ----------
    ctx : BuildContext
        The build.
    c : Columns
        The columns.

    Returns
    -------
    SplitShipments or None
        The new columns, or None (nothing added) when no shipment has a fee and no line a minimum.
    """
    ix, asm, T, NL = ctx.ix, ctx.asm, ctx.ix.T, ctx.ix.n_locations
    x, y = c.shipments, c.dropships
    n_x = x.cols.shape[0]
    order = ix.line_order[x.line]
    fee = ix.shipment_fee(order, x.loc, x.t)
    charged = fee > 0
    minimum = minimum_lines(ctx)
    ruled = minimum[x.line] > 0
    if not charged.any() and not ruled.any():
        return None
    qty = ix.line_qty.astype(float)

    # g: one per (order, location, period) with a charged shipment column.
    key = (order * NL + x.loc) * T + x.t
    fee_keys, first, fee_pos = np.unique(key[charged], return_index=True, return_inverse=True)
    fee_cols = asm.add_columns("shipment_fee", fee[charged][first], 0.0, 1.0, integer=True)
    fee_of_x = np.full(n_x, -1, dtype=np.int64)
    fee_of_x[charged] = fee_cols[fee_pos.ravel()]

    # b: per shipment column of a line with a minimum, unless the order's g stands for it.
    lines_per_order = np.bincount(ix.line_order, minlength=len(ix.problem.orders))
    alias = ruled & charged & (lines_per_order[order] == 1)
    shipped_x = np.flatnonzero(ruled & ~alias)
    shipped_cols = asm.add_columns("line_shipped", np.zeros(shipped_x.shape[0]), 0.0, 1.0, integer=True)
    parcel = fee_of_x.copy()
    parcel[shipped_x] = shipped_cols

    # c: per line with a minimum and period of its window.
    done_lines = np.unique(x.line[ruled])
    g, done_t = expand(ix.line_first[done_lines], ix.line_last[done_lines] - ix.line_first[done_lines] + 1)
    done_line = done_lines[g]
    done_cols = asm.add_columns("line_done", np.zeros(done_t.shape[0]), 0.0, 1.0, integer=True)
    done_key = done_line * T + done_t  # ascending

    linked = np.flatnonzero(parcel >= 0)
    link = asm.add_rows("shipment_link", -INF, 0.0, linked.shape[0])
    asm.add_coefficients(link, x.cols[linked], 1.0)
    asm.add_coefficients(link, parcel[linked], -qty[x.line[linked]])

    to_fee = charged[shipped_x]
    both = asm.add_rows("line_shipped_fee", -INF, 0.0, int(to_fee.sum()))
    asm.add_coefficients(both, shipped_cols[to_fee], 1.0)
    asm.add_coefficients(both, fee_of_x[shipped_x[to_fee]], -1.0)

    done_rows = asm.add_rows("line_done_by", -INF, 0.0, done_cols.shape[0])
    asm.add_coefficients(done_rows, done_cols, qty[done_line])
    # Every delivery to such a line counts in the rows of its period and every later one of the window.
    in_done = np.isin(x.line, done_lines)
    y_in = np.isin(y.line, done_lines)
    d_col = np.concatenate([x.cols[in_done], y.cols[y_in]])
    d_line = np.concatenate([x.line[in_done], y.line[y_in]])
    d_t = np.concatenate([x.t[in_done], y.t[y_in]])
    k, later = expand(d_t, ix.line_last[d_line] - d_t + 1)
    asm.add_coefficients(done_rows[np.searchsorted(done_key, d_line[k] * T + later)], d_col[k], -1.0)

    small = np.flatnonzero(ruled)
    m = minimum[x.line[small]].astype(float)
    least = asm.add_rows("partial_minimum", 0.0, INF, small.shape[0])
    asm.add_coefficients(least, x.cols[small], 1.0)
    asm.add_coefficients(least, parcel[small], -m)
    asm.add_coefficients(least, done_cols[np.searchsorted(done_key, x.line[small] * T + x.t[small])], m)

    return SplitShipments(
        fee_cols=fee_cols, fee_order=fee_keys // (NL * T), fee_loc=(fee_keys // T) % NL, fee_t=fee_keys % T,
        fee_of_x=fee_of_x, shipped_cols=shipped_cols, shipped_x=shipped_x,
        done_cols=done_cols, done_line=done_line, done_t=done_t, done_rows=done_rows, done_qty=qty[done_line],
    )


def fill_split_shipments(model: MipModel, split: SplitShipments | None, x: np.ndarray) -> None:
    """Set the split-shipment columns of a warm start ``x`` from its deliveries, at their least (in place).

    ``g`` is 1 where the order ships, ``b`` where the line ships, ``c`` where the line
    is whole by then: the objective of ``x`` is then the plan's, fees included.
    """
    if split is None:
        return
    shipped = x[model.blocks["x"]] > 0.5
    x[split.fee_cols] = 0.0
    x[split.fee_of_x[shipped & (split.fee_of_x >= 0)]] = 1.0
    x[split.shipped_cols] = shipped[split.shipped_x].astype(float)
    x[split.done_cols] = 0.0
    delivered = -(model.matrix[split.done_rows] @ x)
    x[split.done_cols] = (delivered >= split.done_qty - 0.5).astype(float)
