"""Problem -> numpy index arrays: the one place that turns parsed models into numbers.

Everything downstream (the MIP builder, the greedy baseline, decoding) reads these
arrays. Stock is indexed by a dense ``pair = sku * n_locations + location``.
Only order lines whose due date lies within the horizon are indexed; the rest
are outside the plan (spec §Inputs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from stockplan.models.plan import Shipment
from stockplan.models.problem import Agreement, Problem, Role
from stockplan.solver.safety_stock import effective_safety_stock


@dataclass
class ProblemIndex:
    problem: Problem
    T: int
    skus: list[str]
    locations: list[str]
    # per pair (sku * NL + loc)
    on_hand: np.ndarray
    inbound: np.ndarray  # (pairs, T)
    forecast: np.ndarray  # (pairs, T)
    safety_stock: np.ndarray
    safety_cost: np.ndarray
    # per sku
    holding: np.ndarray
    lost_sale: np.ndarray
    # per indexed line
    line_order: np.ndarray  # index into problem.orders
    line_no: np.ndarray  # index within its order
    line_sku: np.ndarray
    line_qty: np.ndarray
    line_due: np.ndarray  # d
    line_first: np.ndarray  # e (may exceed line_last: nothing deliverable)
    line_last: np.ndarray  # ℓ
    line_backorder: np.ndarray
    line_lost: np.ndarray
    line_complete: np.ndarray  # ship-complete order
    line_priority: np.ndarray
    line_promised: np.ndarray  # period of the order's previous promise; T when it has none
    line_min_partial: np.ndarray  # fewest units of a shipment that leaves the line short (0: no minimum)
    allowed: np.ndarray  # (lines, NL) bool
    ship_cost: np.ndarray  # (lines, NL)
    # per agreement (a subset index keeps only its SKUs' agreements)
    agreements: list[Agreement]
    agreement_ids: list[str]
    ag_sku: np.ndarray
    ag_loc: np.ndarray  # -1 for dropship
    ag_supplier: np.ndarray
    ag_lead: np.ndarray  # periods
    ag_moq: np.ndarray
    ag_pack: np.ndarray
    ag_cap: np.ndarray  # -1 when unlimited
    ag_price: np.ndarray
    ag_dropship: np.ndarray
    supplier_ids: list[str]
    supplier_cost: np.ndarray
    # per problem order: the fee of each of its shipments (order, location, period) with a positive quantity
    order_fee: np.ndarray
    # (suppliers, T) fixed cost per supplier and period, when a decomposition prices it per part
    period_cost: np.ndarray | None = None
    # sorted keys (order * NL + location) * T + period whose fee is already paid (a decomposition's
    # part or move: another part of the plan ships that order from there then)
    fee_waived: np.ndarray | None = None

    def fixed_order_cost(self) -> np.ndarray:
        """Fixed cost of ordering from each supplier in each period, ``(suppliers, T)``."""
        if self.period_cost is not None:
            return self.period_cost
        return np.repeat(self.supplier_cost[:, None], self.T, axis=1)

    def shipment_fee(self, order: np.ndarray, loc: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The fee of a shipment of ``order`` (index into ``problem.orders``) from ``loc`` in period ``t``."""
        fee = self.order_fee[order]
        waived = self.fee_waived
        if waived is not None and waived.size and fee.size:
            key = (order * self.n_locations + loc) * self.T + t
            pos = np.minimum(np.searchsorted(waived, key), waived.size - 1)
            fee = np.where(waived[pos] == key, 0.0, fee)
        return fee

    @property
    def n_locations(self) -> int:
        return len(self.locations)

    @property
    def n_pairs(self) -> int:
        return len(self.skus) * len(self.locations)

    @property
    def n_lines(self) -> int:
        return int(self.line_qty.shape[0])

    def pair(self, sku: np.ndarray | int, loc: np.ndarray | int) -> np.ndarray | int:
        return sku * self.n_locations + loc

    def line_label(self, i: int) -> tuple[str, int]:
        return self.problem.orders[int(self.line_order[i])].id, int(self.line_no[i])


class ShipmentKeys:
    """The keys ``(order * NL + location) * T + period`` of shipments, sorted and unique, as
    :attr:`ProblemIndex.fee_waived` takes them (only shipments with a positive quantity)."""

    def __init__(self, ix: ProblemIndex) -> None:
        self.order_of = {o.id: k for k, o in enumerate(ix.problem.orders)}
        self.loc_of = {loc: k for k, loc in enumerate(ix.locations)}
        self.NL, self.T = ix.n_locations, ix.T

    def __call__(self, shipments: Iterable[Shipment]) -> np.ndarray:
        keys = [(self.order_of[s.order] * self.NL + self.loc_of[s.location]) * self.T + s.period
                for s in shipments if s.quantity > 0]
        return np.unique(np.asarray(keys, dtype=np.int64))


