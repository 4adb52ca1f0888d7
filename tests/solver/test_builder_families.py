"""Each rule family of the model: a feasible plan keeps its rows, a plan breaking just that rule breaks them.

The shop below is small enough to plan by hand (horizon of 4 weekly periods, one
warehouse):

* ``A`` (10 on hand, safety stock 5): SO-1 wants 6 from period 0; ship-complete SO-2
  wants 2 ``A`` and 2 ``C`` from period 1; forecast of 1 in period 2. Agreement AG-A
  (supplier S1, order cost 50, one period lead) sells packs of 2, MOQ 6, 4.00 from 10
  units instead of 5.00.
* ``B``: SO-3 wants 5 from period 1, dropshipped by AG-B (supplier S2, no order cost).
* ``C`` (5 on hand): AG-C (supplier S1) sells single units, no MOQ, no breaks.

The plan: ship SO-1 in period 0 (stock 4, one short of the safety stock), buy 6 ``A``
in period 0 (3 packs, arriving in period 1), ship SO-2 whole in period 1, fill the
forecast in period 2, dropship SO-3's 5 units ordered in period 0.

Each perturbation keeps the stock balanced (stock follows the flows, see
:func:`restock`) and every column within its bounds, so that exactly one rule breaks.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from benchmarks.generator import generate
from stockplan.models.plan import Decisions, DropshipLine, ForecastFill, PurchaseOrder, Shipment
from stockplan.models.validation import load_problem
from stockplan.solver.builder import ModelMap, build_model
from stockplan.solver.decode import encode_plan
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import ProblemIndex, build_index
from stockplan.solver.mip import MipModel
from stockplan.solver.model.split import fill_split_shipments
from stockplan.solver.policies import fill_policy_columns
from tests.conftest import example_data

TOL = 1e-9


def _day(t: int) -> str:
    return f"2027-01-{4 + 7 * t:02d}"


SHOP: dict[str, Any] = {
    "horizon": {"start": _day(0), "periods": 4, "period_days": 7},
    "items": [
        {"sku": "A", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 20.0},
        {"sku": "B", "backorder_cost": 1.0, "lost_sale_cost": 30.0},
        {"sku": "C", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 20.0},
    ],
    "locations": [{"id": "WH-1"}],
    "stock": [
        {"sku": "A", "location": "WH-1", "on_hand": 10, "safety_stock": 5, "safety_stock_cost": 2.0},
        {"sku": "C", "location": "WH-1", "on_hand": 5},
    ],
    "orders": [
        {"id": "SO-1", "customer": "c1", "due": _day(0), "latest": _day(3), "lines": [{"sku": "A", "quantity": 6}]},
        {"id": "SO-2", "customer": "c2", "due": _day(1), "latest": _day(3), "ship_complete": True,
         "lines": [{"sku": "A", "quantity": 2}, {"sku": "C", "quantity": 2}]},
        {"id": "SO-3", "customer": "c3", "due": _day(1), "latest": _day(3), "lines": [{"sku": "B", "quantity": 5}]},
    ],
    "forecast": [{"sku": "A", "location": "WH-1", "date": _day(2), "quantity": 1}],
    "suppliers": [{"id": "S1", "order_cost": 50.0}, {"id": "S2"}],
    "agreements": [
        {"id": "AG-A", "supplier": "S1", "sku": "A", "role": "primary", "location": "WH-1", "unit_cost": 5.0,
         "lead_time_days": 7, "moq": 6, "pack_size": 2, "price_breaks": [{"min_qty": 10, "unit_cost": 4.0}]},
        {"id": "AG-B", "supplier": "S2", "sku": "B", "role": "dropship", "unit_cost": 8.0, "lead_time_days": 7},
        {"id": "AG-C", "supplier": "S1", "sku": "C", "role": "primary", "location": "WH-1", "unit_cost": 3.0,
         "lead_time_days": 7},
    ],
    "settings": {"policy": "min_cost"},
}

PLAN = Decisions(
    shipments=[
        Shipment(order="SO-1", line=0, location="WH-1", period=0, quantity=6),
        Shipment(order="SO-2", line=0, location="WH-1", period=1, quantity=2),
        Shipment(order="SO-2", line=1, location="WH-1", period=1, quantity=2),
    ],
    forecast_fills=[ForecastFill(sku="A", location="WH-1", period=2, quantity=1)],
    purchase_orders=[
        PurchaseOrder(agreement="AG-A", period=0, quantity=6),
        PurchaseOrder(agreement="AG-B", period=0, quantity=5, lines=[DropshipLine(order="SO-3", line=0, quantity=5)]),
    ],
)


class Built:
    """A problem, its model and a plan's column vector, with column look-ups by entity."""

    def __init__(self, data: dict[str, Any], plan: Decisions) -> None:
        self.problem = load_problem(data)
        self.ix: ProblemIndex = build_index(self.problem)
        self.model: MipModel
        self.mp: ModelMap
        self.model, self.mp = build_model(self.ix)
        x = encode_plan(self.ix, self.model, self.mp, plan)
        assert x is not None, "the plan is not feasible in the model"
        self.x = x

    def _one(self, block: str, mask: np.ndarray) -> int:
        (pos,) = np.flatnonzero(mask)
        return int(self.model.blocks[block].start + pos)

    def line(self, order: str, no: int) -> int:
        oi = [o.id for o in self.problem.orders].index(order)
        return int(np.flatnonzero((self.ix.line_order == oi) & (self.ix.line_no == no))[0])

    def pair(self, sku: str) -> int:
        return self.ix.skus.index(sku) * self.ix.n_locations  # WH-1

    def agreement(self, ag: str) -> int:
        return self.ix.agreement_ids.index(ag)

    def x_col(self, order: str, no: int, t: int) -> int:
        return self._one("x", (self.mp.x_line == self.line(order, no)) & (self.mp.x_t == t))

    def y_col(self, ag: str, order: str, no: int, p: int) -> int:
        mp = self.mp
        return self._one("y", (mp.y_ag == self.agreement(ag)) & (mp.y_line == self.line(order, no)) & (mp.y_p == p))

    def stock_col(self, sku: str, t: int) -> int:
        return int(self.model.blocks["I"].start + self.mp.pair_slot[self.pair(sku)] * self.ix.T + t)

    def s_col(self, sku: str, t: int) -> int:
        return self._one("s", (self.mp.s_pair == self.pair(sku)) & (self.mp.s_t == t))

    def segments(self, ag: str, p: int) -> np.ndarray:
        """Segment positions (in the ``n`` block) of slot (ag, p), cheapest last."""
        (slot,) = np.flatnonzero((self.mp.slot_ag == self.agreement(ag)) & (self.mp.slot_p == p))
        return np.flatnonzero(self.mp.seg_slot == slot)

    def n_col(self, ag: str, p: int, k: int) -> int:
        return int(self.model.blocks["n"].start + self.segments(ag, p)[k])

    def w_col(self, ag: str, p: int, k: int) -> int:
        return self._one("w", self.mp.w_seg == self.segments(ag, p)[k])

    def u_col(self, supplier: str, p: int) -> int:
        return self._one("u", (self.mp.u_sup == self.ix.supplier_ids.index(supplier)) & (self.mp.u_p == p))

    def v_col(self, order: str, t: int) -> int:
        oi = [o.id for o in self.problem.orders].index(order)
        return self._one("v", (self.mp.v_order == oi) & (self.mp.v_t == t))

    def restock(self, x: np.ndarray) -> np.ndarray:
        """``x`` with the stock that its flows leave (the stock balance solved for ``I``)."""
        model, T = self.model, self.ix.T
        rows, i_block = model.row_blocks["stock_balance"], model.blocks["I"]
        x = x.copy()
        x[i_block] = 0.0
        flow = model.row_lower[rows] - model.matrix[rows] @ x
        x[i_block] = np.cumsum(flow.reshape(-1, T), axis=1).ravel()
        return x

    def broken(self, x: np.ndarray) -> set[str]:
        """The row families ``x`` violates; ``x`` must keep every column bound and integrality."""
        m = self.model
        assert np.all(x >= m.col_lower - TOL) and np.all(x <= m.col_upper + TOL), "a column bound is broken"
        assert np.all(np.abs(x - np.rint(x))[m.integrality] <= TOL), "an integer column is fractional"
        ax = m.matrix @ x
        bad = (ax < m.row_lower - TOL) | (ax > m.row_upper + TOL)
        return {name for name, rows in m.row_blocks.items() if np.any(bad[rows])}


