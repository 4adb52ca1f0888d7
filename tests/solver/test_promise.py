"""Tests of promise quotes (:mod:`stockplan.solver.promise`).

Every quote is checked honestly: the prospective order is appended to the problem
(due on the quoted date), what the quote names is added to the plan (a shipment, a
purchase-order quantity, a dropship), and the independent evaluator must find the
result feasible, with the quote's estimated cost equal to the change in purchase,
fixed-order and shipping cost. Then every earlier period is tried by brute force
over the same sources and must fail.

Hand-made problems start from :func:`problem`: six weekly periods from Monday
2026-12-07, one SKU ``X`` (10 on hand at WH-1, none at WH-2), suppliers SUP-A
(order cost 50) and SUP-B (none), no orders and no agreements.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from benchmarks.generator import generate
from stockplan.models.plan import Costs, Decisions, DropshipLine, Plan, PurchaseOrder, Shipment, Status
from stockplan.models.problem import Agreement, Problem
from stockplan.models.promise import PromiseQuote, PromiseRequest
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.promise import PromiseError, PromiseIndex, UnknownReferenceError, promise
from tests.conftest import example

START = date(2026, 12, 7)
PROSPECT = "PROSPECT"


def day(period: int, offset: int = 0) -> str:
    """ISO date of the first day of ``period`` (plus ``offset`` days)."""
    return (START + timedelta(days=7 * period + offset)).isoformat()


def problem(**changes: Any) -> Problem:
    """The base problem with top-level fields replaced by ``changes``, validated."""
    data: dict[str, Any] = {
        "horizon": {"start": START.isoformat(), "periods": 6, "period_days": 7},
        "items": [{"sku": "X", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 10.0}],
        "locations": [{"id": "WH-1"}, {"id": "WH-2"}],
        "stock": [{"sku": "X", "location": "WH-1", "on_hand": 10}],
        "suppliers": [{"id": "SUP-A", "order_cost": 50.0}, {"id": "SUP-B", "order_cost": 0.0}],
    }
    data.update(changes)
    return load_problem(data)


def agreement(id: str, **fields: Any) -> dict[str, Any]:
    """A primary agreement for X into WH-1 from SUP-A (lead 1 period, unit cost 5), with ``fields`` replaced."""
    return {"id": id, "supplier": "SUP-A", "sku": "X", "role": "primary", "location": "WH-1",
            "unit_cost": 5.0, "lead_time_days": 7} | fields


def order(id: str, quantity: int, due: int, sku: str = "X", **fields: Any) -> dict[str, Any]:
    return {"id": id, "customer": "c", "due": day(due), "lines": [{"sku": sku, "quantity": quantity}]} | fields


def req(quantity: int, **fields: Any) -> PromiseRequest:
    return PromiseRequest(sku=fields.pop("sku", "X"), quantity=quantity, **fields)


# --------------------------------------------------------------------------- the honest check


def first_period(p: Problem, request: PromiseRequest) -> int:
    return 0 if request.earliest is None else p.horizon.period_of(request.earliest)


def with_prospect(p: Problem, request: PromiseRequest, due: int) -> Problem:
    """``p`` with the prospective order appended, due in period ``due``."""
    data = p.model_dump(mode="json")
    new: dict[str, Any] = {"id": PROSPECT, "customer": "prospect", "due": p.horizon.date_of(due).isoformat(),
                           "lines": [{"sku": request.sku, "quantity": request.quantity}]}
    if request.earliest is not None:
        new["earliest"] = request.earliest.isoformat()
    if request.ship_cost is not None:
        new["ship_cost"] = request.ship_cost
    data["orders"].append(new)
    return load_problem(data)


def allowed_locations(p: Problem, request: PromiseRequest) -> list[str]:
    locs = [loc.id for loc in p.locations]
    if request.locations is not None:
        locs = [loc for loc in locs if loc in request.locations]
    if request.ship_cost is not None:
        locs = [loc for loc in locs if loc in request.ship_cost]
    return locs


def planned_total(plan: Decisions, agreement_id: str, period: int) -> int:
    return sum(po.quantity for po in plan.purchase_orders if po.agreement == agreement_id and po.period == period)


def fulfil(plan: Decisions, request: PromiseRequest, *, source: str, period: int, location: str | None = None,
           agreement_id: str | None = None, purchase_period: int | None = None, added: int = 0) -> Decisions:
    """``plan`` plus the prospective order's fulfilment from ``source``."""
    q = request.quantity
    shipments = list(plan.shipments)
    purchases = list(plan.purchase_orders)
    if source == "dropship":
        assert agreement_id is not None and purchase_period is not None
        purchases.append(PurchaseOrder(agreement=agreement_id, period=purchase_period, quantity=q,
                                       lines=[DropshipLine(order=PROSPECT, line=0, quantity=q)]))
    else:
        assert location is not None
        shipments.append(Shipment(order=PROSPECT, line=0, location=location, period=period, quantity=q))
        if source == "new_purchase_order":
            assert agreement_id is not None and purchase_period is not None
            purchases.append(PurchaseOrder(agreement=agreement_id, period=purchase_period, quantity=added))
    return Decisions(shipments=shipments, forecast_fills=list(plan.forecast_fills), purchase_orders=purchases)


