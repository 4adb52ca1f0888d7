"""Safety stock and reorder point per ``stock[]`` entry, and what a planner should know about them.

Spec §Safety stock and reorder points, with one extension (``stock[].review_period_days``,
``R`` in periods like a lead time, 0 when absent):

- **Safety stock**: ``safety_stock`` when given; else, from the statistics,
  ``ceil(z × demand_std × sqrt(L + R))`` with ``z`` the standard normal quantile of
  ``service_level`` and ``L`` the lead time of the cheapest primary agreement for the
  SKU and location (ties: shorter lead time, then id; 0 without one); else 0.
- **Reorder point**: ``ceil(demand_per_period × (L + R)) + safety stock`` when the
  demand rate is known; the safety stock alone when it is given without a demand rate
  (the lead-time demand is then unknown, and the safety stock is still the level below
  which to order); none when there is no safety stock at all.
- **Notes** (:func:`safety_stock_notes`): a safety stock above 0 whose
  ``safety_stock_cost`` is 0 (the model then ignores it), and statistics for a
  SKU-location without a primary agreement (``L = 0`` although an alternate has a
  lead time). Validation and the plan's report list them; neither is an error.

The model (through :mod:`stockplan.solver.indexing`) and the report read these values;
the evaluator computes the safety stock on its own, and a test checks that both agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from stockplan.models.problem import Agreement, Problem, Role
from stockplan.models.report import SafetyStockBasis, SafetyStockNote, SafetyStockNoteCode

# z × std × sqrt(n) a hair above an integer through float noise still counts as that integer.
CEIL_TOLERANCE = 1e-9


def ceil_units(x: float) -> int:
    return max(0, math.ceil(x - CEIL_TOLERANCE))


@dataclass(frozen=True)
class SafetyStockLevel:
    """One ``stock[]`` entry's safety stock, reorder point and what they come from."""

    index: int  # position in stock[]
    sku: str
    location: str
    safety_stock: int
    reorder_point: int | None
    basis: SafetyStockBasis
    lead_periods: int  # L
    review_periods: int  # R
    primary: str | None
    demand_per_period: float | None
    safety_stock_cost: float


def _rank(problem: Problem, a: Agreement) -> tuple[float, int, str]:
    return a.unit_cost, problem.horizon.lead_periods(a.lead_time_days), a.id


def primary_agreements(problem: Problem) -> dict[tuple[str, str], Agreement]:
    """The primary agreement that sets ``L`` per (sku, location): lowest unit cost, shorter lead, id."""
    best: dict[tuple[str, str], Agreement] = {}
    for a in problem.agreements:
        if a.role != Role.PRIMARY or a.location is None:
            continue
        key = (a.sku, a.location)
        if key not in best or _rank(problem, a) < _rank(problem, best[key]):
            best[key] = a
    return best


def safety_stock_levels(problem: Problem) -> list[SafetyStockLevel]:
    """Every ``stock[]`` entry's safety stock and reorder point, in ``stock[]`` order."""
    h = problem.horizon
    primaries = primary_agreements(problem)
    out = []
    for i, s in enumerate(problem.stock):
        primary = primaries.get((s.sku, s.location))
        L = h.lead_periods(primary.lead_time_days) if primary is not None else 0
        R = h.lead_periods(s.review_period_days) if s.review_period_days is not None else 0
        mean = s.demand_per_period
        if s.safety_stock is not None:
            basis, ss = SafetyStockBasis.GIVEN, s.safety_stock
        elif s.demand_std is not None and s.service_level is not None and mean is not None:
            z = NormalDist().inv_cdf(s.service_level)
            basis, ss = SafetyStockBasis.STATISTICS, ceil_units(z * s.demand_std * math.sqrt(L + R))
        else:
            basis, ss = SafetyStockBasis.NONE, 0
        if basis == SafetyStockBasis.NONE:
            reorder = None
        elif mean is None:
            reorder = ss
        else:
            reorder = ceil_units(mean * (L + R)) + ss
        out.append(SafetyStockLevel(
            index=i, sku=s.sku, location=s.location, safety_stock=ss, reorder_point=reorder, basis=basis,
            lead_periods=L, review_periods=R, primary=primary.id if primary is not None else None,
            demand_per_period=mean, safety_stock_cost=s.safety_stock_cost,
        ))
    return out


def effective_safety_stock(problem: Problem) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Safety stock per (sku, location) of every ``stock[]`` entry, and the reorder points that exist."""
    levels = safety_stock_levels(problem)
    safety = {(v.sku, v.location): v.safety_stock for v in levels}
    reorder = {(v.sku, v.location): v.reorder_point for v in levels if v.reorder_point is not None}
    return safety, reorder


def _periods(n: int) -> str:
    return f"{n} period" if n == 1 else f"{n} periods"


def _alternates_text(problem: Problem, sku: str, location: str) -> str:
    """``its alternate AG-7 has a lead time of 3 periods`` (each alternate there, cheapest first)."""
    h = problem.horizon
    alts = sorted((a for a in problem.agreements
                   if a.role == Role.ALTERNATE and a.sku == sku and a.location == location),
                  key=lambda a: _rank(problem, a))
    if not alts:
        return "no alternate agreement restocks it there either"
    leads = [h.lead_periods(a.lead_time_days) for a in alts]
    if len(alts) == 1:
        return f"its alternate {alts[0].id} has a lead time of {_periods(leads[0])}"
    shown = 3
    ids = ", ".join(a.id for a in alts[:shown]) + (f" and {len(alts) - shown} more" if len(alts) > shown else "")
    times = ", ".join(str(n) for n in leads[:shown])
    return f"its alternates {ids} have lead times of {times} periods"


def safety_stock_notes(problem: Problem, levels: list[SafetyStockLevel] | None = None) -> list[SafetyStockNote]:
    """What a planner should know about the safety stock of each ``stock[]`` entry (none are errors)."""
    notes = []
    for v in levels if levels is not None else safety_stock_levels(problem):
        path, where = f"stock[{v.index}]", f"{v.sku} at {v.location}"
        if v.basis == SafetyStockBasis.STATISTICS and v.primary is None:
            gives = (f"the spec's L = 0 gives safety stock {v.safety_stock}" if v.review_periods == 0 else
                     f"L = 0 gives safety stock {v.safety_stock}, from the review period of "
                     f"{_periods(v.review_periods)} alone")
            notes.append(SafetyStockNote(
                path=path, sku=v.sku, location=v.location, code=SafetyStockNoteCode.NO_PRIMARY,
                message=(f"{where} has demand statistics but no primary agreement: {gives}; "
                         f"{_alternates_text(problem, v.sku, v.location)}")))
        if v.safety_stock > 0 and v.safety_stock_cost == 0:
            source = " (from its demand statistics)" if v.basis == SafetyStockBasis.STATISTICS else ""
            notes.append(SafetyStockNote(
                path=path, sku=v.sku, location=v.location, code=SafetyStockNoteCode.NO_COST,
                message=f"safety stock {v.safety_stock} of {where}{source} is ignored: its safety_stock_cost is 0"))
    return notes
