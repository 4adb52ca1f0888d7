"""Purchase slots and their all-units price segments, read from the agreements.

A *slot* is one agreement and one period an order can be placed in; its *segments*
are the quantity ranges (in packs) of its price breaks, cut to what MOQ, capacity
and the useful quantity allow. The model has one ``n`` column per segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockplan.solver.indexing import ProblemIndex


@dataclass
class PriceSegments:
    """Purchase slots (agreement, period placed) and their price segments, grouped by slot."""

    slot_ag: np.ndarray
    slot_p: np.ndarray
    seg_slot: np.ndarray
    seg_lo: np.ndarray  # packs
    seg_hi: np.ndarray  # packs
    seg_price: np.ndarray  # per unit
    seg_needs_w: np.ndarray
    T: int

    def slot_lookup(self, ag: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Slot of each (agreement, period placed); every pair must have one (see :meth:`has_slot`)."""
        keys = self.slot_ag * self.T + self.slot_p
        return np.searchsorted(keys, ag * self.T + p)

    def has_slot(self, ag: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Whether agreement ``ag`` can be ordered from in period ``p`` (a mask)."""
        keys = self.slot_ag * self.T + self.slot_p
        if keys.size == 0:
            return np.zeros(ag.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(keys, ag * self.T + p), keys.size - 1)
        return keys[pos] == ag * self.T + p


def useful_quantity(ix: ProblemIndex, by_location: bool = False) -> np.ndarray:
    """Per agreement and arrival period, a quantity no optimal plan needs to exceed in one order.

    Units arriving in period ``t`` can only serve lines still open at ``t``, forecast
    from ``t`` on and the safety stock; beyond that, more units only add cost.
    With ``by_location``, only the lines allowed to ship from the agreement's
    warehouse count (the tight segment bounds, R1). Returns an ``(agreements, T)`` array.
    """
    T, S, NL = ix.T, len(ix.skus), ix.n_locations
    # open_after[k, t]: units of SKU k on lines whose last period is >= t
    by_last = np.zeros((S, T + 1))
    np.add.at(by_last, (ix.line_sku, ix.line_last), ix.line_qty)
    open_after = np.cumsum(by_last[:, ::-1], axis=1)[:, ::-1][:, :T]
    free = ~ix.line_complete
    by_last_free = np.zeros((S, T + 1))
    np.add.at(by_last_free, (ix.line_sku[free], ix.line_last[free]), ix.line_qty[free])
    open_after_free = np.cumsum(by_last_free[:, ::-1], axis=1)[:, ::-1][:, :T]
    fc_after = np.cumsum(ix.forecast[:, ::-1], axis=1)[:, ::-1]
    pair = ix.ag_sku * NL + np.maximum(ix.ag_loc, 0)
    if by_location:
        # open_at[pair, t]: units on lines allowed at the pair's warehouse whose last period is >= t
        line, loc = np.nonzero(ix.allowed)
        by_last_at = np.zeros((ix.n_pairs, T + 1))
        np.add.at(by_last_at, (ix.line_sku[line] * NL + loc, ix.line_last[line]), ix.line_qty[line])
        lines_after = np.cumsum(by_last_at[:, ::-1], axis=1)[:, ::-1][:, :T][pair]
    else:
        lines_after = open_after[ix.ag_sku]
    stock_need = lines_after + fc_after[pair] + ix.safety_stock[pair][:, None]
    return np.where(ix.ag_dropship[:, None], open_after_free[ix.ag_sku], stock_need).astype(np.int64)


def price_segments(ix: ProblemIndex, tight: bool = False) -> PriceSegments:
    """All-units price breaks as segments in packs; one slot per agreement and useful period.

    With ``tight`` (R1, tight segment bounds), a segment holds no more packs than what
    can still be used from its arrival on (:func:`useful_quantity` by location), or
    its own lower end where that is more: a pack above that level only adds stock
    nobody takes, and removing it keeps the segment, its price and the MOQ. The
    big-M of ``n ≤ hi·w`` shrinks accordingly, which is most of what lifts the LP.
    """
    T = ix.T
    useful = useful_quantity(ix, by_location=tight)
    slot_ag_l, slot_p_l = [], []
    seg_slot_l, lo_l, hi_l, price_l, needs_l = [], [], [], [], []
    n_slots = 0
    for a, ag in enumerate(ix.agreements):
        L = int(ix.ag_lead[a])
        if L > T - 1:
            continue
        pack, moq = int(ix.ag_pack[a]), int(ix.ag_moq[a])
        breaks = sorted((pb.min_qty, pb.unit_cost) for pb in ag.price_breaks or ())
        mins = [0] + [m for m, _ in breaks]
        prices = [ag.unit_cost] + [c for _, c in breaks]
        # Per period placed: enough to reach MOQ and the deepest break, never past capacity.
        need = useful[a, L:]
        top = np.maximum(need, max(moq, mins[-1]))
        top_packs = -(-top // pack)
        if ix.ag_cap[a] >= 0:
            top_packs = np.minimum(top_packs, int(ix.ag_cap[a]) // pack)
        top_packs[need <= 0] = 0  # nothing left to serve from that arrival on
        periods = np.flatnonzero(top_packs > 0)
        if periods.size == 0:
            continue
        segs = []
        for k in range(len(mins)):
            lo = -(-max(mins[k], moq, 1) // pack)
            hi = top_packs[periods] if k + 1 == len(mins) else np.minimum(
                top_packs[periods], (mins[k + 1] - 1) // pack)
            if tight:
                hi = np.minimum(hi, np.maximum(lo, -(-need[periods] // pack)))
            segs.append((lo, hi, prices[k]))
        feasible = [(lo, hi, c) for lo, hi, c in segs if np.any(hi >= lo)]
        if not feasible:
            continue
        needs_w = len(feasible) > 1 or feasible[0][0] > 1
        base = n_slots + np.arange(periods.shape[0])
        slot_ag_l.append(np.full(periods.shape[0], a))
        slot_p_l.append(periods)
        n_slots += periods.shape[0]
        for lo, hi, price in feasible:
            ok = hi >= lo
            seg_slot_l.append(base[ok])
            lo_l.append(np.full(int(ok.sum()), lo))
            hi_l.append(hi[ok])
            price_l.append(np.full(int(ok.sum()), price))
            needs_l.append(np.full(int(ok.sum()), needs_w))

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    seg_slot = cat(seg_slot_l, np.int64)
    order = np.argsort(seg_slot, kind="stable")  # segments grouped by slot
    return PriceSegments(
        slot_ag=cat(slot_ag_l, np.int64),
        slot_p=cat(slot_p_l, np.int64),
        seg_slot=seg_slot[order],
        seg_lo=cat(lo_l, np.int64)[order],
        seg_hi=cat(hi_l, np.int64)[order],
        seg_price=cat(price_l, np.float64)[order],
        seg_needs_w=cat(needs_l, bool)[order],
        T=T,
    )