@pytest.fixture(scope="module")
def shop() -> Built:
    return Built(SHOP, PLAN)


def test_the_plan_is_feasible_and_the_objective_is_its_cost(shop: Built) -> None:
    """The hand-made plan keeps every rule, the evaluator agrees, and the columns' costs add up to its cost."""
    ev = evaluate(shop.problem, PLAN)
    assert ev.feasible, ev.violations
    assert shop.broken(shop.x) == set()
    assert shop.model.objective(shop.x) == pytest.approx(ev.cost, rel=1e-12)
    # Every family the shop is meant to exercise has rows.
    for name in ("stock_balance", "safety_stock", "line_quantity", "dropship_balance", "segment_upper",
                 "segment_lower", "one_segment", "fixed_cost_link", "ship_complete_whole", "ship_complete_once"):
        rows = shop.model.row_blocks[name]
        assert rows.stop > rows.start, name
    assert shop.x[shop.s_col("A", 0)] == 1.0  # stock 4 at the end of period 0, safety stock 5


@pytest.mark.parametrize("name", ["mixed-small", "mixed-medium", "tiny-0", "tiny-1", "tiny-2", "small-0"])
def test_greedy_plans_keep_every_family(name: str) -> None:
    """The greedy plan (always feasible; it follows no allocation policy) keeps every rule, at its cost."""
    if name.startswith(("tiny", "small")):
        family, seed = name.split("-")
        data = generate(family, seed=int(seed))
    else:
        data = example_data(name)
    problem = load_problem(data)
    plan = greedy_plan(build_index(problem))
    built = Built(data, plan)
    assert built.broken(built.x) == set()
    assert built.model.objective(built.x) == pytest.approx(evaluate(problem, plan).cost, rel=1e-9)


