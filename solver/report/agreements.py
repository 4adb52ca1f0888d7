"""The agreements reasons compare against: the primary of choice per SKU and location, spare capacity."""

from __future__ import annotations

import numpy as np

from stockplan.models.problem import Role
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.report.context import ReportContext


def primary_rank(ix: ProblemIndex, a: int) -> tuple[float, int, str]:
    """Primary of choice: lowest unit cost, then shorter lead, then id (spec §Safety stock)."""
    ag = ix.agreements[a]
    return ag.unit_cost, int(ix.ag_lead[a]), ag.id


def primary_agreements(ix: ProblemIndex) -> dict[tuple[int, int], int]:
    """The primary agreement per (sku, location) index."""
    best: dict[tuple[int, int], int] = {}
    for a, ag in enumerate(ix.agreements):
        if ag.role == Role.PRIMARY and ix.ag_loc[a] >= 0:
            key = (int(ix.ag_sku[a]), int(ix.ag_loc[a]))
            if key not in best or primary_rank(ix, a) < primary_rank(ix, best[key]):
                best[key] = a
    return best


def spare_capacity(ctx: ReportContext, a: int, lo: int, hi: int) -> int | None:
    """Whole packs agreement ``a`` could still order in periods lo..hi (None: unlimited)."""
    cap, pack = int(ctx.ix.ag_cap[a]), int(ctx.ix.ag_pack[a])
    if cap < 0:
        return None
    room = np.maximum(cap - ctx.used[a, max(lo, 0):hi + 1], 0)
    return int((room - room % pack).sum())
