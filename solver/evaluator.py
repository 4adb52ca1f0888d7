"""The independent plan evaluator: is a plan feasible, and what does it cost?

This is a second implementation of the planning model (``planning-model.md``),
written straight from its §"What a feasible plan obeys" and §"The cost of a
plan". It deliberately shares no code with the model builder: it reads only the
parsed problem (:mod:`stockplan.models`) and walks the plan entry by entry with
plain dicts keyed by ids, so that a disagreement between the two is a bug in
one of them rather than a bug they share.

A bad plan never raises: every broken rule is reported as a :class:`Violation`
and the plan is still priced, counting stock and open quantities as
``max(0, ·)``. An entry that cannot be placed at all (an unknown reference, a
period outside ``0..T-1``, a negative quantity) is reported and then left out of
the stock balance and of the cost.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

import numpy as np

from stockplan.models.plan import Costs, Decisions, PurchaseOrder
from stockplan.models.problem import Agreement, Order, Problem, Role

#: Every rule code the evaluator reports, with the rule of the spec it enforces.
RULES: dict[str, str] = {
    "stock_negative": "§1 stock of a SKU at a location is below zero at the end of a period",
    "forecast_overfilled": "§1 forecast fills exceed the forecast of their SKU, location, period",
    "line_overdelivered": "§2 shipments and dropships deliver more than a line's quantity",
    "outside_window": "§2 units delivered to a line before period e or after period ℓ",
    "ship_from_not_allowed": "§2 a shipment from a location the order's ship_cost does not list",
    "order_beyond_horizon": "§Inputs units delivered to an order due beyond the horizon",
    "ship_complete_dropship": "§3 a dropship to a ship-complete order",
    "ship_complete_split": "§3 a ship-complete order not delivered whole in one period",
    "pack_size": "§4 an agreement's quantity in a period is not a multiple of pack_size",
    "moq": "§4 an agreement's quantity in a period is positive but below moq",
    "capacity": "§4 an agreement's quantity in a period exceeds capacity_per_period",
    "period_out_of_range": "§Time a period named by the plan lies outside 0..T-1",
    "dropship_lines_sum": "§Decisions a dropship purchase order's lines do not sum to its quantity",
    "dropship_missing_lines": "§Decisions a dropship purchase order with a quantity but no lines",
    "dropship_wrong_sku": "§5 a dropship delivers to a line of another SKU",
    "lines_on_stock_agreement": "§Decisions a non-dropship purchase order lists order lines",
    "unknown_reference": "the plan names an unknown order, line, location, SKU or agreement",
    "negative_quantity": "§Time a quantity in the plan is below zero",
    "order_smoothing": "extension: an agreement's quantity changes by more than max_change_per_period "
    "between consecutive periods",
    "min_partial_shipment": "extension: a shipment of a line (order, line, location, period) that leaves the "
    "line short carries fewer units than min_partial_shipment",
}

#: Policy rules (spec §Allocation policies). Not feasibility rules: a feasible plan
#: can break them; they are reported separately, under ``policy_violations``.
POLICY_RULES: dict[str, str] = {
    "priority": "a lower-priority line of a SKU received units that a higher-priority line, still open "
    "at its due period or later, could have taken instead",
    "fair_share": "among equal lines (same SKU, priority, earliest period and warehouses) one could give "
    "a unit to another whose fill fraction is lower even after the transfer",
    "fair_share_tie": "extension: a younger order kept a unit that could go to an equal line of an older "
    "order (older ordered date, then smaller id) with the split still fair",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    Attributes
    ----------
    rule : str
        Stable code, one of :data:`RULES`.
    message : str
        The problem in a planner's words, naming the entities involved.
    entities : dict of str to str or int
        Ids involved, e.g. ``{"order": "SO-1", "line": 0, "period": 2}``; also the
        index of the offending plan entry (``"shipment"``, ``"purchase_order"``,
        ``"forecast_fill"``) where there is one.
    """

    rule: str
    message: str
    entities: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """The verdict on a plan.

    Attributes
    ----------
    feasible : bool
        True when no rule is broken.
    violations : list of Violation
        Every broken rule, in the order found.
    costs : Costs
        The seven parts of the cost (infeasible plans are priced too).
    """

    feasible: bool
    violations: list[Violation]
    costs: Costs
    promise_slip: float = 0.0
    policy_violations: list[Violation] = field(default_factory=list)
    shipment_fees: float = 0.0

    @property
    def cost(self) -> float:
        """Total cost, the sum of the seven parts."""
        return self.costs.total

    @property
    def objective(self) -> float:
        """What the solver minimises: the cost plus the promise-slip penalty and the shipment fees (extensions)."""
        return self.costs.total + self.promise_slip + self.shipment_fees

    def better_than(self, other: Evaluation, tol: float = 1e-9) -> bool:
        """Whether this plan beats ``other``: fewer places where it breaks the policy first, then a
        lower objective."""
        mine, theirs = len(self.policy_violations), len(other.policy_violations)
        if mine != theirs:
            return mine < theirs
        return self.objective < other.objective - tol