def test_stock_balance(shop: Built) -> None:
    """One more unit in stock at the end of period 2 than the flows leave: off by one in periods 2 and 3."""
    x = shop.x.copy()
    x[shop.stock_col("A", 2)] += 1
    assert shop.broken(x) == {"stock_balance"}
    rows = shop.model.row_blocks["stock_balance"]
    residual = shop.model.matrix[rows] @ x - shop.model.row_lower[rows]
    assert sorted(np.flatnonzero(residual)) == [shop.mp.pair_slot[shop.pair("A")] * 4 + t for t in (2, 3)]


def test_safety_stock_shortfall(shop: Built) -> None:
    """Stock 4 below a safety stock of 5 and no shortfall counted."""
    x = shop.x.copy()
    x[shop.s_col("A", 0)] = 0
    assert shop.broken(x) == {"safety_stock"}


def test_line_quantity_shipped(shop: Built) -> None:
    """SO-1 is shipped its 6 units, then one more in period 1."""
    x = shop.x.copy()
    x[shop.x_col("SO-1", 0, 1)] = 1
    assert shop.broken(shop.restock(x)) == {"line_quantity"}


def test_line_quantity_dropshipped(shop: Built) -> None:
    """SO-3 is dropshipped its 5 units, then one more ordered in period 1."""
    x = shop.x.copy()
    x[shop.y_col("AG-B", "SO-3", 0, 1)] = 1
    x[shop.n_col("AG-B", 1, 0)] = 1  # the dropship order of period 1 is that unit
    assert shop.broken(shop.restock(x)) == {"line_quantity"}


def test_dropship_balance(shop: Built) -> None:
    """5 units ordered on the dropship agreement, only 4 of them delivered to SO-3."""
    x = shop.x.copy()
    x[shop.y_col("AG-B", "SO-3", 0, 0)] = 4
    assert shop.broken(x) == {"dropship_balance"}


def test_segment_bounds_moq(shop: Built) -> None:
    """2 packs (4 units) on AG-A, below its MOQ of 6, with the segment chosen."""
    x = shop.x.copy()
    assert x[shop.n_col("AG-A", 0, 0)] == 3 and x[shop.w_col("AG-A", 0, 0)] == 1
    x[shop.n_col("AG-A", 0, 0)] = 2
    assert shop.broken(shop.restock(x)) == {"segment_lower"}


def test_segment_bounds_unchosen_segment(shop: Built) -> None:
    """3 packs bought at the 5.00 price without choosing that segment."""
    x = shop.x.copy()
    x[shop.w_col("AG-A", 0, 0)] = 0
    assert shop.broken(x) == {"segment_upper"}