def build_index(problem: Problem) -> ProblemIndex:
    h = problem.horizon
    T = h.periods
    skus = [i.sku for i in problem.items]
    locs = [loc.id for loc in problem.locations]
    sku_of = {s: k for k, s in enumerate(skus)}
    loc_of = {s: k for k, s in enumerate(locs)}
    NL = len(locs)
    n_pairs = len(skus) * NL

    on_hand = np.zeros(n_pairs, dtype=np.int64)
    safety = np.zeros(n_pairs, dtype=np.int64)
    safety_cost = np.zeros(n_pairs)
    ss_map, _ = effective_safety_stock(problem)
    for s in problem.stock:
        p = sku_of[s.sku] * NL + loc_of[s.location]
        on_hand[p] = s.on_hand
        safety[p] = ss_map.get((s.sku, s.location), 0)
        safety_cost[p] = s.safety_stock_cost
    inbound = np.zeros((n_pairs, T), dtype=np.int64)
    for b in problem.inbound:
        t = h.period_of(b.arrives)
        if t < T:  # arrivals beyond the horizon are ignored
            inbound[sku_of[b.sku] * NL + loc_of[b.location], t] += b.quantity
    forecast = np.zeros((n_pairs, T), dtype=np.int64)
    for f in problem.forecast:
        t = h.period_of(f.date)
        if t < T:
            forecast[sku_of[f.sku] * NL + loc_of[f.location], t] += f.quantity

    holding = np.array([i.holding_cost for i in problem.items], dtype=np.float64)
    lost = np.array([i.lost_sale_cost for i in problem.items], dtype=np.float64)
    item_bo = np.array([i.backorder_cost for i in problem.items], dtype=np.float64)

    cols: dict[str, list] = {k: [] for k in (
        "order", "no", "sku", "qty", "d", "e", "l", "bo", "sc", "prio", "promised", "min_partial")}
    allowed_rows: list[np.ndarray] = []
    cost_rows: list[np.ndarray] = []
    all_locs = np.ones(NL, dtype=bool)
    zero_cost = np.zeros(NL)
    for oi, o in enumerate(problem.orders):
        d = h.period_of(o.due)
        if d >= T:
            continue  # outside this plan: nothing delivered, nothing charged
        e = h.period_of(o.earliest) if o.earliest is not None else 0
        promised = T if o.promised is None else min(h.period_of(o.promised), T)
        min_partial = problem.settings.min_partial_shipment if o.min_partial_shipment is None \
            else o.min_partial_shipment
        last = T - 1 if o.latest is None else min(h.period_of(o.latest), T - 1)
        if o.ship_cost is None:
            allow, sc = all_locs, zero_cost
        else:
            allow = np.zeros(NL, dtype=bool)
            sc = np.zeros(NL)
            for loc, c in o.ship_cost.items():
                allow[loc_of[loc]] = True
                sc[loc_of[loc]] = c
        for j, line in enumerate(o.lines):
            k = sku_of[line.sku]
            cols["order"].append(oi)
            cols["no"].append(j)
            cols["sku"].append(k)
            cols["qty"].append(line.quantity)
            cols["d"].append(d)
            cols["e"].append(min(e, T))
            cols["l"].append(last)
            cols["bo"].append(item_bo[k] if line.backorder_cost is None else line.backorder_cost)
            cols["sc"].append(o.ship_complete)
            cols["prio"].append(o.priority)
            cols["promised"].append(promised)
            cols["min_partial"].append(min_partial)
            allowed_rows.append(allow)
            cost_rows.append(sc)
    n = len(cols["qty"])

    def arr(key: str, dtype: type) -> np.ndarray:
        return np.asarray(cols[key], dtype=dtype).reshape(n)

    line_sku = arr("sku", np.int64)
    ags = problem.agreements
    sup_of = {s.id: k for k, s in enumerate(problem.suppliers)}
    return ProblemIndex(
        problem=problem,
        T=T,
        skus=skus,
        locations=locs,
        on_hand=on_hand,
        inbound=inbound,
        forecast=forecast,
        safety_stock=safety,
        safety_cost=safety_cost,
        holding=holding,
        lost_sale=lost,
        line_order=arr("order", np.int64),
        line_no=arr("no", np.int64),
        line_sku=line_sku,
        line_qty=arr("qty", np.int64),
        line_due=arr("d", np.int64),
        line_first=arr("e", np.int64),
        line_last=arr("l", np.int64),
        line_backorder=arr("bo", np.float64),
        line_lost=lost[line_sku] if n else np.zeros(0),
        line_complete=arr("sc", bool),
        line_priority=arr("prio", np.int64),
        line_promised=arr("promised", np.int64),
        line_min_partial=arr("min_partial", np.int64),
        allowed=np.array(allowed_rows, dtype=bool).reshape(n, NL),
        ship_cost=np.array(cost_rows, dtype=np.float64).reshape(n, NL),
        agreements=list(ags),
        agreement_ids=[a.id for a in ags],
        ag_sku=np.array([sku_of[a.sku] for a in ags], dtype=np.int64),
        ag_loc=np.array([loc_of[a.location] if a.role != Role.DROPSHIP and a.location else -1 for a in ags],
                        dtype=np.int64),
        ag_supplier=np.array([sup_of[a.supplier] for a in ags], dtype=np.int64),
        ag_lead=np.array([h.lead_periods(a.lead_time_days) for a in ags], dtype=np.int64),
        ag_moq=np.array([a.moq for a in ags], dtype=np.int64),
        ag_pack=np.array([a.pack_size for a in ags], dtype=np.int64),
        ag_cap=np.array([-1 if a.capacity_per_period is None else a.capacity_per_period for a in ags],
                        dtype=np.int64),
        ag_price=np.array([a.unit_cost for a in ags], dtype=np.float64),
        ag_dropship=np.array([a.role == Role.DROPSHIP for a in ags], dtype=bool),
        supplier_ids=[s.id for s in problem.suppliers],
        supplier_cost=np.array([s.order_cost for s in problem.suppliers], dtype=np.float64),
        order_fee=np.array([problem.settings.shipment_cost if o.shipment_cost is None else o.shipment_cost
                            for o in problem.orders], dtype=np.float64),
    )