def smoothing_ok(p: Problem, plan: Decisions) -> bool:
    """``|q(t) - q(t-1)| <= max_change_per_period`` for consecutive periods of every agreement that has one."""
    for a in p.agreements:
        if a.max_change_per_period is None:
            continue
        q = [planned_total(plan, a.id, t) for t in range(p.horizon.periods)]
        if any(abs(q[t] - q[t - 1]) > a.max_change_per_period for t in range(1, len(q))):
            return False
    return True


def lawful_total(a: Agreement, total: int, before: int | None, after: int | None) -> bool:
    """Spec §4 (pack, MOQ, capacity) and the smoothing limit against the neighbouring periods."""
    if total % a.pack_size or 0 < total < a.moq:
        return False
    if a.capacity_per_period is not None and total > a.capacity_per_period:
        return False
    limit = a.max_change_per_period
    return limit is None or all(abs(total - n) <= limit for n in (before, after) if n is not None)


def acceptable(p: Problem, plan: Decisions) -> bool:
    return evaluate(p, plan).feasible and smoothing_ok(p, plan)


def deliverable_at(p: Problem, plan: Decisions, request: PromiseRequest, t: int) -> list[str]:
    """Brute force: every source that delivers the whole quantity in period ``t``, tried with the evaluator.

    A stock agreement is tried in every placement period with the largest lawful total
    in a range that holds the smallest sufficient one, if any: more units arriving never
    make stock shorter, so when that total fails every smaller one fails too.
    """
    T, q = p.horizon.periods, request.quantity
    augmented = with_prospect(p, request, t)
    found = [f"stock at {loc}" for loc in allowed_locations(p, request)
             if acceptable(augmented, fulfil(plan, request, source="stock", period=t, location=loc))]
    for a in p.agreements:
        if a.sku != request.sku:
            continue
        lead = p.horizon.lead_periods(a.lead_time_days)
        if a.role == "dropship":
            s = t - lead
            ok = request.allow_dropship and s >= 0 and acceptable(augmented, fulfil(
                plan, request, source="dropship", period=t, agreement_id=a.id, purchase_period=s))
            if ok:
                found.append(f"dropship {a.id} placed in {s}")
            continue
        if a.location not in allowed_locations(p, request):
            continue
        for s in range(t - lead + 1):
            q0 = planned_total(plan, a.id, s)
            before = planned_total(plan, a.id, s - 1) if s > 0 else None
            after = planned_total(plan, a.id, s + 1) if s < T - 1 else None
            bound = q + a.moq + a.pack_size + max(before or 0, after or 0) + (a.max_change_per_period or 0)
            added = next((k for k in range(bound, 0, -1) if lawful_total(a, q0 + k, before, after)), None)
            if added is not None and acceptable(augmented, fulfil(
                    plan, request, source="new_purchase_order", period=t, location=a.location, agreement_id=a.id,
                    purchase_period=s, added=added)):
                found.append(f"{a.id} placed in {s} (+{added})")
    return found