def test_one_segment_per_order_two_prices(shop: Built) -> None:
    """One order on AG-A priced in both segments: 3 packs at 5.00 and 5 packs at 4.00."""
    x = shop.x.copy()
    x[shop.n_col("AG-A", 0, 1)] = 5
    x[shop.w_col("AG-A", 0, 1)] = 1
    assert shop.broken(shop.restock(x)) == {"one_segment"}


def test_one_segment_per_order_pays_the_order_cost(shop: Built) -> None:
    """An order on AG-A (with segment binaries) without paying S1's order cost."""
    x = shop.x.copy()
    x[shop.u_col("S1", 0)] = 0
    assert shop.broken(x) == {"one_segment"}


def test_fixed_cost_link(shop: Built) -> None:
    """One unit of C bought on AG-C (no segment binary) in period 1, S1's order cost not paid."""
    x = shop.x.copy()
    x[shop.n_col("AG-C", 1, 0)] = 1
    assert x[shop.u_col("S1", 1)] == 0
    assert shop.broken(shop.restock(x)) == {"fixed_cost_link"}
    x[shop.u_col("S1", 1)] = 1
    assert shop.broken(shop.restock(x)) == set()


def test_ship_complete_partial(shop: Built) -> None:
    """SO-2 delivered in period 1 with only 1 of its 2 C."""
    x = shop.x.copy()
    x[shop.x_col("SO-2", 1, 1)] = 1
    assert shop.broken(shop.restock(x)) == {"ship_complete_whole"}


def test_ship_complete_split_over_periods(shop: Built) -> None:
    """SO-2's A in period 1, its C in period 2."""
    x = shop.x.copy()
    x[shop.x_col("SO-2", 1, 1)] = 0
    x[shop.x_col("SO-2", 1, 2)] = 2
    assert shop.broken(shop.restock(x)) == {"ship_complete_whole"}


def test_ship_complete_at_most_once(shop: Built) -> None:
    """SO-2 delivered whole twice, in periods 1 and 2."""
    x = shop.x.copy()
    for no in (0, 1):
        x[shop.x_col("SO-2", no, 2)] = 2
    x[shop.v_col("SO-2", 2)] = 1
    assert shop.broken(shop.restock(x)) == {"ship_complete_once"}


def test_stock_upper_bound(shop: Built) -> None:
    """Stock never exceeds on hand + inbound + the most every slot of the pair can bring.

    AG-A can arrive in periods 1-3 (3 slots), each with segments of at most 4 packs
    (below the break at 10 units) and 7 packs (enough for 14 useful units: 8 on lines,
    1 forecast, 5 safety stock): 10 + 3 * (4 + 7) * 2 = 76. AG-C: 3 slots of at most
    2 units (SO-2's C): 5 + 3 * 2 = 11.
    """
    upper = shop.model.col_upper
    assert [upper[shop.stock_col("A", t)] for t in range(4)] == [76.0] * 4
    assert [upper[shop.stock_col("C", t)] for t in range(4)] == [11.0] * 4


def test_order_smoothing() -> None:
    """AG-A may change its order by 6 units a period: 6 then 0 keeps it, 8 then 0 does not."""
    data = copy.deepcopy(SHOP)
    data["agreements"][0]["max_change_per_period"] = 6
    built = Built(data, PLAN)
    assert built.broken(built.x) == set()
    x = built.x.copy()
    x[built.n_col("AG-A", 0, 0)] = 4
    assert built.broken(built.restock(x)) == {"order_smoothing"}


def _split_shop(fee: float = 0.0, minimum: int | None = None, complete: bool = True) -> dict[str, Any]:
    """The shop with a shipment fee, SO-1's minimum partial shipment and SO-2 ship-complete or not."""
    data = copy.deepcopy(SHOP)
    data["settings"]["shipment_cost"] = fee
    if minimum is not None:
        data["orders"][0]["min_partial_shipment"] = minimum
        data["orders"][1]["min_partial_shipment"] = minimum
    data["orders"][1]["ship_complete"] = complete
    return data


def _split(built: Built, x: np.ndarray) -> np.ndarray:
    """``x`` restocked, with the split-shipment binaries following its deliveries."""
    x = built.restock(x)
    fill_split_shipments(built.model, built.mp.split, x)
    return x


