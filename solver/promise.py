"""Promise quotes (available- and capable-to-promise) against a plan, without re-solving.

A :class:`PromiseIndex` reads a problem and a feasible plan once and keeps, as
numpy arrays, what every quote needs:

- the projected end-of-period stock ``I(t) = I(t-1) + inbound(t) + arrivals(t) -
  shipped(t) - filled(t)`` per SKU, location and period (spec §What a feasible plan
  obeys, rule 1), and the same without the plan's purchase-order arrivals, each
  with its suffix minimum ``min over τ >= t of I(τ)``: the units that can leave in
  period ``t`` without making any later period negative;
- per agreement and period the planned quantity, and the band a new total must lie
  in (MOQ, capacity and the ``max_change_per_period`` smoothing limit against the
  neighbouring periods);
- per supplier and period whether the plan already orders from it.

:meth:`PromiseIndex.quote` then answers a :class:`~stockplan.models.promise.PromiseRequest`
with the earliest period in which the whole quantity can be delivered, from one of
four sources: stock, the spare of a planned purchase order, units added to a stock
agreement's purchase order, or a dropship. Ties go to the lowest incremental cost,
then to the source in that order, then to the location or agreement id. The work per
quote is a few vectorised operations over the allowed locations and the SKU's
agreements times the periods.

A quote relies on the plan as it stands: accepting one means adding exactly what it
names (a shipment, a purchase-order quantity, a dropship) to the plan, which keeps
the plan feasible; two quotes computed from the same index may compete for the same
units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem, Role
from stockplan.models.promise import SOURCES, PromiseQuote, PromiseRequest, Source

#: Stands for "no limit" in integer bands; far from overflow when limits are added to it.
_UNLIMITED = np.iinfo(np.int64).max // 4
_SOURCE_RANK = {source: rank for rank, source in enumerate(SOURCES)}


class PromiseError(ValueError):
    """A request or a plan that a quote cannot be computed for."""


class UnknownReferenceError(PromiseError):
    """The request names a SKU or location the problem does not know."""


@dataclass(frozen=True)
class _Option:
    """One way to deliver the whole quantity, before it becomes a :class:`PromiseQuote`."""

    period: int
    cost: float
    source: Source
    location: int = -1  # -1: dropship
    agreement: int = -1  # -1: from stock
    purchase_period: int | None = None
    total: int | None = None  # agreement's quantity in purchase_period after adding
    tiebreak: tuple[int, int, int] = (0, 0, 0)  # location rank, agreement rank, -purchase period

    def rank(self) -> tuple[int, float, int, tuple[int, int, int]]:
        # Rounded so that costs equal up to float noise tie and fall through to the next key.
        return self.period, round(self.cost, 9), _SOURCE_RANK[self.source], self.tiebreak


def suffix_min(levels: np.ndarray) -> np.ndarray:
    """``out[..., t] = min(levels[..., t:])``: what can leave in ``t`` without a later shortfall."""
    return np.minimum.accumulate(levels[..., ::-1], axis=-1)[..., ::-1]


def _rank_of(ids: list[str]) -> np.ndarray:
    """Position of each id in sorted order, for numeric tie-breaking by id."""
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[np.argsort(np.array(ids, dtype=object), kind="stable")] = np.arange(len(ids))
    return ranks


class PromiseIndex:
    """Everything a promise quote needs from a problem and a feasible plan, computed once.

    Parameters
    ----------
    problem : Problem
        The parsed problem the plan was made for.
    plan : Decisions
        A feasible plan of ``problem`` (a solved :class:`~stockplan.models.plan.Plan` works too).

    Attributes
    ----------
    projected : numpy.ndarray
        ``(skus * locations, T)`` end-of-period stock with the plan, row ``sku * n_locations + loc``.
    projected_without_purchases : numpy.ndarray
        The same without the arrivals of the plan's purchase orders (on hand and inbound only).
    planned_quantity : numpy.ndarray
        ``(agreements, T)`` total quantity the plan orders per agreement and period.
    supplier_ordered : numpy.ndarray
        ``(suppliers, T)`` bool: the plan orders a positive quantity from the supplier in the period.

    Raises
    ------
    PromiseError
        If the plan names something the problem does not know, a period outside the
        horizon, or leaves stock below zero (quotes need a feasible plan).
    """

    def __init__(self, problem: Problem, plan: Decisions) -> None:
        self.problem = problem
        self.T = problem.horizon.periods
        self.skus = [item.sku for item in problem.items]
        self.locations = [loc.id for loc in problem.locations]
        self._sku_of = {sku: k for k, sku in enumerate(self.skus)}
        self._loc_of = {loc: k for k, loc in enumerate(self.locations)}
        self._loc_rank = _rank_of(self.locations)
        NL = len(self.locations)
        n_pairs = len(self.skus) * NL

        self._read_agreements(problem)
        base_flow = self._base_flow(problem, plan, n_pairs)
        purchase_flow = self._read_purchase_orders(plan, n_pairs)

        on_hand = np.zeros(n_pairs, dtype=np.int64)
        for s in problem.stock:
            on_hand[self._pair(s.sku, s.location)] = s.on_hand
        self.projected_without_purchases = on_hand[:, None] + np.cumsum(base_flow, axis=1)
        self.projected = self.projected_without_purchases + np.cumsum(purchase_flow, axis=1)
        self._check_stock_not_negative()
        self._free = suffix_min(self.projected)
        self._free_without_purchases = suffix_min(self.projected_without_purchases)
        self._band_of_new_totals()

    # ------------------------------------------------------------------ build

    def _pair(self, sku: str, location: str) -> int:
        return self._sku_of[sku] * len(self.locations) + self._loc_of[location]

    def _read_agreements(self, problem: Problem) -> None:
        ags = problem.agreements
        NL = len(self.locations)
        self._agreements = list(ags)
        self._ag_of = {a.id: i for i, a in enumerate(ags)}
        self._ag_rank = _rank_of([a.id for a in ags])
        supplier_of = {s.id: i for i, s in enumerate(problem.suppliers)}
        self._supplier_cost = np.array([s.order_cost for s in problem.suppliers], dtype=np.float64)
        self._ag_sku = np.array([self._sku_of[a.sku] for a in ags], dtype=np.int64)
        self._ag_dropship = np.array([a.role == Role.DROPSHIP for a in ags], dtype=bool)
        self._ag_loc = np.array(
            [self._loc_of[a.location] if a.role != Role.DROPSHIP and a.location else -1 for a in ags],
            dtype=np.int64,
        )
        self._ag_pair = np.where(self._ag_loc >= 0, self._ag_sku * NL + self._ag_loc, -1)
        self._ag_supplier = np.array([supplier_of[a.supplier] for a in ags], dtype=np.int64)
        self._ag_lead = np.array([problem.horizon.lead_periods(a.lead_time_days) for a in ags], dtype=np.int64)
        self._ag_pack = np.array([a.pack_size for a in ags], dtype=np.int64)
        # Agreements grouped by SKU: a quote looks at its SKU's agreements only.
        order = np.argsort(self._ag_sku, kind="stable")
        bounds = np.searchsorted(self._ag_sku[order], np.arange(1, len(self.skus)))
        self._ags_of_sku = np.split(order, bounds)

    def _base_flow(self, problem: Problem, plan: Decisions, n_pairs: int) -> np.ndarray:
        """Inbound minus shipments and forecast fills, per pair and period."""
        h, T = problem.horizon, self.T
        rows: list[int] = []
        periods: list[int] = []
        units: list[int] = []
        for b in problem.inbound:
            t = h.period_of(b.arrives)
            if t < T:  # arrivals beyond the horizon are ignored
                rows.append(self._pair(b.sku, b.location))
                periods.append(t)
                units.append(b.quantity)
        orders = {o.id: o for o in problem.orders}
        for i, s in enumerate(plan.shipments):
            order = orders.get(s.order)
            if order is None or not 0 <= s.line < len(order.lines):
                raise PromiseError(f"plan shipment {i} names unknown order line {s.order!r} line {s.line}")
            if s.location not in self._loc_of:
                raise PromiseError(f"plan shipment {i} names unknown location {s.location!r}")
            self._check_period(s.period, f"plan shipment {i}")
            rows.append(self._pair(order.lines[s.line].sku, s.location))
            periods.append(s.period)
            units.append(-s.quantity)
        for i, f in enumerate(plan.forecast_fills):
            if f.sku not in self._sku_of or f.location not in self._loc_of:
                raise PromiseError(f"plan forecast fill {i} names unknown SKU or location ({f.sku!r}, {f.location!r})")
            self._check_period(f.period, f"plan forecast fill {i}")
            rows.append(self._pair(f.sku, f.location))
            periods.append(f.period)
            units.append(-f.quantity)
        flow = np.zeros((n_pairs, T), dtype=np.int64)
        np.add.at(flow, (np.array(rows, dtype=np.int64), np.array(periods, dtype=np.int64)),
                  np.array(units, dtype=np.int64))
        return flow

    def _read_purchase_orders(self, plan: Decisions, n_pairs: int) -> np.ndarray:
        """Planned quantity per agreement and period; return the arrivals into stock per pair and period."""
        T = self.T
        planned = np.zeros((len(self._agreements), T), dtype=np.int64)
        for i, po in enumerate(plan.purchase_orders):
            a = self._ag_of.get(po.agreement)
            if a is None:
                raise PromiseError(f"plan purchase order {i} names unknown agreement {po.agreement!r}")
            self._check_period(po.period, f"plan purchase order {i}")
            planned[a, po.period] += po.quantity  # entries of one agreement and period add up
        self.planned_quantity = planned
        ordered = np.zeros((len(self._supplier_cost), T), dtype=bool)
        a_idx, p_idx = np.nonzero(planned > 0)
        ordered[self._ag_supplier[a_idx], p_idx] = True
        self.supplier_ordered = ordered

        flow = np.zeros((n_pairs, T), dtype=np.int64)
        stocked = ~self._ag_dropship[a_idx]
        a_idx, p_idx = a_idx[stocked], p_idx[stocked]
        arrival = p_idx + self._ag_lead[a_idx]
        inside = arrival < T  # an order arriving beyond the horizon brings nothing
        np.add.at(flow, (self._ag_pair[a_idx[inside]], arrival[inside]), planned[a_idx[inside], p_idx[inside]])
        return flow

    def _check_period(self, period: int, what: str) -> None:
        if not 0 <= period < self.T:
            raise PromiseError(f"{what} names period {period}, outside 0..{self.T - 1}")

    def _check_stock_not_negative(self) -> None:
        """Quotes read spare stock off the plan: a plan already short has none to give."""
        short = np.argwhere(self.projected < 0)
        if short.size:
            pair, t = (int(v) for v in short[0])
            NL = len(self.locations)
            raise PromiseError(
                f"the plan is infeasible: {self.skus[pair // NL]} at {self.locations[pair % NL]} is short by "
                f"{-int(self.projected[pair, t])} units in period {t} ({len(short)} shortfall(s) in all); "
                "quotes need a feasible plan"
            )

    def _band_of_new_totals(self) -> None:
        """The range a new (positive) total of each agreement and period must lie in.

        Lower: ``moq`` and, with ``max_change_per_period``, the neighbours' quantities minus
        the limit; upper: ``capacity_per_period`` and the neighbours plus the limit. Only
        the period's own total changes, so only its two neighbouring differences matter.
        """
        q = self.planned_quantity
        n, T = q.shape
        ags = self._agreements
        moq = np.array([a.moq for a in ags], dtype=np.int64)
        cap = np.array([_UNLIMITED if a.capacity_per_period is None else a.capacity_per_period for a in ags],
                       dtype=np.int64)
        limit = np.array([-1 if a.max_change_per_period is None else a.max_change_per_period for a in ags],
                         dtype=np.int64)
        highest_neighbour = np.full((n, T), -_UNLIMITED, dtype=np.int64)
        lowest_neighbour = np.full((n, T), _UNLIMITED, dtype=np.int64)
        highest_neighbour[:, 1:] = q[:, :-1]
        lowest_neighbour[:, 1:] = q[:, :-1]
        highest_neighbour[:, :-1] = np.maximum(highest_neighbour[:, :-1], q[:, 1:])
        lowest_neighbour[:, :-1] = np.minimum(lowest_neighbour[:, :-1], q[:, 1:])
        smoothed = (limit >= 0)[:, None]
        lim = limit[:, None]
        self._lower = np.maximum(moq[:, None], np.where(smoothed, highest_neighbour - lim, 0))
        self._upper = np.minimum(cap[:, None], np.where(smoothed, lowest_neighbour + lim, _UNLIMITED))

    # ------------------------------------------------------------------ queries

    def available(self, sku: str, location: str, period: int, *, planned_purchases: bool = True) -> int:
        """Units of ``sku`` that can leave ``location`` in ``period`` without a later shortfall.

        Parameters
        ----------
        sku, location : str
            Ids of the problem.
        period : int
            A period in ``0..T-1``.
        planned_purchases : bool
            Count the arrivals of the plan's purchase orders (default) or only on-hand and inbound stock.

        Returns
        -------
        int
            ``min over τ >= period of I(τ)``.
        """
        k, loc = self._sku_index(sku), self._location_index(location, "location")
        self._check_period(period, "available()")
        free = self._free if planned_purchases else self._free_without_purchases
        return int(free[k * len(self.locations) + loc, period])

    def quote(self, request: PromiseRequest | dict[str, Any]) -> PromiseQuote:
        """The earliest period the whole quantity can be delivered, and from what.

        Parameters
        ----------
        request : PromiseRequest or dict
            The prospective order; a dict is validated as a :class:`PromiseRequest`.

        Returns
        -------
        PromiseQuote
            The best option (earliest period, then lowest estimated cost, then stock <
            planned purchase order < new purchase order < dropship, then location or
            agreement id), with the best option of each other source as alternatives;
            ``feasible=False`` with the reason when nothing delivers within the horizon.

        Raises
        ------
        UnknownReferenceError
            If the request names an unknown SKU or location.
        pydantic.ValidationError
            If a dict request is malformed (a ``ValueError`` too).
        """
        req = request if isinstance(request, PromiseRequest) else PromiseRequest.model_validate(request)
        k = self._sku_index(req.sku)
        allowed = self._allowed_locations(req)
        ship = np.zeros(len(self.locations))
        for loc, cost in (req.ship_cost or {}).items():
            ship[self._loc_of[loc]] = cost
        h = self.problem.horizon
        first = 0 if req.earliest is None else h.period_of(req.earliest)
        if first >= self.T:
            return PromiseQuote(
                feasible=False,
                message=f"the earliest date {req.earliest} lies beyond the horizon, whose last period starts "
                f"{h.date_of(self.T - 1)}: nothing can be promised",
            )

        options = self._stock_options(k, allowed, first, req.quantity, ship)
        options += self._new_purchase_options(k, allowed, first, req.quantity, ship)
        if req.allow_dropship:
            options += self._dropship_options(k, first, req.quantity)
        if not options:
            return PromiseQuote(feasible=False, message=self._why_not(k, allowed, first, req))
        options.sort(key=_Option.rank)
        best = options[0]
        return self._to_quote(best, req.quantity, [o for o in options[1:] if o.source != best.source])

    # ------------------------------------------------------------------ request checks

    def _sku_index(self, sku: str) -> int:
        k = self._sku_of.get(sku)
        if k is None:
            raise UnknownReferenceError(f"sku: unknown SKU {sku!r}; the problem has {len(self.skus)} item(s)")
        return k

    def _location_index(self, location: str, path: str) -> int:
        loc = self._loc_of.get(location)
        if loc is None:
            known = ", ".join(self.locations[:10]) + (", ..." if len(self.locations) > 10 else "")
            raise UnknownReferenceError(f"{path}: unknown location {location!r}; known: {known}")
        return loc

    def _allowed_locations(self, req: PromiseRequest) -> np.ndarray:
        """Warehouses the order may ship from: ``locations`` and the keys of ``ship_cost``, both when given."""
        allowed = np.ones(len(self.locations), dtype=bool)
        if req.locations is not None:
            allowed[:] = False
            for i, loc in enumerate(req.locations):
                allowed[self._location_index(loc, f"locations[{i}]")] = True
        if req.ship_cost is not None:
            listed = np.zeros(len(self.locations), dtype=bool)
            for loc in req.ship_cost:
                listed[self._location_index(loc, f"ship_cost.{loc}")] = True
            allowed &= listed
        return np.flatnonzero(allowed)

    # ------------------------------------------------------------------ sources

    def _stock_options(self, k: int, allowed: np.ndarray, first: int, qty: int, ship: np.ndarray) -> list[_Option]:
        """Best option from stock and best from a planned order's spare: the earliest ``t >= first``
        at an allowed location where ``min over τ >= t of I(τ) >= qty``."""
        if allowed.size == 0:
            return []
        pairs = k * len(self.locations) + allowed
        t_stock = self._first_period_with(self._free_without_purchases[pairs, first:], qty, first)
        t_planned = self._first_period_with(self._free[pairs, first:], qty, first)
        cost = ship[allowed] * qty
        out = []
        candidates: list[tuple[Source, np.ndarray, np.ndarray]] = [
            ("stock", t_stock, t_stock < self.T),
            # Spare of a planned order only where it is earlier than stock alone at that location.
            ("planned_purchase_order", t_planned, t_planned < t_stock),
        ]
        for source, t, usable in candidates:
            if not usable.any():
                continue
            idx = np.flatnonzero(usable)
            i = idx[np.lexsort((self._loc_rank[allowed[idx]], np.round(cost[idx], 9), t[idx]))[0]]
            loc = int(allowed[i])
            option = _Option(int(t[i]), float(cost[i]), source, location=loc,
                             tiebreak=(int(self._loc_rank[loc]), 0, 0))
            if source == "planned_purchase_order":
                option = self._name_planned_purchase(option, k, qty)
            out.append(option)
        return out

    def _first_period_with(self, free: np.ndarray, qty: int, first: int) -> np.ndarray:
        """Per row, the first period (offset by ``first``) whose free stock covers ``qty``; ``T`` if none."""
        enough = free >= qty  # suffix minima rise with t: the first True starts a run to the end
        return np.where(enough.any(axis=1), enough.argmax(axis=1) + first, self.T)

    def _name_planned_purchase(self, option: _Option, k: int, qty: int) -> _Option:
        """The planned order whose arrival makes the units free: arrivals are added earliest first."""
        NL, T = len(self.locations), self.T
        pair = k * NL + option.location
        ags = self._ags_of_sku[k]
        ags = ags[self._ag_pair[ags] == pair]
        arrivals = sorted(
            (int(p) + int(self._ag_lead[a]), int(self._ag_rank[a]), int(a), int(p))
            for a in ags
            for p in np.flatnonzero(self.planned_quantity[a] > 0)
            if int(p) + int(self._ag_lead[a]) < T
        )
        level = self.projected_without_purchases[pair].copy()
        for arrival, _, a, p in arrivals:
            level[arrival:] += self.planned_quantity[a, p]
            if suffix_min(level)[option.period] >= qty:
                return _Option(option.period, option.cost, option.source, option.location, a, p,
                               int(self.planned_quantity[a, p]), option.tiebreak)
        raise AssertionError("planned arrivals do not add up to the projected stock")  # pragma: no cover

    def _new_purchase_options(self, k: int, allowed: np.ndarray, first: int, qty: int,
                              ship: np.ndarray) -> list[_Option]:
        """Best option adding units to a stock agreement's order at an allowed location.

        Placed in ``p``, the units arrive in ``p + L``; they can ship in any period
        ``t >= max(p + L, first)`` where they and the stock free from ``t`` on cover ``qty``
        (later periods may hold more free stock, e.g. another planned arrival). The new
        total is the shortfall rounded up to the pack size and into the agreement's band
        (MOQ, capacity, smoothing); surplus units stay in stock.
        """
        ags = self._ags_of_sku[k]
        allowed_mask = np.zeros(len(self.locations) + 1, dtype=bool)  # last slot: dropship's -1
        allowed_mask[allowed] = True
        ags = ags[~self._ag_dropship[ags] & allowed_mask[self._ag_loc[ags]]]
        if ags.size == 0:
            return []
        T = self.T
        start = np.maximum(np.arange(T)[None, :] + self._ag_lead[ags][:, None], first)
        planned, lower = self.planned_quantity[ags], self._lower[ags]
        pack = self._ag_pack[ags][:, None]
        largest = self._upper[ags] - self._upper[ags] % pack  # the largest lawful total, if any is
        ok = (start < T) & (largest >= lower) & (largest > planned)
        # Free stock only rises with t (suffix minima): the first t where it covers what the
        # largest addition leaves is found by binary search, per agreement row.
        free = self._free[self._ag_pair[ags]]
        short_of = qty - (largest - planned)
        t = np.maximum(np.stack([np.searchsorted(row, lim) for row, lim in zip(free, short_of, strict=True)]), start)
        ok &= t < T
        need = qty - np.take_along_axis(free, np.minimum(t, T - 1), axis=1)
        ok &= need > 0  # otherwise stock alone delivers at t, no order needed
        total = np.maximum(planned + need, lower) + pack - 1
        total -= total % pack
        return self._best_purchase(ags, ok, t, planned, total, "new_purchase_order", qty, ship)

    def _dropship_options(self, k: int, first: int, qty: int) -> list[_Option]:
        """Best dropship: placed in ``p``, delivered in ``p + L >= first``; the order grows by exactly ``qty``."""
        ags = self._ags_of_sku[k]
        ags = ags[self._ag_dropship[ags]]
        if ags.size == 0:
            return []
        t = np.arange(self.T)[None, :] + self._ag_lead[ags][:, None]
        ok = (t >= first) & (t < self.T)
        planned = self.planned_quantity[ags]
        total = planned + qty
        ok &= (total % self._ag_pack[ags][:, None] == 0) & (total >= self._lower[ags]) & (total <= self._upper[ags])
        return self._best_purchase(ags, ok, t, planned, total, "dropship", qty, None)

    def _best_purchase(self, ags: np.ndarray, ok: np.ndarray, t: np.ndarray, planned: np.ndarray,
                       total: np.ndarray, source: Source, qty: int, ship: np.ndarray | None) -> list[_Option]:
        """Among the earliest-delivering (agreement, period) cells, the cheapest one."""
        if not ok.any():
            return []
        t_best = int(t[ok].min())
        best: _Option | None = None
        for i, p in np.argwhere(ok & (t == t_best)):
            a = int(ags[i])
            q0, q1 = int(planned[i, p]), int(total[i, p])
            agreement = self._agreements[a]
            # Incremental purchase cost under all-units price breaks: the whole total is repriced.
            cost = agreement.price_at(q1) * q1 - (agreement.price_at(q0) * q0 if q0 else 0.0)
            supplier = int(self._ag_supplier[a])
            if not self.supplier_ordered[supplier, p]:
                cost += float(self._supplier_cost[supplier])
            loc = int(self._ag_loc[a])
            if ship is not None:
                cost += float(ship[loc]) * qty
            loc_rank = int(self._loc_rank[loc]) if loc >= 0 else -1
            # Among equal cells, the latest placement: it commits least stock early.
            option = _Option(t_best, cost, source, loc, a, int(p), q1, (loc_rank, int(self._ag_rank[a]), -int(p)))
            if best is None or option.rank() < best.rank():
                best = option
        return [] if best is None else [best]

    # ------------------------------------------------------------------ answers

    def _to_quote(self, option: _Option, qty: int, others: list[_Option]) -> PromiseQuote:
        h = self.problem.horizon
        when = h.date_of(option.period)
        location = self.locations[option.location] if option.location >= 0 else None
        agreement = self._agreements[option.agreement] if option.agreement >= 0 else None
        p = option.purchase_period
        placed = f"{h.date_of(p)} (period {p})" if p is not None else ""
        if option.source == "stock":
            message = f"{qty} units from {location} stock on {when}"
        elif option.source == "planned_purchase_order":
            assert agreement is not None and p is not None
            arrival = h.date_of(p + int(self._ag_lead[option.agreement]))
            message = (f"{qty} units from {location} on {when}, from the spare of the purchase order on "
                       f"{agreement.id} placed {placed}, arriving {arrival}")
        elif option.source == "new_purchase_order":
            assert agreement is not None
            message = (f"{qty} units from {location} on {when} with a new purchase order on {agreement.id} "
                       f"({agreement.supplier}) placed {placed}, bringing it to {option.total} units")
        else:
            assert agreement is not None
            message = (f"{qty} units dropshipped by {agreement.supplier} on {agreement.id} on {when}, "
                       f"ordered {placed}, bringing it to {option.total} units")
        if option.cost:
            message += f"; estimated cost {option.cost:.2f}"
        return PromiseQuote(
            feasible=True,
            date=when,
            period=option.period,
            source=option.source,
            location=location,
            agreement=agreement.id if agreement is not None else None,
            purchase_period=p,
            purchase_order_quantity=option.total,
            estimated_cost=round(option.cost, 6),  # money: no float noise on the wire
            alternatives=[self._to_quote(o, qty, []) for o in others],
            message=message,
        )

    def _why_not(self, k: int, allowed: np.ndarray, first: int, req: PromiseRequest) -> str:
        h, T = self.problem.horizon, self.T
        sku, qty = self.skus[k], req.quantity
        reasons = []
        if allowed.size == 0:
            reasons.append("no warehouse is allowed to ship it")
        else:
            pairs = k * len(self.locations) + allowed
            free = self._free[pairs, T - 1]  # free stock only rises with t: the last period has the most
            i = int(np.argmax(free))
            reasons.append(f"at most {int(free[i])} units are free at {self.locations[int(allowed[i])]}, "
                           "even in the last period")
            ags = self._ags_of_sku[k]
            stocked = ags[~self._ag_dropship[ags] & np.isin(self._ag_loc[ags], allowed)]
            reasons.append(
                f"{stocked.size} stock agreement(s) at allowed warehouses, none can add enough in time "
                "within pack size, MOQ, capacity and smoothing limits" if stocked.size
                else "no stock agreement at an allowed warehouse")
        drops = int(self._ag_dropship[self._ags_of_sku[k]].sum())
        if not req.allow_dropship:
            reasons.append("dropship not allowed")
        elif drops:
            reasons.append(f"{drops} dropship agreement(s), none can take exactly {qty} more units in time")
        else:
            reasons.append("no dropship agreement")
        return (f"no stock and no agreement can deliver {qty} units of {sku} within the horizon "
                f"({h.date_of(first)} to {h.date_of(T - 1)}): " + "; ".join(reasons))


def promise(problem: Problem, plan: Decisions, request: PromiseRequest | dict[str, Any]) -> PromiseQuote:
    """Quote one request: build a :class:`PromiseIndex` for ``(problem, plan)`` and ask it.

    Parameters
    ----------
    problem : Problem
        The parsed problem.
    plan : Decisions
        A feasible plan of ``problem``.
    request : PromiseRequest or dict
        The prospective order.

    Returns
    -------
    PromiseQuote
        See :meth:`PromiseIndex.quote`. Build the index once to quote many requests.
    """
    return PromiseIndex(problem, plan).quote(request)
