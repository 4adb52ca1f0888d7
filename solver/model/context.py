"""What the rule families of a build share: the build context and the column blocks.

:class:`BuildContext` holds the problem's arrays, the assembler and the sets derived
once per build (where stock can exist, the purchase slots and price segments);
:class:`Columns` holds, per column block, the global column indices and the entity
(line, location, period, …) each column stands for. Every family in
:mod:`.columns` and :mod:`.rows` takes these two and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import ModelAssembler
from stockplan.solver.model.segments import PriceSegments, price_segments


@dataclass(frozen=True)
class StockPairs:
    """The (sku, location) pairs where stock can ever exist.

    A pair has stock only with something on hand, an inbound purchase order or a
    stocking agreement that can deliver within the horizon; elsewhere nothing can be
    shipped or filled, and the safety stock is short in every period.
    """

    inflow: np.ndarray  # bool per pair: stock can exist
    active: np.ndarray  # pairs that have I columns, ascending
    slot: np.ndarray  # pair -> position in ``active``, or -1


def stock_pairs(ix: ProblemIndex) -> StockPairs:
    """The pairs where stock can ever exist (see :class:`StockPairs`)."""
    T, NL = ix.T, ix.n_locations
    inflow = (ix.on_hand > 0) | (ix.inbound.sum(axis=1) > 0)
    stock_ag = np.flatnonzero(~ix.ag_dropship & (ix.ag_lead <= T - 1))
    inflow[ix.ag_sku[stock_ag] * NL + ix.ag_loc[stock_ag]] = True
    active = np.flatnonzero(inflow)
    slot = np.full(ix.n_pairs, -1, dtype=np.int64)
    slot[active] = np.arange(active.shape[0])
    return StockPairs(inflow=inflow, active=active, slot=slot)


@dataclass
class BuildContext:
    """What every family of a build reads: the problem's arrays, the assembler and the derived sets.

    Attributes
    ----------
    ix : ProblemIndex
        The problem as arrays.
    asm : ModelAssembler
        Collects the columns and rows; every family appends its blocks in turn.
    all_integer : bool
        Declare the flows integer too (CP-SAT takes no continuous columns).
    pairs : StockPairs
        Where stock can exist.
    seg : PriceSegments
        The purchase slots and their price segments.
    """

    ix: ProblemIndex
    asm: ModelAssembler
    all_integer: bool
    pairs: StockPairs
    seg: PriceSegments

    @classmethod
    def start(cls, ix: ProblemIndex, all_integer: bool = False, tight_segments: bool = False) -> BuildContext:
        """A fresh build of ``ix``: an empty assembler, the stock pairs and the price segments."""
        return cls(ix=ix, asm=ModelAssembler(), all_integer=all_integer, pairs=stock_pairs(ix),
                   seg=price_segments(ix, tight=tight_segments))


@dataclass(frozen=True)
class Shipments:
    """``x``: units shipped to ``line`` from warehouse ``loc`` in period ``t``."""

    cols: np.ndarray
    line: np.ndarray
    loc: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Dropships:
    """``y``: units agreement ``ag`` delivers to ``line``, ordered in ``p``, arriving in ``t``."""

    cols: np.ndarray
    ag: np.ndarray
    line: np.ndarray
    p: np.ndarray
    t: np.ndarray  # p + lead time


@dataclass(frozen=True)
class ForecastFills:
    """``f``: forecast units of ``pair`` served in period ``t``."""

    cols: np.ndarray
    pair: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Stock:
    """``I``: stock of ``pair`` at the end of period ``t`` (every active pair, every period, pair-major)."""

    cols: np.ndarray
    pair: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Shortfall:
    """``s``: units of ``pair`` below its safety stock at the end of period ``t``."""

    cols: np.ndarray
    pair: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Purchases:
    """``n`` (packs per price segment) and ``w`` (segment chosen, where a binary is needed)."""

    n_cols: np.ndarray  # one per segment of ``BuildContext.seg``
    seg_ag: np.ndarray  # segment -> agreement
    stocked: np.ndarray  # segment mask: the agreement delivers into stock (not dropship)
    w_cols: np.ndarray
    w_seg: np.ndarray  # w column -> segment


@dataclass(frozen=True)
class SupplierOrders:
    """``u``: supplier ``sup`` is ordered from in period ``p`` (only where that has a fixed cost)."""

    cols: np.ndarray
    sup: np.ndarray
    p: np.ndarray
    slot_col: np.ndarray  # purchase slot -> its u column, or -1 (no fixed cost)


@dataclass(frozen=True)
class ShipCompleteChoices:
    """``v``: ship-complete ``order`` is delivered whole in period ``t``."""

    cols: np.ndarray
    order: np.ndarray
    t: np.ndarray
    lines: np.ndarray  # ship-complete lines with a non-empty window, ascending
    orders: np.ndarray  # their orders, ascending and unique


@dataclass(frozen=True)
class Columns:
    """Every column block of the model, with what each column stands for."""

    shipments: Shipments
    dropships: Dropships
    fills: ForecastFills
    stock: Stock
    shortfall: Shortfall
    purchases: Purchases
    supplier_orders: SupplierOrders
    ship_complete: ShipCompleteChoices