def purchase_and_shipping(p: Problem, plan: Decisions) -> float:
    costs = evaluate(p, plan).costs
    return costs.purchase + costs.order_fixed + costs.shipping


def check_fulfilment(p: Problem, plan: Decisions, request: PromiseRequest, quote: PromiseQuote) -> None:
    """Adding what ``quote`` names to the plan keeps it feasible, at the quoted incremental cost."""
    assert quote.feasible and quote.period is not None and quote.estimated_cost is not None
    assert quote.period >= first_period(p, request)
    assert quote.date == p.horizon.date_of(quote.period)
    added = 0
    if quote.source == "dropship":
        assert quote.location is None and quote.agreement is not None and quote.purchase_period is not None
        assert quote.purchase_order_quantity == planned_total(plan, quote.agreement, quote.purchase_period) \
            + request.quantity
    else:
        assert quote.location in allowed_locations(p, request)
    if quote.source == "new_purchase_order":
        assert quote.agreement is not None and quote.purchase_period is not None
        assert quote.purchase_order_quantity is not None
        added = quote.purchase_order_quantity - planned_total(plan, quote.agreement, quote.purchase_period)
        assert added > 0
    if quote.source == "planned_purchase_order":
        assert quote.agreement is not None and quote.purchase_period is not None
        assert quote.purchase_order_quantity == planned_total(plan, quote.agreement, quote.purchase_period) > 0
    if quote.source in ("stock", "planned_purchase_order"):
        assert quote.purchase_order_quantity is None or quote.source == "planned_purchase_order"
    augmented = with_prospect(p, request, quote.period)
    new_plan = fulfil(plan, request, source=str(quote.source), period=quote.period, location=quote.location,
                      agreement_id=quote.agreement, purchase_period=quote.purchase_period, added=added)
    verdict = evaluate(augmented, new_plan)
    assert verdict.feasible, [v.message for v in verdict.violations]
    assert smoothing_ok(augmented, new_plan)
    delta = purchase_and_shipping(augmented, new_plan) - purchase_and_shipping(p, plan)
    assert quote.estimated_cost == pytest.approx(delta, abs=1e-6)


def check_quote(p: Problem, plan: Decisions, request: PromiseRequest, quote: PromiseQuote) -> None:
    """The quote and its alternatives can be fulfilled; no source delivers in any earlier period."""
    T = p.horizon.periods
    if quote.feasible:
        check_fulfilment(p, plan, request, quote)
        assert quote.source not in {alt.source for alt in quote.alternatives}
        for alt in quote.alternatives:
            assert alt.alternatives == []
            check_fulfilment(p, plan, request, alt)
            assert alt.period is not None and quote.period is not None and alt.estimated_cost is not None
            assert (alt.period, alt.estimated_cost) >= (quote.period, quote.estimated_cost)
        last = quote.period
    else:
        assert quote.period is None and quote.date is None and quote.source is None and quote.message
        last = T
    assert last is not None
    for t in range(first_period(p, request), min(last, T)):
        assert deliverable_at(p, plan, request, t) == [], f"period {t} is earlier than quoted: {quote.message}"


def quote_and_check(p: Problem, plan: Decisions, request: PromiseRequest) -> PromiseQuote:
    quote = PromiseIndex(p, plan).quote(request)
    check_quote(p, plan, request, quote)
    return quote


# --------------------------------------------------------------------------- stock