def test_shipment_fee() -> None:
    """A fee of 2 per shipment: SO-1 in period 0 and SO-2's two lines in period 1 are two (dropships none).

    Shipping without the order's fee binary breaks ``shipment_link``; the objective is the evaluator's.
    """
    built = Built(_split_shop(fee=2.0), PLAN)
    ev = evaluate(built.problem, PLAN)
    assert built.broken(built.x) == set()
    assert ev.shipment_fees == 4.0 and built.model.objective(built.x) == pytest.approx(ev.objective, rel=1e-12)
    assert built.model.blocks["shipment_fee"].stop > built.model.blocks["shipment_fee"].start
    x = built.x.copy()
    split = built.mp.split
    assert split is not None
    x[split.fee_cols] = 0.0
    assert built.broken(x) == {"shipment_link"}


def test_partial_shipment_pays_its_orders_fee() -> None:
    """SO-2 (not ship-complete, two lines, minimum 2): a line shipped in its own parcel with the order's unpaid."""
    built = Built(_split_shop(fee=2.0, minimum=2, complete=False), PLAN)
    assert built.broken(built.x) == set()
    split = built.mp.split
    assert split is not None
    x = built.x.copy()
    so2 = [o.id for o in built.problem.orders].index("SO-2")
    x[split.fee_cols[(split.fee_order == so2) & (split.fee_t == 1)]] = 0.0
    assert built.broken(x) == {"line_shipped_fee"}


def test_partial_minimum() -> None:
    """SO-1 (6 units, minimum 4): 3 in period 0 and 3 in period 1 breaks it; 4 then 2 keeps it (the 2 completes)."""
    built = Built(_split_shop(minimum=4), PLAN)
    assert built.broken(built.x) == set()
    x = built.x.copy()
    x[built.x_col("SO-1", 0, 0)] = 3
    x[built.x_col("SO-1", 0, 1)] = 3
    assert built.broken(_split(built, x)) == {"partial_minimum"}
    x[built.x_col("SO-1", 0, 0)] = 4
    x[built.x_col("SO-1", 0, 1)] = 2
    assert built.broken(_split(built, x)) == set()


def test_line_done_by() -> None:
    """SO-1 said whole by period 0 with only 3 of its 6 units delivered then."""
    built = Built(_split_shop(minimum=4), PLAN)
    split = built.mp.split
    assert split is not None
    x = built.x.copy()
    x[built.x_col("SO-1", 0, 0)] = 3
    x[built.x_col("SO-1", 0, 1)] = 3
    x = _split(built, x)
    so1 = built.line("SO-1", 0)
    x[split.done_cols[(split.done_line == so1) & (split.done_t == 0)]] = 1.0
    assert built.broken(x) == {"line_done_by"}


def _contest(policy: str, priorities: tuple[int, int]) -> dict[str, Any]:
    """Two lines of 3 competing for 4 units in stock (no purchases)."""
    return {
        "horizon": {"start": _day(0), "periods": 2, "period_days": 7},
        "items": [{"sku": "P", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 10.0}],
        "locations": [{"id": "WH-1"}],
        "stock": [{"sku": "P", "location": "WH-1", "on_hand": 4}],
        "orders": [
            {"id": f"SO-{k}", "customer": f"c{k}", "priority": prio, "due": _day(0), "latest": _day(1),
             "lines": [{"sku": "P", "quantity": 3}]}
            for k, prio in enumerate(priorities)
        ],
        "settings": {"policy": policy},
    }


def _deliveries(q0: int, q1: int) -> Decisions:
    return Decisions(shipments=[
        Shipment(order=f"SO-{k}", line=0, location="WH-1", period=0, quantity=q) for k, q in enumerate((q0, q1))
    ])


@pytest.mark.parametrize(
    ("policy", "priorities", "kept", "broken", "family"),
    [
        ("priority", (1, 3), (3, 1), (2, 2), {"priority_lower_waits"}),
        ("fair_share", (3, 3), (2, 2), (3, 1), {"fair_share_level_band"}),
    ],
    ids=["priority", "fair_share"],
)
def test_allocation_policy(
    policy: str, priorities: tuple[int, int], kept: tuple[int, int], broken: tuple[int, int], family: set[str]
) -> None:
    """Priority: the first line is whole before the second gets a unit. Fair share: equal lines, equal fill."""
    built = Built(_contest(policy, priorities), _deliveries(*kept))
    assert built.broken(built.x) == set()
    x = built.x.copy()
    for k, q in enumerate(broken):
        x[built.x_col(f"SO-{k}", 0, 0)] = q
    fill_policy_columns(built.model, built.mp.policy, x)  # the policy's own columns follow the deliveries
    assert built.broken(built.restock(x)) == family