def evaluate(problem: Problem, plan: Decisions) -> Evaluation:
    """Check ``plan`` against every rule of the planning model and price it.

    Parameters
    ----------
    problem : Problem
        A parsed, valid problem (see :func:`stockplan.models.validation.load_problem`).
    plan : Decisions
        The decisions to check; a solved :class:`~stockplan.models.plan.Plan` works too.

    Returns
    -------
    Evaluation
        Feasibility, the violations found, and the seven cost parts.
    """
    return _Evaluator(problem).run(plan)


def effective_safety_stock(problem: Problem) -> dict[tuple[str, str], int]:
    """Safety stock of every ``stock[]`` entry, keyed by ``(sku, location)``.

    ``safety_stock`` when given; otherwise, when ``demand_per_period``,
    ``demand_std`` and ``service_level`` are all given,
    ``ceil(z × demand_std × sqrt(L + R))`` (spec §Safety stock and reorder points;
    ``R`` is the extension ``review_period_days`` in periods, 0 when absent);
    otherwise 0.

    Parameters
    ----------
    problem : Problem
        The parsed problem.

    Returns
    -------
    dict of (str, str) to int
        Safety stock per SKU and location that has a stock entry.
    """
    horizon = problem.horizon
    # The primary agreement that sets L: lowest unit_cost, then shorter lead time, then id.
    best_primary: dict[tuple[str, str], Agreement] = {}
    for agreement in problem.agreements:
        if agreement.role != Role.PRIMARY or agreement.location is None:
            continue
        key = (agreement.sku, agreement.location)
        current = best_primary.get(key)
        rank = (agreement.unit_cost, agreement.lead_time_days, agreement.id)
        if current is None or rank < (current.unit_cost, current.lead_time_days, current.id):
            best_primary[key] = agreement

    result: dict[tuple[str, str], int] = {}
    for entry in problem.stock:
        key = (entry.sku, entry.location)
        if entry.safety_stock is not None:
            result[key] = entry.safety_stock
        elif (
            entry.demand_per_period is not None
            and entry.demand_std is not None
            and entry.service_level is not None
        ):
            primary = best_primary.get(key)
            lead = horizon.lead_periods(primary.lead_time_days) if primary is not None else 0
            review = horizon.lead_periods(entry.review_period_days) if entry.review_period_days is not None else 0
            z = NormalDist().inv_cdf(entry.service_level)
            # Less 1e-9: float noise just above an integer must not add a unit (the model's index does the same).
            result[key] = max(0, math.ceil(z * entry.demand_std * math.sqrt(lead + review) - 1e-9))
        else:
            result[key] = 0
    return result


@dataclass
class _Line:
    """An order line of an order inside the horizon, with the units delivered to it."""

    order: str
    index: int
    sku: str
    quantity: int
    due: int  # d
    first: int  # e (may be >= T: then nothing can be delivered)
    last: int  # ℓ
    backorder_cost: float
    lost_sale_cost: float
    promised: int | None = None  # period of the order's previous promise, when it has one
    priority: int = 3
    ship_complete: bool = False
    allowed: frozenset[str] | None = None  # warehouses it may ship from (None: all)
    placed: date | None = None  # the order's ``ordered`` date (extension), for fair-share ties
    deliveries: list[tuple[int, int]] = field(default_factory=list)  # (period, units)
    sources: list[tuple[int, str | None, int]] = field(default_factory=list)  # (period, location|None, units)