def test_stock_on_hand_now() -> None:
    p, plan = problem(), Decisions()
    quote = quote_and_check(p, plan, req(4))
    assert (quote.feasible, quote.source, quote.period, quote.location) == (True, "stock", 0, "WH-1")
    assert quote.date == START
    assert quote.estimated_cost == 0.0
    assert quote.agreement is None and quote.purchase_period is None and quote.purchase_order_quantity is None
    assert quote.alternatives == []
    assert quote.message == "4 units from WH-1 stock on 2026-12-07"


def test_quote_of_a_solved_plan_round_trips_as_json() -> None:
    p = problem(orders=[order("SO-1", 8, due=1)])
    plan = Plan(status=Status.FEASIBLE, cost=0.0, costs=Costs(),
                shipments=[Shipment(order="SO-1", line=0, location="WH-1", period=1, quantity=8)])
    quote = promise(p, plan, {"sku": "X", "quantity": 2, "earliest": day(1, 3)})
    assert (quote.source, quote.period, quote.date) == ("stock", 1, date(2026, 12, 14))
    assert PromiseQuote.model_validate_json(quote.model_dump_json()) == quote


def test_stock_pays_the_requests_shipping_cost() -> None:
    p, plan = problem(), Decisions()
    quote = quote_and_check(p, plan, req(4, ship_cost={"WH-1": 1.5, "WH-2": 0.1}))
    assert (quote.source, quote.location, quote.estimated_cost) == ("stock", "WH-1", 6.0)


def test_stock_committed_to_a_later_shipment_waits_for_inbound() -> None:
    # 10 on hand, but SO-1 takes 8 in period 1: only 2 are free before the inbound 6 of period 3.
    p = problem(orders=[order("SO-1", 8, due=1)], inbound=[{"sku": "X", "location": "WH-1", "quantity": 6,
                                                            "arrives": day(3, 2)}])
    plan = Decisions(shipments=[Shipment(order="SO-1", line=0, location="WH-1", period=1, quantity=8)])
    index = PromiseIndex(p, plan)
    assert index.projected[0].tolist() == [10, 2, 2, 8, 8, 8]
    assert [index.available("X", "WH-1", t) for t in range(6)] == [2, 2, 2, 8, 8, 8]

    assert quote_and_check(p, plan, req(2)).period == 0
    later = quote_and_check(p, plan, req(5))
    assert (later.source, later.period, later.date, later.location) == ("stock", 3, date(2026, 12, 28), "WH-1")
    assert quote_and_check(p, plan, req(5, earliest=day(4, 3))).period == 4
    none = quote_and_check(p, plan, req(9))
    assert not none.feasible


def test_ties_go_to_the_cheaper_then_the_first_location() -> None:
    p = problem(stock=[{"sku": "X", "location": loc, "on_hand": 10} for loc in ("WH-1", "WH-2")])
    plan = Decisions()
    assert quote_and_check(p, plan, req(4, ship_cost={"WH-1": 2.0, "WH-2": 1.0})).location == "WH-2"
    assert quote_and_check(p, plan, req(4, ship_cost={"WH-1": 1.0, "WH-2": 1.0})).location == "WH-1"
    assert quote_and_check(p, plan, req(4, locations=["WH-2"])).location == "WH-2"
    assert quote_and_check(p, plan, req(4, locations=["WH-2"], ship_cost={"WH-1": 0.0})).feasible is False


def test_stock_beats_a_free_purchase_order_in_the_same_period() -> None:
    p = problem(stock=[], inbound=[{"sku": "X", "location": "WH-1", "quantity": 5, "arrives": day(1)}],
                agreements=[agreement("AG-Z", supplier="SUP-B", location="WH-2", unit_cost=0.0)])
    quote = quote_and_check(p, Decisions(), req(4))
    assert (quote.source, quote.period, quote.location, quote.estimated_cost) == ("stock", 1, "WH-1", 0.0)
    assert [(a.source, a.period, a.location, a.agreement) for a in quote.alternatives] == [
        ("new_purchase_order", 1, "WH-2", "AG-Z")]