def subset_index(
    ix: ProblemIndex, skus: np.ndarray, period_cost: np.ndarray | None = None,
    order_fee: np.ndarray | None = None, fee_waived: np.ndarray | None = None,
) -> ProblemIndex:
    """The part of ``ix`` that concerns only the SKUs ``skus`` (global sku indices).

    Lines keep pointing at the global orders, so plans decoded from a subset use
    the problem's own ids. ``period_cost`` (suppliers × periods) replaces the fixed
    order costs: a decomposition prices shared supplier costs per part. Shipment fees,
    shared by the lines of an order, likewise: ``order_fee`` (per problem order)
    replaces each order's fee, and ``fee_waived`` lists the (order, location, period)
    keys that cost the part nothing (see :attr:`ProblemIndex.fee_waived`).
    """
    skus = np.asarray(skus, dtype=np.int64)
    NL = ix.n_locations
    new_of = np.full(len(ix.skus), -1, dtype=np.int64)
    new_of[skus] = np.arange(skus.shape[0])
    pairs = (skus[:, None] * NL + np.arange(NL)[None, :]).ravel()
    lines = np.flatnonzero(new_of[ix.line_sku] >= 0)
    ags = np.flatnonzero(new_of[ix.ag_sku] >= 0)
    return ProblemIndex(
        problem=ix.problem,
        T=ix.T,
        skus=[ix.skus[k] for k in skus],
        locations=ix.locations,
        on_hand=ix.on_hand[pairs],
        inbound=ix.inbound[pairs],
        forecast=ix.forecast[pairs],
        safety_stock=ix.safety_stock[pairs],
        safety_cost=ix.safety_cost[pairs],
        holding=ix.holding[skus],
        lost_sale=ix.lost_sale[skus],
        line_order=ix.line_order[lines],
        line_no=ix.line_no[lines],
        line_sku=new_of[ix.line_sku[lines]],
        line_qty=ix.line_qty[lines],
        line_due=ix.line_due[lines],
        line_first=ix.line_first[lines],
        line_last=ix.line_last[lines],
        line_backorder=ix.line_backorder[lines],
        line_lost=ix.line_lost[lines],
        line_complete=ix.line_complete[lines],
        line_priority=ix.line_priority[lines],
        line_promised=ix.line_promised[lines],
        line_min_partial=ix.line_min_partial[lines],
        allowed=ix.allowed[lines],
        ship_cost=ix.ship_cost[lines],
        agreements=[ix.agreements[a] for a in ags],
        agreement_ids=[ix.agreement_ids[a] for a in ags],
        ag_sku=new_of[ix.ag_sku[ags]],
        ag_loc=ix.ag_loc[ags],
        ag_supplier=ix.ag_supplier[ags],
        ag_lead=ix.ag_lead[ags],
        ag_moq=ix.ag_moq[ags],
        ag_pack=ix.ag_pack[ags],
        ag_cap=ix.ag_cap[ags],
        ag_price=ix.ag_price[ags],
        ag_dropship=ix.ag_dropship[ags],
        supplier_ids=ix.supplier_ids,
        supplier_cost=ix.supplier_cost,
        order_fee=ix.order_fee if order_fee is None else order_fee,
        period_cost=period_cost,
        fee_waived=ix.fee_waived if fee_waived is None else fee_waived,
    )