class _Evaluator:
    """One evaluation: the problem indexed by ids, and what the plan does to it."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.horizon = problem.horizon
        self.periods = problem.horizon.periods
        self.violations: list[Violation] = []

        self.items = {item.sku: item for item in problem.items}
        self.locations = {location.id for location in problem.locations}
        self.orders = {order.id: order for order in problem.orders}
        self.agreements = {agreement.id: agreement for agreement in problem.agreements}
        self.suppliers = {supplier.id: supplier for supplier in problem.suppliers}

        # Orders due beyond the horizon are outside the plan: they get no _Line.
        self.beyond_horizon: set[str] = set()
        self.lines: dict[tuple[str, int], _Line] = {}
        for order in problem.orders:
            self._index_order(order)

        # Stock rows, one per (sku, location) that has an entry or a movement.
        self.row_of: dict[tuple[str, str], int] = {}
        self.on_hand: list[int] = []
        self.safety_stock: list[int] = []
        self.safety_stock_cost: list[float] = []
        self.holding_cost: list[float] = []
        safety = effective_safety_stock(problem)
        for entry in problem.stock:
            row = self._row(entry.sku, entry.location)
            self.on_hand[row] = entry.on_hand
            self.safety_stock[row] = safety[(entry.sku, entry.location)]
            self.safety_stock_cost[row] = entry.safety_stock_cost
        # Movements (row, period, signed units), summed into the balance at the end.
        self.moves: list[tuple[int, int, int]] = []

        # Forecast per (sku, location, period) inside the horizon; entries add up.
        self.forecast: dict[tuple[str, str, int], int] = defaultdict(int)
        for entry in problem.forecast:
            period = self.horizon.period_of(entry.date)
            if period < self.periods:
                self.forecast[(entry.sku, entry.location, period)] += entry.quantity

        self.shipping = 0.0
        # Units shipped per (order, line, location, period), entries for the same key added up.
        self.shipped: dict[tuple[str, int, str, int], int] = defaultdict(int)

    # ------------------------------------------------------------------ setup

    def _index_order(self, order: Order) -> None:
        horizon, last_period = self.horizon, self.periods - 1
        due = horizon.period_of(order.due)
        if due > last_period:
            self.beyond_horizon.add(order.id)
            return
        first = horizon.period_of(order.earliest) if order.earliest is not None else 0
        last = last_period
        if order.latest is not None:
            last = min(horizon.period_of(order.latest), last_period)
        for index, line in enumerate(order.lines):
            item = self.items.get(line.sku)
            item_backorder = item.backorder_cost if item is not None else 0.0
            self.lines[(order.id, index)] = _Line(
                order=order.id,
                index=index,
                sku=line.sku,
                quantity=line.quantity,
                due=due,
                first=first,
                last=last,
                backorder_cost=(
                    line.backorder_cost if line.backorder_cost is not None else item_backorder
                ),
                lost_sale_cost=item.lost_sale_cost if item is not None else 0.0,
                promised=horizon.period_of(order.promised) if order.promised is not None else None,
                priority=order.priority,
                ship_complete=order.ship_complete,
                allowed=frozenset(order.ship_cost) if order.ship_cost is not None else None,
                placed=order.ordered,
            )

    def _row(self, sku: str, location: str) -> int:
        """Row of ``(sku, location)`` in the stock balance, added on first use."""
        key = (sku, location)
        row = self.row_of.get(key)
        if row is None:
            row = self.row_of[key] = len(self.on_hand)
            item = self.items.get(sku)
            # No stock entry: nothing on hand and no safety stock (spec §Inputs).
            self.on_hand.append(0)
            self.safety_stock.append(0)
            self.safety_stock_cost.append(0.0)
            self.holding_cost.append(item.holding_cost if item is not None else 0.0)
        return row

    def _move(self, sku: str, location: str, period: int, units: int) -> None:
        self.moves.append((self._row(sku, location), period, units))

    def _report(self, rule: str, message: str, /, **entities: str | int) -> None:
        self.violations.append(Violation(rule, message, dict(entities)))

    def _check_period(self, period: int, what: str, /, **entities: str | int) -> bool:
        if 0 <= period < self.periods:
            return True
        self._report(
            "period_out_of_range",
            f"{what} names period {period}, outside 0..{self.periods - 1}",
            period=period,
            **entities,
        )
        return False

    def _check_quantity(self, quantity: int, what: str, /, **entities: str | int) -> bool:
        if quantity >= 0:
            return True
        self._report("negative_quantity", f"{what} has a negative quantity {quantity}", **entities)
        return False

    def _find_line(
        self, order_id: str, index: int, units: int, what: str, /, **entities: str | int
    ) -> tuple[Order, _Line] | None:
        """Resolve an (order, line) reference of a delivery; report what is wrong with it.

        Returns None when the reference is unknown or the order is outside the plan.
        """
        order = self.orders.get(order_id)
        if order is None:
            self._report(
                "unknown_reference", f"{what} names unknown order {order_id!r}", **entities
            )
            return None
        # Checked explicitly: a negative index would silently pick a line from the end.
        if not 0 <= index < len(order.lines):
            self._report(
                "unknown_reference",
                f"{what} names line {index} of {order_id}, which has {len(order.lines)} line(s)",
                **entities,
            )
            return None
        if order_id in self.beyond_horizon:
            if units > 0:
                self._report(
                    "order_beyond_horizon",
                    f"{what} delivers {units} units to {order_id}, which is due beyond the "
                    f"horizon ({order.due.isoformat()}) and so is outside this plan",
                    **entities,
                )
            return None
        return order, self.lines[(order_id, index)]

    def _deliver(
        self, line: _Line, period: int, units: int, what: str, source: str | None, /, **entities: str | int
    ) -> None:
        if units == 0:
            return
        if not line.first <= period <= line.last:
            if line.first >= self.periods:
                window = "nothing, its earliest date lying beyond the horizon"
            else:
                window = f"periods {line.first}..{line.last} only"
            self._report(
                "outside_window",
                f"{what} delivers {units} units to {line.order} line {line.index} in period "
                f"{period}; the line can take {window}",
                **entities,
            )
        line.deliveries.append((period, units))
        line.sources.append((period, source, units))

    # ------------------------------------------------------------------ run

    def run(self, plan: Decisions) -> Evaluation:
        self._read_inbound()
        purchased = self._read_purchase_orders(plan)
        self._read_shipments(plan)
        filled = self._read_forecast_fills(plan)

        self._check_purchase_totals(purchased)
        self._check_lines()
        self._check_partial_shipments()
        for (sku, location, period), units in filled.items():
            forecast = self.forecast.get((sku, location, period), 0)
            if units > forecast:
                there = f"the forecast is {forecast}" if forecast else "there is no forecast"
                self._report(
                    "forecast_overfilled",
                    f"forecast fills of {sku} at {location} in period {period} total {units} "
                    f"units but {there}",
                    sku=sku,
                    location=location,
                    period=period,
                )
        holding, safety_stock = self._stock_balance()
        backorder, lost_sales = self._line_costs()
        lost_sales += self._forecast_lost_sales(filled)

        slip_cost = self.problem.settings.promise_slip_cost
        promise_slip = slip_cost * sum(
            _open_unit_periods(line, start=line.promised)[0]
            for line in self.lines.values()
            if line.promised is not None and slip_cost > 0
        )
        costs = Costs(
            purchase=self._purchase_cost(purchased),
            order_fixed=self._order_fixed_cost(purchased),
            holding=holding,
            safety_stock=safety_stock,
            backorder=backorder,
            lost_sales=lost_sales,
            shipping=self.shipping,
        )
        return Evaluation(not self.violations, self.violations, costs, promise_slip, self._policy_violations(),
                          self._shipment_fees())

    # ------------------------------------------------------------------ reading the plan

    def _read_inbound(self) -> None:
        for entry in self.problem.inbound:
            period = self.horizon.period_of(entry.arrives)
            if period < self.periods:  # arrivals beyond the horizon are ignored
                self._move(entry.sku, entry.location, period, entry.quantity)

    def _read_purchase_orders(self, plan: Decisions) -> dict[tuple[str, int], int]:
        """Place every purchase order; return the total quantity per (agreement, period)."""
        totals: dict[tuple[str, int], int] = defaultdict(int)
        for i, po in enumerate(plan.purchase_orders):
            what = f"purchase order {i}"
            agreement = self.agreements.get(po.agreement)
            ok = True
            if agreement is None:
                self._report(
                    "unknown_reference",
                    f"{what} names unknown agreement {po.agreement!r}",
                    purchase_order=i,
                    agreement=po.agreement,
                )
                ok = False
            ok &= self._check_period(po.period, what, purchase_order=i, agreement=po.agreement)
            ok &= self._check_quantity(po.quantity, what, purchase_order=i, agreement=po.agreement)
            if not ok or agreement is None:
                continue
            totals[(agreement.id, po.period)] += po.quantity
            # Arrival may lie beyond the horizon: the order still costs but brings nothing.
            arrival = po.period + self.horizon.lead_periods(agreement.lead_time_days)
            if agreement.role == Role.DROPSHIP:
                self._read_dropship(i, po, agreement, arrival)
                continue
            if po.lines:
                self._report(
                    "lines_on_stock_agreement",
                    f"{what} on {agreement.id} lists order lines, but {agreement.id} is a "
                    f"{agreement.role.value} agreement that delivers into stock, not a dropship",
                    purchase_order=i,
                    agreement=agreement.id,
                )
            if arrival < self.periods and agreement.location is not None:
                self._move(agreement.sku, agreement.location, arrival, po.quantity)
        return totals

    def _read_dropship(self, i: int, po: PurchaseOrder, agreement: Agreement, arrival: int) -> None:
        what = f"dropship purchase order {i} on {agreement.id}"
        if not po.lines:
            if po.quantity > 0:
                self._report(
                    "dropship_missing_lines",
                    f"{what} orders {po.quantity} units but names no order lines to deliver to",
                    purchase_order=i,
                    agreement=agreement.id,
                )
            return
        listed = sum(entry.quantity for entry in po.lines)
        if listed != po.quantity:
            self._report(
                "dropship_lines_sum",
                f"{what} orders {po.quantity} units but its lines sum to {listed}",
                purchase_order=i,
                agreement=agreement.id,
            )
        for entry in po.lines:
            entities: dict[str, str | int] = {
                "purchase_order": i,
                "agreement": agreement.id,
                "order": entry.order,
                "line": entry.line,
            }
            if not self._check_quantity(entry.quantity, f"{what}, line entry", **entities):
                continue
            found = self._find_line(entry.order, entry.line, entry.quantity, what, **entities)
            if found is None or entry.quantity == 0:
                continue
            order, line = found
            if order.ship_complete:
                self._report(
                    "ship_complete_dropship",
                    f"{what} delivers to {order.id}, a ship-complete order: it takes no dropship",
                    **entities,
                )
            if line.sku != agreement.sku:
                # Units of another SKU do not fill the line: not counted as delivered.
                self._report(
                    "dropship_wrong_sku",
                    f"{what} supplies {agreement.sku} but {order.id} line {line.index} orders "
                    f"{line.sku}",
                    sku=agreement.sku,
                    **entities,
                )
                continue
            self._deliver(line, arrival, entry.quantity, what, None, period=arrival, **entities)

    def _read_shipments(self, plan: Decisions) -> None:
        for i, shipment in enumerate(plan.shipments):
            what = f"shipment {i}"
            entities: dict[str, str | int] = {
                "shipment": i,
                "order": shipment.order,
                "line": shipment.line,
                "location": shipment.location,
            }
            order = self.orders.get(shipment.order)
            ok = True
            if order is None:
                self._report(
                    "unknown_reference",
                    f"{what} names unknown order {shipment.order!r}",
                    **entities,
                )
                ok = False
            elif not 0 <= shipment.line < len(order.lines):
                self._report(
                    "unknown_reference",
                    f"{what} names line {shipment.line} of {order.id}, which has "
                    f"{len(order.lines)} line(s)",
                    **entities,
                )
                ok = False
            if shipment.location not in self.locations:
                self._report(
                    "unknown_reference",
                    f"{what} names unknown location {shipment.location!r}",
                    **entities,
                )
                ok = False
            ok &= self._check_period(shipment.period, what, **entities)
            ok &= self._check_quantity(shipment.quantity, what, **entities)
            if not ok or order is None:
                continue
            entities["period"] = shipment.period
            units = shipment.quantity
            self.shipped[(order.id, shipment.line, shipment.location, shipment.period)] += units
            sku = order.lines[shipment.line].sku
            self._move(sku, shipment.location, shipment.period, -units)
            if order.ship_cost is not None:
                if shipment.location in order.ship_cost:
                    self.shipping += order.ship_cost[shipment.location] * units
                elif units > 0:
                    allowed = ", ".join(sorted(order.ship_cost)) or "no location"
                    self._report(
                        "ship_from_not_allowed",
                        f"{what} sends {order.id} line {shipment.line} from {shipment.location}, "
                        f"but {order.id} may ship only from {allowed}",
                        **entities,
                    )
            found = self._find_line(order.id, shipment.line, units, what, **entities)
            if found is not None:
                self._deliver(found[1], shipment.period, units, what, shipment.location, **entities)

    def _read_forecast_fills(self, plan: Decisions) -> dict[tuple[str, str, int], int]:
        """Take every fill out of stock; return the units filled per (sku, location, period)."""
        filled: dict[tuple[str, str, int], int] = defaultdict(int)
        for i, fill in enumerate(plan.forecast_fills):
            what = f"forecast fill {i}"
            entities: dict[str, str | int] = {
                "forecast_fill": i,
                "sku": fill.sku,
                "location": fill.location,
            }
            ok = True
            if fill.sku not in self.items:
                self._report(
                    "unknown_reference", f"{what} names unknown SKU {fill.sku!r}", **entities
                )
                ok = False
            if fill.location not in self.locations:
                self._report(
                    "unknown_reference",
                    f"{what} names unknown location {fill.location!r}",
                    **entities,
                )
                ok = False
            ok &= self._check_period(fill.period, what, **entities)
            ok &= self._check_quantity(fill.quantity, what, **entities)
            if not ok:
                continue
            self._move(fill.sku, fill.location, fill.period, -fill.quantity)
            filled[(fill.sku, fill.location, fill.period)] += fill.quantity
        return filled

    # ------------------------------------------------------------------ checks

    def _check_purchase_totals(self, totals: dict[tuple[str, int], int]) -> None:
        """Pack size, MOQ and capacity hold per agreement and period, on the summed quantity."""
        for (agreement_id, period), quantity in totals.items():
            agreement = self.agreements[agreement_id]
            where = f"{agreement_id} orders {quantity} units in period {period}"
            entities: dict[str, str | int] = {"agreement": agreement_id, "period": period}
            if quantity % agreement.pack_size != 0:
                self._report(
                    "pack_size",
                    f"{where}, not a multiple of its pack size {agreement.pack_size}",
                    **entities,
                )
            if 0 < quantity < agreement.moq:
                self._report(
                    "moq", f"{where}, below its minimum order quantity {agreement.moq}", **entities
                )
            capacity = agreement.capacity_per_period
            if capacity is not None and quantity > capacity:
                self._report(
                    "capacity", f"{where}, above its capacity of {capacity} per period", **entities
                )
        for agreement in self.problem.agreements:
            limit = agreement.max_change_per_period
            if limit is None:
                continue
            for period in range(1, self.periods):
                before = totals.get((agreement.id, period - 1), 0)
                now = totals.get((agreement.id, period), 0)
                if abs(now - before) > limit:
                    self._report(
                        "order_smoothing",
                        f"{agreement.id} orders {before} units in period {period - 1} and {now} in period "
                        f"{period}, a change above its limit of {limit}",
                        agreement=agreement.id,
                        period=period,
                    )

    def _check_partial_shipments(self) -> None:
        """A shipment of a line that leaves it short carries at least the order's ``min_partial_shipment``.

        A shipment is the units of one line from one warehouse in one period (entries
        for the same line, warehouse and period add up). It leaves the line short when
        everything delivered to the line up to and including that period, by shipments
        and dropships, is below its quantity. Dropship deliveries count towards the
        line but are no shipments: they have no minimum of their own.
        """
        default = self.problem.settings.min_partial_shipment
        for (order_id, index, location, period), units in self.shipped.items():
            order = self.orders[order_id]
            minimum = order.min_partial_shipment if order.min_partial_shipment is not None else default
            line = self.lines.get((order_id, index))
            if units <= 0 or units >= minimum or line is None:  # no line: reported as beyond the horizon
                continue
            delivered = sum(u for p, u in line.deliveries if p <= period)
            if delivered < line.quantity:
                self._report(
                    "min_partial_shipment",
                    f"{order_id} line {index} ({line.sku}) gets {units} units from {location} in period "
                    f"{period}, which leaves it at {delivered} of {line.quantity}: a partial shipment carries "
                    f"at least {minimum}",
                    order=order_id,
                    line=index,
                    location=location,
                    period=period,
                )

    def _check_lines(self) -> None:
        """No line receives more than it ordered; ship-complete orders come whole or not at all."""
        for line in self.lines.values():
            delivered = sum(units for _, units in line.deliveries)
            if delivered > line.quantity:
                self._report(
                    "line_overdelivered",
                    f"{line.order} line {line.index} ({line.sku}) receives {delivered} units but "
                    f"orders {line.quantity}",
                    order=line.order,
                    line=line.index,
                    sku=line.sku,
                )
        for order in self.problem.orders:
            if not order.ship_complete or order.id in self.beyond_horizon:
                continue
            lines = [self.lines[(order.id, j)] for j in range(len(order.lines))]
            periods = sorted({period for line in lines for period, _ in line.deliveries})
            if not periods:
                continue  # not at all: allowed
            if len(periods) > 1:
                listed = ", ".join(str(p) for p in periods)
                self._report(
                    "ship_complete_split",
                    f"{order.id} is ship-complete but is delivered over periods {listed}",
                    order=order.id,
                )
                continue
            short = [
                f"line {line.index} gets {sum(u for _, u in line.deliveries)} of {line.quantity}"
                for line in lines
                if sum(u for _, u in line.deliveries) < line.quantity
            ]
            if short:
                self._report(
                    "ship_complete_split",
                    f"{order.id} is ship-complete but is only partly delivered in period "
                    f"{periods[0]} ({'; '.join(short)})",
                    order=order.id,
                    period=periods[0],
                )

    # ------------------------------------------------------------------ policies

    def _policy_violations(self) -> list[Violation]:
        """Where the plan breaks ``settings.policy`` (spec §Allocation policies).

        Only lines of orders that are not ship-complete are compared: taking one
        unit from, or giving one to, a ship-complete order is never a feasible swap.
        """
        policy = self.problem.settings.policy
        found: list[Violation] = []
        if policy in ("priority", "priority_fair_share"):
            found += self._priority_violations()
        if policy in ("fair_share", "priority_fair_share"):
            # Ties follow age under the combined policy, and under fair_share once orders are dated.
            by_age = policy == "priority_fair_share" or any(o.ordered is not None for o in self.problem.orders)
            found += self._fair_share_violations(by_age)
        return found

    def _competing_lines(self) -> dict[str, list[_Line]]:
        by_sku: dict[str, list[_Line]] = defaultdict(list)
        for line in self.lines.values():
            if not line.ship_complete and line.first <= line.last:
                by_sku[line.sku].append(line)
        return by_sku

    def _priority_violations(self) -> list[Violation]:
        """A unit a lower-priority line got at (warehouse, t) that a higher one could have taken.

        The higher line ``A`` could take it when ``t`` lies in its window, it may ship
        from that warehouse (a dropship unit can go to any line of the SKU), and it
        is not yet whole by ``max(t, d_A)``; then the swap leaves every stock level as
        it was and makes ``A`` less late or less lost.
        """
        found: list[Violation] = []
        for lines in self._competing_lines().values():
            for high in lines:
                for low in lines:
                    if low.priority <= high.priority:
                        continue
                    for period, source, units in low.sources:
                        if units <= 0 or not high.first <= period <= high.last:
                            continue
                        if source is not None and high.allowed is not None and source not in high.allowed:
                            continue
                        by = max(period, high.due)
                        got = sum(u for p, u in high.deliveries if p <= by)
                        if got < high.quantity:
                            where = "by dropship" if source is None else f"from {source}"
                            found.append(Violation(
                                "priority",
                                f"{low.order} line {low.index} (priority {low.priority}) receives {units} units "
                                f"of {low.sku} {where} in period {period} while {high.order} line {high.index} "
                                f"(priority {high.priority}) has {got} of {high.quantity} by period {by}",
                                {"order": high.order, "line": high.index, "period": by},
                            ))
                            break
        return found

    def _fair_share_violations(self, by_age: bool = False) -> list[Violation]:
        """Equal lines whose fill fractions could be evened out by moving one unit.

        Lines are equal when they share SKU, priority, earliest period and allowed
        warehouses (so every unit one received the other could have received); at a
        period ``t`` they compete when both are due by ``t`` and ``t ≤ ℓ`` for both.
        Moving a unit from ``j`` to ``i`` raises the smaller of their fractions
        exactly when ``(D_j - 1) / q_j > D_i / q_i``. With ``by_age``, a move that
        leaves the split as fair (``(D_j - 1) / q_j = D_i / q_i``) must not be open
        towards an older order ``i``: the tie was its to win.
        """
        groups: dict[tuple[str, int, int, frozenset[str] | None], list[_Line]] = defaultdict(list)
        for sku, lines in self._competing_lines().items():
            for line in lines:
                groups[(sku, line.priority, line.first, line.allowed)].append(line)
        found: list[Violation] = []
        for (sku, _, _, _), lines in groups.items():
            if len(lines) < 2:
                continue
            for period in range(self.periods):
                here = [ln for ln in lines if ln.due <= period <= ln.last]
                got = {id(ln): sum(u for p, u in ln.deliveries if p <= period) for ln in here}
                for low in here:
                    for high in here:
                        d_low, d_high = got[id(low)], got[id(high)]
                        if (d_high - 1) * low.quantity > d_low * high.quantity:
                            found.append(Violation(
                                "fair_share",
                                f"by period {period}, {high.order} line {high.index} has {d_high} of "
                                f"{high.quantity} units of {sku} and {low.order} line {low.index} only {d_low} "
                                f"of {low.quantity}: one unit moved would even them out",
                                {"order": low.order, "line": low.index, "period": period},
                            ))
                        elif (by_age and low is not high and d_high >= 1
                              and (d_high - 1) * low.quantity == d_low * high.quantity
                              and self._older(low, high)):
                            found.append(Violation(
                                "fair_share_tie",
                                f"by period {period}, {high.order} line {high.index} has {d_high} of "
                                f"{high.quantity} units of {sku} and the older {low.order} line {low.index} "
                                f"{d_low} of {low.quantity}: the tie goes to the older order",
                                {"order": low.order, "line": low.index, "period": period},
                            ))
        return found

    @staticmethod
    def _older(a: _Line, b: _Line) -> bool:
        """Whether ``a``'s order comes before ``b``'s for ties: dated before undated, older date, smaller id."""
        key_a = (a.placed is None, a.placed or date.min, a.order)
        key_b = (b.placed is None, b.placed or date.min, b.order)
        return key_a < key_b

    # ------------------------------------------------------------------ costs

    def _stock_balance(self) -> tuple[float, float]:
        """Report negative stock; return (holding, safety_stock) costs.

        ``I(t) = I(t-1) + inbound(t) + arrivals(t) - shipped(t) - filled(t)``,
        ``I(-1) = on_hand``; an infeasible plan is priced on ``max(0, I(t))``.
        """
        n_rows, n_periods = len(self.on_hand), self.periods
        # float64 rather than int64: exact for any sane quantity and cannot overflow on a bad plan.
        flow = np.zeros((n_rows, n_periods), dtype=np.float64)
        if self.moves:
            rows, periods, units = zip(*self.moves, strict=True)
            np.add.at(flow, (np.array(rows), np.array(periods)), np.array(units, dtype=np.float64))
        level = np.asarray(self.on_hand, dtype=np.float64)[:, None] + np.cumsum(flow, axis=1)

        key_of = {row: key for key, row in self.row_of.items()}
        for row, period in np.argwhere(level < 0):
            sku, location = key_of[int(row)]
            short = int(-level[row, period])
            self._report(
                "stock_negative",
                f"{sku} at {location} is short by {short} units in period {int(period)}",
                sku=sku,
                location=location,
                period=int(period),
            )

        stocked = np.maximum(level, 0.0)
        holding = float((stocked * np.asarray(self.holding_cost)[:, None]).sum())
        shortfall = np.maximum(
            np.asarray(self.safety_stock, dtype=np.float64)[:, None] - stocked, 0.0
        )
        safety = float((shortfall * np.asarray(self.safety_stock_cost)[:, None]).sum())
        return holding, safety

    def _line_costs(self) -> tuple[float, float]:
        """Return (backorder, lost_sales) over the order lines.

        Backorder: ``backorder_cost × max(0, quantity - delivered(t))`` for every
        ``t`` in ``d..ℓ``; lost sales: ``lost_sale_cost × max(0, quantity - delivered(ℓ))``.
        """
        backorder = lost_sales = 0.0
        for line in self.lines.values():
            open_unit_periods, delivered_by_last = _open_unit_periods(line)
            backorder += line.backorder_cost * open_unit_periods
            lost_sales += line.lost_sale_cost * max(0, line.quantity - delivered_by_last)
        return backorder, lost_sales

    def _forecast_lost_sales(self, filled: dict[tuple[str, str, int], int]) -> float:
        total = 0.0
        for (sku, location, period), forecast in self.forecast.items():
            item = self.items.get(sku)
            unfilled = max(0, forecast - filled.get((sku, location, period), 0))
            total += (item.lost_sale_cost if item is not None else 0.0) * unfilled
        return total

    def _shipment_fees(self) -> float:
        """The order's ``shipment_cost`` once per shipment: an (order, location, period) with a positive quantity.

        The units of every line of the order from that warehouse in that period count
        together (one parcel); dropships are the supplier's deliveries, not shipments.
        """
        default = self.problem.settings.shipment_cost
        parcels: dict[tuple[str, str, int], int] = defaultdict(int)
        for (order_id, _, location, period), units in self.shipped.items():
            parcels[(order_id, location, period)] += units
        total = 0.0
        for (order_id, _, _), units in parcels.items():
            if units > 0:
                fee = self.orders[order_id].shipment_cost
                total += default if fee is None else fee
        return total

    def _purchase_cost(self, totals: dict[tuple[str, int], int]) -> float:
        """All-units price of the summed quantity, per agreement and period."""
        return sum((self.agreements[a].price_at(q) * q for (a, _), q in totals.items()), start=0.0)

    def _order_fixed_cost(self, totals: dict[tuple[str, int], int]) -> float:
        """A supplier's order_cost once per period in which anything positive is ordered from it."""
        ordering = {
            (self.agreements[a].supplier, period) for (a, period), q in totals.items() if q > 0
        }
        total = 0.0
        for supplier_id, _ in ordering:
            supplier = self.suppliers.get(supplier_id)
            total += supplier.order_cost if supplier is not None else 0.0
        return total


def _open_unit_periods(line: _Line, start: int | None = None) -> tuple[int, int]:
    """Sum of ``max(0, quantity - delivered(t))`` over ``t`` in ``d..ℓ``, and ``delivered(ℓ)``.

    ``start`` replaces ``d`` (the promise-slip penalty counts from the promised period).
    A ``start`` after ``ℓ`` leaves no period to sum: 0, never a negative count (a
    promise after the line's ``latest`` costs nothing, as in the model).
    ``delivered(t)`` is a step function that only changes at delivery periods, so
    the sum is taken piecewise between them rather than period by period.
    """
    total = 0
    delivered = 0
    t = line.due if start is None else start  # first period not yet summed
    for period, units in sorted(line.deliveries):
        if period > line.last:
            break
        if period > t:
            total += max(0, line.quantity - delivered) * (period - t)
            t = period
        delivered += units
    total += max(0, line.quantity - delivered) * max(0, line.last - t + 1)
    return total, delivered