# --------------------------------------------------------------------------- planned purchase orders


def planned_po_case() -> tuple[Problem, Decisions]:
    """AG-P (lead 2, pack 10) brings 20 in period 2, of which SO-1 takes 12: 8 spare, none on hand."""
    p = problem(stock=[], orders=[order("SO-1", 12, due=2)],
                agreements=[agreement("AG-P", lead_time_days=14, pack_size=10)])
    plan = Decisions(purchase_orders=[PurchaseOrder(agreement="AG-P", period=0, quantity=20)],
                     shipments=[Shipment(order="SO-1", line=0, location="WH-1", period=2, quantity=12)])
    return p, plan


def test_spare_of_a_planned_purchase_order_names_it() -> None:
    p, plan = planned_po_case()
    quote = quote_and_check(p, plan, req(5))
    assert (quote.source, quote.period, quote.location) == ("planned_purchase_order", 2, "WH-1")
    assert (quote.agreement, quote.purchase_period, quote.purchase_order_quantity) == ("AG-P", 0, 20)
    assert quote.estimated_cost == 0.0
    assert "AG-P" in quote.message and quote.message.startswith("5 units from WH-1 on 2026-12-21")
    assert PromiseIndex(p, plan).available("X", "WH-1", 2, planned_purchases=False) == -12


def test_beyond_the_spare_the_planned_order_grows_by_whole_packs() -> None:
    p, plan = planned_po_case()
    quote = quote_and_check(p, plan, req(9))  # 8 spare: one more unit is a whole pack of 10
    assert (quote.source, quote.period, quote.agreement, quote.purchase_period) == ("new_purchase_order", 2, "AG-P", 0)
    assert quote.purchase_order_quantity == 30
    assert quote.estimated_cost == 50.0  # 10 more at 5; SUP-A already has an order in period 0


# --------------------------------------------------------------------------- new purchase orders


def moq_case(*others: dict[str, Any], **changes: Any) -> Problem:
    """3 on hand; AG-N: lead 1, MOQ 30, pack 12, capacity 48, 4.00 from 36 units; SUP-A's order cost 50.

    ``others`` are more agreements.
    """
    ag = agreement("AG-N", moq=30, pack_size=12, capacity_per_period=48,
                   price_breaks=[{"min_qty": 36, "unit_cost": 4.0}])
    return problem(stock=[{"sku": "X", "location": "WH-1", "on_hand": 3}], agreements=[ag, *others], **changes)


def test_new_purchase_order_respects_pack_moq_and_price_breaks() -> None:
    p, plan = moq_case(), Decisions()
    assert quote_and_check(p, plan, req(3)).source == "stock"
    quote = quote_and_check(p, plan, req(20))  # 17 short -> MOQ 30 -> 3 packs of 12
    assert (quote.source, quote.period, quote.location, quote.agreement) == ("new_purchase_order", 1, "WH-1", "AG-N")
    assert (quote.purchase_period, quote.purchase_order_quantity) == (0, 36)
    assert quote.estimated_cost == 36 * 4.0 + 50.0
    assert quote.message == ("20 units from WH-1 on 2026-12-14 with a new purchase order on AG-N (SUP-A) placed "
                             "2026-12-07 (period 0), bringing it to 36 units; estimated cost 194.00")
    full = quote_and_check(p, plan, req(51))  # 48 short: exactly the capacity
    assert (full.purchase_order_quantity, full.estimated_cost) == (48, 48 * 4.0 + 50.0)


def test_new_purchase_order_above_capacity_is_not_promised() -> None:
    quote = quote_and_check(moq_case(), Decisions(), req(52))  # 49 short: 60 > capacity 48
    assert not quote.feasible
    assert quote.message.startswith("no stock and no agreement can deliver 52 units of X within the horizon")


