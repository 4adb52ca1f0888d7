"""Seeded generator of planning problems in realistic shares of features.

``generate(family, seed)`` is a pure function of its arguments: it draws
everything from ``numpy.random.default_rng(seed)`` in a fixed order and
returns a JSON-ready dict in the wire format of the planning model
(``/work/shared/spec/planning-model.md``). Same family and seed, same dict.

Every step is vectorised or linear in the size of the problem, so the
"large" family (50,000 orders, 5,000 SKUs) takes a few seconds at most.

Command line::

    python -m benchmarks.generator small --seed 3 --out small-3.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.integer[Any]]
FloatArray = NDArray[np.floating[Any]]

PACK_SIZES = (1, 6, 12, 24)
PRIMARY_LEAD_DAYS = (7, 14, 21, 28)
DROPSHIP_LEAD_DAYS = (3, 7, 10, 14)
ORDER_COSTS = (20.0, 50.0, 120.0, 250.0)
SERVICE_LEVELS = (0.9, 0.95, 0.975, 0.99)

ROLE_PRIMARY, ROLE_ALTERNATE, ROLE_DROPSHIP = 0, 1, 2
ROLE_NAMES = ("primary", "alternate", "dropship")


@dataclass(frozen=True)
class Family:
    """Size and feature shares of a family of generated problems.

    Shares are probabilities per entity (order, line, SKU, SKU-location or
    agreement); any field can be overridden through :func:`generate`.
    """

    name: str
    orders: int
    skus: int
    locations: int
    periods: int
    period_days: int = 7
    #: ``None``: ``max(3, round(skus / 25))``, so each supplier serves ~25 SKUs.
    suppliers: int | None = None
    start: str = "2027-01-04"
    policy: str = "min_cost"
    # --- orders -------------------------------------------------------
    #: weights of 1, 2, 3, 4 lines per order
    line_weights: tuple[float, ...] = (0.5, 0.3, 0.13, 0.07)
    #: weights of priorities 1..5
    priority_weights: tuple[float, ...] = (0.1, 0.2, 0.5, 0.12, 0.08)
    #: orders due before the start (already late)
    late_share: float = 0.1
    #: orders due beyond the horizon (outside the plan)
    beyond_share: float = 0.02
    latest_share: float = 0.6
    earliest_share: float = 0.1
    ship_complete_share: float = 0.15
    ship_cost_share: float = 0.5
    #: lines with their own ``backorder_cost``
    line_backorder_share: float = 0.03
    #: median units per line
    line_size: float = 4.0
    # --- stock --------------------------------------------------------
    #: total on hand / total order demand is drawn uniformly from this range
    stock_cover: tuple[float, float] = (0.4, 0.7)
    #: SKU-locations with a fixed safety stock (and its cost)
    safety_stock_share: float = 0.25
    #: SKU-locations with demand statistics instead (exclusive with the above)
    stats_share: float = 0.05
    #: SKU-locations with an open purchase order
    inbound_share: float = 0.3
    #: SKU-locations with forecast demand; each period then has one w.p. 0.4
    forecast_share: float = 0.3
    # --- supply -------------------------------------------------------
    zero_order_cost_share: float = 0.2
    #: SKU-locations whose primary supplier differs from the SKU's usual one
    split_primary_share: float = 0.15
    #: SKU-locations with an alternate (faster, dearer) agreement
    alternate_share: float = 0.6
    #: SKUs with a dropship agreement
    dropship_share: float = 0.2
    #: share of lost-sale costs between 0.9 and 1.5 x unit cost (else 2-4 x)
    cheap_loss_share: float = 0.15
    moq_share: float = 0.3
    capacity_share: float = 0.4
    price_break_share: float = 0.3
    # --- test features, off in every family (drawn last: they change nothing else)
    #: agreements whose MOQ and capacity ignore the pack size (e.g. moq 10, pack 4,
    #: capacity 11), often leaving no quantity that can be ordered at all
    ragged_terms_share: float = 0.0
    #: agreements with order smoothing (``max_change_per_period``)
    smoothing_share: float = 0.0
    #: orders with an ``ordered`` date (placed 0-6 weeks before due), from a generator
    #: of their own so that the rest of the problem is the same with or without them
    ordered_share: float = 0.0

    @property
    def n_suppliers(self) -> int:
        if self.suppliers is not None:
            return self.suppliers
        return max(3, round(self.skus / 25))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("tiny", orders=10, skus=3, locations=2, periods=4),
        Family("small", orders=1_000, skus=100, locations=2, periods=8),
        Family("medium", orders=10_000, skus=1_000, locations=3, periods=12),
        Family("large", orders=50_000, skus=5_000, locations=3, periods=12),
    )
}


def resolve_family(family: str | Family, **overrides: Any) -> Family:
    """The family named (or given), with ``overrides`` applied to its fields."""
    if isinstance(family, str):
        try:
            fam = FAMILIES[family]
        except KeyError:
            raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}") from None
    else:
        fam = family
    if overrides:
        fam = dataclasses.replace(fam, **overrides)
    check_family(fam)
    return fam


def check_family(f: Family) -> None:
    problems = []
    for name in ("orders", "skus", "locations", "periods", "period_days"):
        if getattr(f, name) < 1:
            problems.append(f"{name} must be at least 1")
    if f.n_suppliers < 2:
        problems.append("suppliers must be at least 2 (alternates need a second one)")
    if len(f.priority_weights) < 1 or len(f.line_weights) < 1:
        problems.append("line_weights and priority_weights must not be empty")
    if f.late_share + f.beyond_share > 1:
        problems.append("late_share + beyond_share must not exceed 1")
    if f.safety_stock_share + f.stats_share > 1:
        problems.append("safety_stock_share + stats_share must not exceed 1")
    lo, hi = f.stock_cover
    if not 0 <= lo <= hi:
        problems.append("stock_cover must be (lo, hi) with 0 <= lo <= hi")
    if problems:
        raise ValueError(f"invalid family {f.name!r}: " + "; ".join(problems))


# --------------------------------------------------------------------------- helpers


def _ids(prefix: str, n: int, width: int) -> list[str]:
    width = max(width, len(str(max(n - 1, 0))))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def _money(x: FloatArray, floor: float = 0.0) -> list[float]:
    """Round to cents (at least ``floor``) as Python floats."""
    out: list[float] = np.maximum(np.round(x, 2), floor).tolist()
    return out


def _choice(rng: np.random.Generator, values: Sequence[float], p: Sequence[float], n: int) -> Any:
    w = np.asarray(p, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=n, p=w / w.sum())]


def _round_up(q: FloatArray | IntArray, pack: IntArray) -> IntArray:
    """Smallest multiple of ``pack`` that is at least ``q`` (and at least one pack)."""
    packs = np.maximum(np.ceil(np.asarray(q, dtype=float) / pack), 1.0)
    return (packs * pack).astype(np.int64)


class _Dates:
    """ISO strings of ``start + offset`` days, memoised over a contiguous range."""

    def __init__(self, start: date, lo: int, hi: int):
        self.lo = lo
        self.table = [(start + timedelta(days=d)).isoformat() for d in range(lo, hi + 1)]

    def __call__(self, offset: int) -> str:
        return self.table[offset - self.lo]


# --------------------------------------------------------------------------- generation


def generate(family: str | Family, seed: int = 0, **overrides: Any) -> dict[str, Any]:
    """Return a problem (JSON-ready dict) of ``family`` drawn with ``seed``.

    ``overrides`` replace fields of the family, e.g. ``generate("large", orders=2000)``.
    """
    f = resolve_family(family, **overrides)
    rng = np.random.default_rng(seed)
    start = date.fromisoformat(f.start)
    n_s, n_l, n_t, pdays = f.skus, f.locations, f.periods, f.period_days
    n_sup = f.n_suppliers

    sku_ids = _ids("SKU-", n_s, 5)
    loc_ids = [f"WH-{i}" for i in range(n_l)]
    sup_ids = _ids("SUP-", n_sup, 3)

    # ---- items: a base unit cost (what buying from the primary costs) and the
    # costs of holding, lateness and lost sales relative to it.
    base_cost = np.round(np.clip(rng.lognormal(np.log(20.0), 0.9, n_s), 1.0, 800.0), 2)
    holding = base_cost * rng.uniform(0.01, 0.05, n_s) * pdays / 7
    backorder = holding * rng.uniform(3.0, 6.0, n_s)
    cheap_loss = rng.random(n_s) < f.cheap_loss_share
    loss_factor = np.where(cheap_loss, rng.uniform(0.9, 1.5, n_s), rng.uniform(2.0, 4.0, n_s))
    lost_sale = base_cost * loss_factor
    holding_l = _money(holding, 0.01)
    backorder_l = _money(backorder, 0.01)
    items = [
        {"sku": sku_ids[s], "holding_cost": h, "backorder_cost": b, "lost_sale_cost": ls}
        for s, h, b, ls in zip(
            range(n_s), holding_l, backorder_l, _money(lost_sale, 0.01), strict=True
        )
    ]

    # ---- orders
    orders, line_sku, line_qty = _orders(f, rng, start, sku_ids, loc_ids, backorder)

    # ---- demand per SKU and location (orders carry no location: split by
    # location weights, the first warehouse the biggest).
    demand = np.bincount(line_sku, weights=line_qty, minlength=n_s).astype(float)
    loc_weight = np.sort(rng.dirichlet(np.full(n_l, 2.0)))[::-1]
    split = loc_weight[None, :] * rng.uniform(0.3, 1.7, (n_s, n_l))
    split /= split.sum(axis=1, keepdims=True)
    demand_sl = demand[:, None] * split  # units over the horizon
    rate_sl = demand_sl / n_t  # units per period

    stock = _stock(f, rng, sku_ids, loc_ids, demand, split, rate_sl, holding)
    inbound = _inbound(f, rng, start, sku_ids, loc_ids, demand_sl)
    forecast = _forecast(f, rng, start, sku_ids, loc_ids, rate_sl)

    # ---- suppliers
    zero = rng.random(n_sup) < f.zero_order_cost_share
    order_cost = np.where(zero, 0.0, _choice(rng, ORDER_COSTS, (0.3, 0.3, 0.3, 0.1), n_sup))
    suppliers = [{"id": sup_ids[k], "order_cost": c} for k, c in enumerate(_money(order_cost))]

    agreements = _agreements(f, rng, sku_ids, loc_ids, sup_ids, base_cost, rate_sl)
    if f.ordered_share > 0:
        _date_orders(orders, f.ordered_share, np.random.default_rng([seed, 14]))

    return {
        "horizon": {"start": start.isoformat(), "periods": n_t, "period_days": pdays},
        "items": items,
        "locations": [{"id": loc} for loc in loc_ids],
        "stock": stock,
        "inbound": inbound,
        "forecast": forecast,
        "orders": orders,
        "suppliers": suppliers,
        "agreements": agreements,
        "settings": {"policy": f.policy},
    }


def _date_orders(orders: list[dict[str, Any]], share: float, rng: np.random.Generator) -> None:
    """Give a share of the orders the date they were placed: 0 to 42 days before due."""
    dated = rng.random(len(orders)) < share
    age = rng.integers(0, 43, len(orders))
    for order, has, days in zip(orders, dated.tolist(), age.tolist(), strict=True):
        if has:
            order["ordered"] = (date.fromisoformat(order["due"]) - timedelta(days=days)).isoformat()


def _orders(
    f: Family,
    rng: np.random.Generator,
    start: date,
    sku_ids: list[str],
    loc_ids: list[str],
    item_backorder: FloatArray,
) -> tuple[list[dict[str, Any]], IntArray, IntArray]:
    n, n_s, n_l, pdays = f.orders, f.skus, f.locations, f.period_days
    horizon_days = f.periods * pdays

    # SKU popularity (heavy-tailed) and a typical line size per SKU.
    popularity = rng.lognormal(0.0, 1.0, n_s)
    popularity /= popularity.sum()
    size = np.clip(rng.lognormal(np.log(f.line_size), 0.6, n_s), 1.0, 60.0)

    max_lines = min(len(f.line_weights), n_s)
    lw = np.asarray(f.line_weights[:max_lines], dtype=float)
    n_lines = rng.choice(max_lines, size=n, p=lw / lw.sum()) + 1
    total = int(n_lines.sum())
    first = np.concatenate(([0], np.cumsum(n_lines)[:-1]))
    line_sku = rng.choice(n_s, size=total, p=popularity)
    # Distinct SKUs within an order: move a repeated SKU to the next free one.
    for o in np.flatnonzero(n_lines > 1).tolist():
        a = int(first[o])
        b = a + int(n_lines[o])
        seen: list[int] = []
        for j in range(a, b):
            s = int(line_sku[j])
            while s in seen:
                s = (s + 1) % n_s
            line_sku[j] = s
            seen.append(s)
    line_qty = 1 + rng.poisson(size[line_sku] - 1.0)

    pw = np.asarray(f.priority_weights, dtype=float)
    priority = (rng.choice(len(pw), size=n, p=pw / pw.sum()) + 1).tolist()

    # Due dates: some already late, a few beyond the horizon, the rest spread over it.
    kind = rng.random(n)
    due = rng.integers(0, horizon_days, n)
    late = kind < f.late_share
    beyond = (kind >= f.late_share) & (kind < f.late_share + f.beyond_share)
    due = np.where(late, -rng.integers(1, 3 * pdays + 1, n), due)
    due = np.where(beyond, horizon_days + rng.integers(0, 4 * pdays, n), due)
    has_latest = rng.random(n) < f.latest_share
    latest = due + rng.integers(0, 5 * pdays, n)
    has_earliest = rng.random(n) < f.earliest_share
    earliest = due - rng.integers(0, 2 * pdays + 1, n)
    ship_complete = (rng.random(n) < f.ship_complete_share).tolist()

    has_ship_cost = rng.random(n) < f.ship_cost_share
    n_ship_locs = rng.integers(1, min(3, n_l) + 1, n)
    loc_rank = rng.random((n, n_l)).argsort(axis=1)
    ship_cost = np.round(rng.uniform(0.2, 2.5, (n, n_l)), 2)

    has_line_bo = rng.random(total) < f.line_backorder_share
    line_bo = np.round(item_backorder[line_sku] * rng.uniform(1.5, 3.0, total), 2)

    n_cust = max(3, n // 8)
    cust_p = 1.0 / np.arange(1, n_cust + 1) ** 0.8
    customer = rng.choice(n_cust, size=n, p=cust_p / cust_p.sum())
    cust_ids = _ids("C-", n_cust, 4)
    order_ids = _ids("SO-", n, 6)

    lo = int(min(earliest.min(), due.min()))
    hi = int(max(latest.max(), due.max()))
    day = _Dates(start, lo, hi)

    sku_l = line_sku.tolist()
    qty_l = line_qty.tolist()
    bo_l = np.where(has_line_bo, line_bo, -1.0).tolist()
    first_l, nl_l = first.tolist(), n_lines.tolist()
    due_l, latest_l, earliest_l = due.tolist(), latest.tolist(), earliest.tolist()
    has_latest_l, has_earliest_l = has_latest.tolist(), has_earliest.tolist()
    has_ship_l, n_ship_l = has_ship_cost.tolist(), n_ship_locs.tolist()
    loc_rank_l, ship_cost_l = loc_rank.tolist(), ship_cost.tolist()
    cust_l = customer.tolist()

    orders: list[dict[str, Any]] = []
    for o in range(n):
        order: dict[str, Any] = {
            "id": order_ids[o],
            "customer": cust_ids[cust_l[o]],
            "priority": priority[o],
            "due": day(due_l[o]),
        }
        if has_earliest_l[o]:
            order["earliest"] = day(earliest_l[o])
        if has_latest_l[o]:
            order["latest"] = day(latest_l[o])
        if ship_complete[o]:
            order["ship_complete"] = True
        if has_ship_l[o]:
            locs = sorted(loc_rank_l[o][: n_ship_l[o]])
            order["ship_cost"] = {loc_ids[k]: ship_cost_l[o][k] for k in locs}
        lines = []
        for j in range(first_l[o], first_l[o] + nl_l[o]):
            line: dict[str, Any] = {"sku": sku_ids[sku_l[j]], "quantity": qty_l[j]}
            if bo_l[j] >= 0:
                line["backorder_cost"] = bo_l[j]
            lines.append(line)
        order["lines"] = lines
        orders.append(order)
    return orders, line_sku, line_qty


def _stock(
    f: Family,
    rng: np.random.Generator,
    sku_ids: list[str],
    loc_ids: list[str],
    demand: FloatArray,
    split: FloatArray,
    rate_sl: FloatArray,
    holding: FloatArray,
) -> list[dict[str, Any]]:
    n_s, n_l = f.skus, f.locations
    # On hand per SKU varies widely, but the total is a drawn share of demand.
    target = rng.uniform(*f.stock_cover)
    cover = rng.uniform(0.1, 1.9, n_s)
    weighted = float((demand * cover).sum())
    scale = target * float(demand.sum()) / weighted if weighted > 0 else 0.0
    on_hand = np.floor((demand * cover * scale)[:, None] * split).astype(np.int64)

    kind = rng.random((n_s, n_l))
    has_ss = kind < f.safety_stock_share
    has_stats = (kind >= f.safety_stock_share) & (kind < f.safety_stock_share + f.stats_share)
    safety = np.maximum(1, np.round(rate_sl * rng.uniform(0.5, 1.5, (n_s, n_l)))).astype(np.int64)
    ss_cost = np.round(holding[:, None] * rng.uniform(1.5, 4.0, (n_s, n_l)), 2)
    ss_cost = np.maximum(ss_cost, 0.01)
    mean = np.round(np.maximum(rate_sl, 0.1), 2)
    std = np.round(mean * rng.uniform(0.3, 0.9, (n_s, n_l)), 2)
    level = _choice(rng, SERVICE_LEVELS, (0.2, 0.4, 0.25, 0.15), n_s * n_l).reshape(n_s, n_l)

    on_hand_l, safety_l, ss_cost_l = on_hand.tolist(), safety.tolist(), ss_cost.tolist()
    has_ss_l, has_stats_l = has_ss.tolist(), has_stats.tolist()
    mean_l, std_l, level_l = mean.tolist(), std.tolist(), level.tolist()
    stock: list[dict[str, Any]] = []
    for s in range(n_s):
        for k in range(n_l):
            entry: dict[str, Any] = {
                "sku": sku_ids[s],
                "location": loc_ids[k],
                "on_hand": on_hand_l[s][k],
            }
            if has_ss_l[s][k]:
                entry["safety_stock"] = safety_l[s][k]
                entry["safety_stock_cost"] = ss_cost_l[s][k]
            elif has_stats_l[s][k]:
                entry["demand_per_period"] = mean_l[s][k]
                entry["demand_std"] = std_l[s][k]
                entry["service_level"] = level_l[s][k]
                entry["safety_stock_cost"] = ss_cost_l[s][k]
            stock.append(entry)
    return stock


def _inbound(
    f: Family,
    rng: np.random.Generator,
    start: date,
    sku_ids: list[str],
    loc_ids: list[str],
    demand_sl: FloatArray,
) -> list[dict[str, Any]]:
    n_s, n_l, pdays = f.skus, f.locations, f.period_days
    horizon_days = f.periods * pdays
    has = rng.random((n_s, n_l)) < f.inbound_share
    qty = np.maximum(1, np.round(demand_sl * rng.uniform(0.05, 0.25, (n_s, n_l)))).astype(np.int64)
    # Arrivals over the horizon and one period past it (those are ignored).
    arrives = rng.integers(1, horizon_days + pdays, (n_s, n_l))
    day = _Dates(start, 0, horizon_days + pdays)
    s_idx, k_idx = np.nonzero(has)
    qty_l = qty[s_idx, k_idx].tolist()
    arr_l = arrives[s_idx, k_idx].tolist()
    refs = _ids("PO-", len(qty_l), 6)
    return [
        {
            "sku": sku_ids[s],
            "location": loc_ids[k],
            "quantity": q,
            "arrives": day(a),
            "ref": r,
        }
        for s, k, q, a, r in zip(s_idx.tolist(), k_idx.tolist(), qty_l, arr_l, refs, strict=True)
    ]


def _forecast(
    f: Family,
    rng: np.random.Generator,
    start: date,
    sku_ids: list[str],
    loc_ids: list[str],
    rate_sl: FloatArray,
) -> list[dict[str, Any]]:
    n_s, n_l, n_t, pdays = f.skus, f.locations, f.periods, f.period_days
    has = rng.random((n_s, n_l)) < f.forecast_share
    periods = rng.random((n_s, n_l, n_t)) < 0.4
    qty = 1 + rng.poisson(np.broadcast_to(0.25 * rate_sl[:, :, None], (n_s, n_l, n_t)))
    day_in = rng.integers(0, pdays, (n_s, n_l, n_t))
    s_idx, k_idx, t_idx = np.nonzero(periods & has[:, :, None])
    offset = (t_idx * pdays + day_in[s_idx, k_idx, t_idx]).tolist()
    qty_l = qty[s_idx, k_idx, t_idx].tolist()
    day = _Dates(start, 0, n_t * pdays)
    return [
        {"sku": sku_ids[s], "location": loc_ids[k], "date": day(d), "quantity": q}
        for s, k, d, q in zip(s_idx.tolist(), k_idx.tolist(), offset, qty_l, strict=True)
    ]


def _agreements(
    f: Family,
    rng: np.random.Generator,
    sku_ids: list[str],
    loc_ids: list[str],
    sup_ids: list[str],
    base_cost: FloatArray,
    rate_sl: FloatArray,
) -> list[dict[str, Any]]:
    n_s, n_l, n_sup = f.skus, f.locations, len(sup_ids)

    # Suppliers: each SKU has a usual primary supplier; some locations buy it
    # from another one; alternates and dropship come from other suppliers, so
    # suppliers share SKUs and couple them.
    usual = rng.integers(0, n_sup, n_s)
    split_primary = rng.random((n_s, n_l)) < f.split_primary_share
    prim_sup = np.where(
        split_primary, (usual[:, None] + rng.integers(1, n_sup, (n_s, n_l))) % n_sup, usual[:, None]
    )
    has_alt = rng.random((n_s, n_l)) < f.alternate_share
    alt_sup = (prim_sup + rng.integers(1, n_sup, (n_s, n_l))) % n_sup
    has_drop = rng.random(n_s) < f.dropship_share
    drop_sup = np.where(rng.random(n_s) < 0.5, usual, rng.integers(0, n_sup, n_s))

    # Skeleton: one row per agreement, grouped by SKU then location (dropship last).
    grid_s = np.repeat(np.arange(n_s), n_l).reshape(n_s, n_l)
    grid_k = np.tile(np.arange(n_l), n_s).reshape(n_s, n_l)
    a_sku = np.concatenate((grid_s.ravel(), grid_s[has_alt], np.flatnonzero(has_drop)))
    a_loc = np.concatenate((grid_k.ravel(), grid_k[has_alt], np.full(int(has_drop.sum()), n_l)))
    a_role = np.concatenate(
        (
            np.full(n_s * n_l, ROLE_PRIMARY),
            np.full(int(has_alt.sum()), ROLE_ALTERNATE),
            np.full(int(has_drop.sum()), ROLE_DROPSHIP),
        )
    )
    a_sup = np.concatenate((prim_sup.ravel(), alt_sup[has_alt], drop_sup[has_drop]))
    order = np.lexsort((a_role, a_loc, a_sku))
    a_sku, a_loc, a_role, a_sup = a_sku[order], a_loc[order], a_role[order], a_sup[order]
    n_a = len(a_sku)
    is_prim, is_alt, is_drop = (a_role == r for r in (ROLE_PRIMARY, ROLE_ALTERNATE, ROLE_DROPSHIP))

    # Demand rate the agreement serves (the SKU's total for dropship).
    rate_full = np.concatenate((rate_sl, rate_sl.sum(axis=1, keepdims=True)), axis=1)
    rate = rate_full[a_sku, a_loc]

    # Price and lead time: primary at the base cost (a little dearer away from
    # the first warehouse), alternate faster and 8-35 % dearer, dropship dearer.
    prim_cost = base_cost[:, None] * np.concatenate(
        (np.ones((n_s, 1)), rng.uniform(0.98, 1.06, (n_s, n_l - 1))), axis=1
    )
    prim_cost = np.round(prim_cost, 2)
    prim_lead = _choice(rng, PRIMARY_LEAD_DAYS, (0.3, 0.35, 0.25, 0.1), n_s * n_l).reshape(n_s, n_l)
    k_safe = np.minimum(a_loc, n_l - 1)
    unit_cost = np.select(
        [is_prim, is_alt],
        [prim_cost[a_sku, k_safe], prim_cost[a_sku, k_safe] * rng.uniform(1.08, 1.35, n_a)],
        base_cost[a_sku] * rng.uniform(1.1, 1.4, n_a),
    )
    unit_cost = np.round(unit_cost, 2)
    lead = np.select(
        [is_prim, is_alt],
        [
            prim_lead[a_sku, k_safe],
            np.maximum(0, prim_lead[a_sku, k_safe] - _choice(rng, (7, 14), (0.7, 0.3), n_a)),
        ],
        _choice(rng, DROPSHIP_LEAD_DAYS, (0.2, 0.4, 0.2, 0.2), n_a),
    ).astype(np.int64)

    # Pack sizes, MOQs, capacities.
    pack = np.where(
        is_prim,
        _choice(rng, PACK_SIZES, (0.55, 0.2, 0.15, 0.1), n_a),
        np.where(is_alt, _choice(rng, PACK_SIZES, (0.8, 0.1, 0.07, 0.03), n_a), 1),
    ).astype(np.int64)
    has_moq = (rng.random(n_a) < f.moq_share) & ~is_drop
    moq = np.where(has_moq, _round_up(rate * rng.uniform(0.5, 2.0, n_a), pack), 0)
    has_cap = rng.random(n_a) < f.capacity_share
    cap = np.maximum(_round_up(rate * rng.uniform(0.8, 2.5, n_a), pack), moq)

    # Price breaks (all-units): 1-3 breaks, larger quantities never dearer.
    has_pb = rng.random(n_a) < f.price_break_share
    n_pb = rng.integers(1, 4, n_a)
    q0 = _round_up(
        np.maximum.reduce(
            [2.0 * moq, rate * rng.uniform(1.0, 3.0, n_a), 2.0 * pack, np.full(n_a, 10.0)]
        ),
        pack,
    )
    step = rng.uniform(0.03, 0.08, n_a)

    # Test features, drawn only when asked for, after everything else: the families
    # (all shares 0) generate exactly what they did without them.
    has_smooth = np.zeros(n_a, dtype=bool)
    smooth = np.zeros(n_a, dtype=np.int64)
    if f.ragged_terms_share > 0:
        ragged = rng.random(n_a) < f.ragged_terms_share
        r_pack = _choice(rng, (2, 3, 4, 5, 6, 12), (0.2, 0.2, 0.2, 0.1, 0.2, 0.1), n_a).astype(np.int64)
        r_moq = np.maximum(1, np.round(rate * rng.uniform(0.5, 2.0, n_a))).astype(np.int64)
        r_cap = r_moq + rng.integers(0, 2 * r_pack)
        pack = np.where(ragged, r_pack, pack)
        moq = np.where(ragged, r_moq, moq)
        cap = np.where(ragged, r_cap, cap)
        has_cap = has_cap | ragged
    if f.smoothing_share > 0:
        has_smooth = rng.random(n_a) < f.smoothing_share
        smooth = np.round(rate * rng.uniform(0.3, 3.0, n_a)).astype(np.int64)

    sku_l, loc_l, role_l, sup_l = a_sku.tolist(), a_loc.tolist(), a_role.tolist(), a_sup.tolist()
    cost_l, lead_l, pack_l, moq_l = unit_cost.tolist(), lead.tolist(), pack.tolist(), moq.tolist()
    has_cap_l, cap_l = has_cap.tolist(), cap.tolist()
    has_pb_l, n_pb_l, q0_l, step_l = has_pb.tolist(), n_pb.tolist(), q0.tolist(), step.tolist()
    has_smooth_l, smooth_l = has_smooth.tolist(), smooth.tolist()
    ag_ids = _ids("AG-", n_a, 6)
    out: list[dict[str, Any]] = []
    for i in range(n_a):
        a: dict[str, Any] = {
            "id": ag_ids[i],
            "supplier": sup_ids[sup_l[i]],
            "sku": sku_ids[sku_l[i]],
            "role": ROLE_NAMES[role_l[i]],
        }
        if role_l[i] != ROLE_DROPSHIP:
            a["location"] = loc_ids[loc_l[i]]
        uc = cost_l[i]
        a["unit_cost"] = uc
        a["lead_time_days"] = lead_l[i]
        a["moq"] = moq_l[i]
        a["pack_size"] = pack_l[i]
        if has_cap_l[i]:
            a["capacity_per_period"] = cap_l[i]
        if has_pb_l[i]:
            breaks = []
            prev = uc
            for b in range(n_pb_l[i]):
                price = min(prev, round(uc * (1.0 - step_l[i] * (b + 1)), 2))
                breaks.append({"min_qty": q0_l[i] * (2**b), "unit_cost": price})
                prev = price
            a["price_breaks"] = breaks
        if has_smooth_l[i]:
            a["max_change_per_period"] = smooth_l[i]
        out.append(a)
    return out


# --------------------------------------------------------------------------- files and CLI


def write_family(family: str | Family, seed: int, path: str | Path, **overrides: Any) -> Path:
    """Generate ``family`` with ``seed`` and write it as JSON to ``path``."""
    problem = generate(family, seed, **overrides)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        json.dump(problem, fh, separators=(",", ":"))
        fh.write("\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generator",
        description="Generate a seeded planning problem of a benchmark family.",
    )
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="output file (default: standard output)")
    parser.add_argument("--orders", type=int, help="override the family's number of orders")
    parser.add_argument("--policy", help="override the family's allocation policy")
    parser.add_argument("--ordered-share", type=float, help="share of orders with an ordered date")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.orders is not None:
        overrides["orders"] = args.orders
    if args.policy is not None:
        overrides["policy"] = args.policy
    if args.ordered_share is not None:
        overrides["ordered_share"] = args.ordered_share
    if args.out:
        write_family(args.family, args.seed, args.out, **overrides)
    else:
        json.dump(generate(args.family, args.seed, **overrides), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