def test_new_purchase_order_waits_for_earliest_and_reuses_an_ordering_period() -> None:
    p = moq_case()
    late = quote_and_check(p, Decisions(), req(20, earliest=day(3)))
    assert (late.period, late.purchase_period, late.estimated_cost) == (3, 2, 194.0)  # latest placement on a tie
    # With SUP-A already ordering (another SKU) in period 0, placing then saves its order cost.
    p = moq_case(agreement("AG-Y", sku="Y", location="WH-2", unit_cost=1.0),
                 items=[*(i.model_dump() for i in p.items), {"sku": "Y", "lost_sale_cost": 1.0}])
    plan = Decisions(purchase_orders=[PurchaseOrder(agreement="AG-Y", period=0, quantity=1)])
    quote = quote_and_check(p, plan, req(20, earliest=day(3)))
    assert (quote.period, quote.purchase_period, quote.estimated_cost) == (3, 0, 144.0)


def smoothing_case(limit: int | None) -> tuple[Problem, Decisions]:
    """AG-S orders 12, 24, 12 in periods 1-3 (lead 1); with a limit of 12 per period the plan is at its edges."""
    fields: dict[str, Any] = {"supplier": "SUP-B", "unit_cost": 2.0}
    if limit is not None:
        fields["max_change_per_period"] = limit
    p = problem(stock=[], agreements=[agreement("AG-S", **fields)])
    plan = Decisions(purchase_orders=[PurchaseOrder(agreement="AG-S", period=t, quantity=q)
                                      for t, q in ((1, 12), (2, 24), (3, 12))])
    return p, plan


def test_new_purchase_order_keeps_orders_smooth() -> None:
    p, plan = smoothing_case(limit=12)
    assert smoothing_ok(p, plan)
    # 30 in period 1 would need 30 ordered in period 0, 18 above period 1's 12. In period 2 the
    # planned 12 arrive too: 18 more ordered in period 0 (arriving in 1) are within the limit.
    quote = quote_and_check(p, plan, req(30))
    assert (quote.source, quote.period, quote.agreement, quote.purchase_period, quote.purchase_order_quantity) == (
        "new_purchase_order", 2, "AG-S", 0, 18)
    # 40 wait for the planned 24 of period 2, arriving in 3, and order 4 more for period 3.
    more = quote_and_check(p, plan, req(40))
    assert (more.period, more.purchase_period, more.purchase_order_quantity) == (3, 0, 4)
    assert [(a.source, a.period, a.agreement, a.purchase_period) for a in more.alternatives] == [
        ("planned_purchase_order", 4, "AG-S", 3)]
    small = quote_and_check(p, plan, req(20))  # 20 in period 0 is within 12 of period 1's 12
    assert (small.source, small.period, small.purchase_period, small.purchase_order_quantity) == (
        "new_purchase_order", 1, 0, 20)
    free_p, free_plan = smoothing_case(limit=None)
    unsmoothed = quote_and_check(free_p, free_plan, req(30))
    assert (unsmoothed.source, unsmoothed.period, unsmoothed.purchase_order_quantity) == ("new_purchase_order", 1, 30)


# --------------------------------------------------------------------------- dropship


def dropship_case(**changes: Any) -> Problem:
    """Nothing on hand; AG-D dropships X from SUP-B: lead 1, pack 5, MOQ 10, 6.00 a unit."""
    ag = agreement("AG-D", role="dropship", supplier="SUP-B", unit_cost=6.0, pack_size=5, moq=10)
    del ag["location"]
    return problem(stock=[], agreements=[ag], **changes)


def test_dropship_delivers_exactly_the_quantity() -> None:
    p = dropship_case()
    quote = quote_and_check(p, Decisions(), req(10))
    assert (quote.source, quote.period, quote.location, quote.agreement) == ("dropship", 1, None, "AG-D")
    assert (quote.purchase_period, quote.purchase_order_quantity, quote.estimated_cost) == (0, 10, 60.0)
    assert quote.message == ("10 units dropshipped by SUP-B on AG-D on 2026-12-14, ordered 2026-12-07 (period 0), "
                             "bringing it to 10 units; estimated cost 60.00")
    # A dropship to an order with ship_cost is allowed and pays no shipping.
    shipped = quote_and_check(p, Decisions(), req(10, ship_cost={"WH-2": 3.0}))
    assert (shipped.source, shipped.estimated_cost) == ("dropship", 60.0)
    assert quote_and_check(p, Decisions(), req(10, earliest=day(3))).purchase_period == 2


def test_dropship_cannot_round_up_nor_be_refused() -> None:
    p = dropship_case()
    odd = quote_and_check(p, Decisions(), req(7))  # not a multiple of the pack: no surplus can go anywhere
    assert not odd.feasible and "1 dropship agreement(s), none can take exactly 7 more units" in odd.message
    refused = quote_and_check(p, Decisions(), req(10, allow_dropship=False))
    assert not refused.feasible and "dropship not allowed" in refused.message


def test_dropship_adds_to_a_planned_dropship() -> None:
    p = dropship_case(orders=[order("SO-1", 10, due=1)])
    plan = Decisions(purchase_orders=[PurchaseOrder(agreement="AG-D", period=0, quantity=10,
                                                    lines=[DropshipLine(order="SO-1", line=0, quantity=10)])])
    quote = quote_and_check(p, plan, req(5))  # 5 alone is below the MOQ, 15 in all is not
    assert (quote.period, quote.purchase_period, quote.purchase_order_quantity, quote.estimated_cost) == (
        1, 0, 15, 30.0)


# --------------------------------------------------------------------------- nothing possible, bad input


def test_nothing_possible_says_why() -> None:
    quote = quote_and_check(problem(), Decisions(), req(40))
    assert not quote.feasible
    assert quote.period is None and quote.source is None and quote.estimated_cost is None
    assert quote.message.startswith("no stock and no agreement can deliver 40 units of X within the horizon")
    assert "at most 10 units are free at WH-1" in quote.message


def test_earliest_beyond_the_horizon_is_not_promised() -> None:
    quote = quote_and_check(problem(), Decisions(), req(1, earliest=day(6)))
    assert not quote.feasible and "beyond the horizon" in quote.message


def test_unknown_sku_or_location_is_a_value_error() -> None:
    index = PromiseIndex(problem(), Decisions())
    with pytest.raises(UnknownReferenceError, match="sku: unknown SKU 'NOPE'"):
        index.quote(req(1, sku="NOPE"))
    with pytest.raises(ValueError, match=r"locations\[1\]: unknown location 'WH-9'"):
        index.quote(req(1, locations=["WH-1", "WH-9"]))
    with pytest.raises(ValueError, match=r"ship_cost.WH-9: unknown location"):
        index.quote(req(1, ship_cost={"WH-9": 1.0}))


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"sku": "X", "quantity": 1, "qty": 2}, ("qty",)),
        ({"sku": "X", "quantity": 0}, ("quantity",)),
        ({"sku": "X", "quantity": "3"}, ("quantity",)),
        ({"sku": "X", "quantity": 2.0}, ("quantity",)),
        ({"sku": "X", "quantity": 1, "ship_cost": {"WH-1": float("inf")}}, ("ship_cost", "WH-1")),
        ({"sku": "X", "quantity": 1, "ship_cost": {"WH-1": -1.0}}, ("ship_cost", "WH-1")),
        ({"sku": "X", "quantity": 1, "locations": []}, ("locations",)),
        ({"sku": "X", "quantity": 1, "earliest": "someday"}, ("earliest",)),
        ({"quantity": 1}, ("sku",)),
    ],
)
def test_bad_request_names_the_field(data: dict[str, Any], path: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        PromiseRequest.model_validate(data)
    assert [e["loc"] for e in caught.value.errors()] == [path]
    with pytest.raises(ValueError):  # a dict given to quote() is validated the same way
        PromiseIndex(problem(), Decisions()).quote(data)


def test_infeasible_plan_is_refused() -> None:
    p = problem(orders=[order("SO-1", 12, due=0)])
    plan = Decisions(shipments=[Shipment(order="SO-1", line=0, location="WH-1", period=0, quantity=12)])
    with pytest.raises(PromiseError, match="X at WH-1 is short by 2 units in period 0"):
        PromiseIndex(p, plan)
    with pytest.raises(PromiseError, match="unknown agreement 'AG-9'"):
        PromiseIndex(p, Decisions(purchase_orders=[PurchaseOrder(agreement="AG-9", period=0, quantity=1)]))


# --------------------------------------------------------------------------- examples and generated problems


@pytest.mark.parametrize("name", ["three-customers", "mixed-small"])
def test_examples_with_their_greedy_plan(name: str) -> None:
    p = example(name)
    plan = greedy_plan(build_index(p))
    assert evaluate(p, plan).feasible
    index = PromiseIndex(p, plan)
    for item in p.items:
        for q in (1, 5, 25):
            request = req(q, sku=item.sku)
            quote = index.quote(request)
            assert quote == promise(p, plan, request)
            check_quote(p, plan, request, quote)


def random_request(p: Problem, rng: np.random.Generator) -> PromiseRequest:
    locs = [loc.id for loc in p.locations]
    fields: dict[str, Any] = {"sku": p.items[int(rng.integers(len(p.items)))].sku,
                              "quantity": int(rng.choice([1, 2, 3, 5, 8, 13, 30]))}
    if rng.random() < 0.25:
        fields["locations"] = [loc for loc in locs if rng.random() < 0.6] or locs[:1]
    if rng.random() < 0.3:
        fields["ship_cost"] = {loc: round(float(rng.uniform(0, 3)), 2) for loc in locs if rng.random() < 0.7}
    if rng.random() < 0.3:
        fields["earliest"] = p.horizon.date_of(0) + timedelta(days=int(rng.integers(-3, 7 * p.horizon.periods + 2)))
    if rng.random() < 0.2:
        fields["allow_dropship"] = False
    return PromiseRequest(**fields)


def with_smoothing_at_the_plans_edge(p: Problem, plan: Decisions) -> Problem:
    """``p`` where every agreement the plan uses may change by exactly its largest step in the plan."""
    data = p.model_dump(mode="json")
    for a in data["agreements"]:
        q = [planned_total(plan, a["id"], t) for t in range(p.horizon.periods)]
        if any(q):
            a["max_change_per_period"] = max(abs(q[t] - q[t - 1]) for t in range(1, len(q)))
    return load_problem(data)


def test_generated_tiny_problems_quotes_are_honest() -> None:
    """Random requests on generated problems with their greedy plans: every quote passes the honest check."""
    sources: dict[str | None, int] = {}
    waited = 0  # quotes later than the first allowed period: the brute force had periods to try
    for seed in range(30):
        # Every other problem has dropship agreements for every SKU; every third one smoothing limits.
        overrides = {"dropship_share": 1.0} if seed % 2 else {}
        p = load_problem(generate("tiny", seed, **overrides))
        plan = greedy_plan(build_index(p))
        if seed % 3 == 2:
            p = with_smoothing_at_the_plans_edge(p, plan)
        assert evaluate(p, plan).feasible and smoothing_ok(p, plan)
        index = PromiseIndex(p, plan)
        rng = np.random.default_rng(seed)
        for _ in range(10):
            request = random_request(p, rng)
            quote = index.quote(request)
            check_quote(p, plan, request, quote)
            sources[quote.source] = sources.get(quote.source, 0) + 1
            waited += quote.period is not None and quote.period > first_period(p, request)
    # The loop exercises every kind of answer, not just one.
    assert {"stock", "planned_purchase_order", "new_purchase_order", "dropship", None} <= set(sources), sources
    assert waited >= 20
