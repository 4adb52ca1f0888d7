"""Large-neighbourhood search over SKU groups: fix-and-optimize until the deadline.

With every SKU but a small group held to the incumbent's decisions, what the group
may still do is an exact sub-problem: its own lines, stock and purchases; a
supplier period that another SKU already orders in costs the group nothing, one
nobody else orders in costs its full fixed cost (and likewise a shipment fee: an
order another SKU already ships from that warehouse in that period costs the
group nothing more there); a ship-complete order that
reaches outside the group keeps the incumbent's choice (delivered whole in the
same period, or not at all). A *move* solves that sub-MIP warm-started from the
incumbent, so it never returns anything worse, and the incumbent takes its
decisions when they are cheaper.

Where to look: the SKUs where the incumbent loses most against the LP relaxation
(plan-minus-LP cost per SKU, measured on the part LPs of the decomposition's first
round) seed the groups; a group grows along ship-complete orders, so that the
orders it frees are the ones that cost money. Sweeps repeat with larger groups
until the deadline. On generated problems of 1,000 orders most moves solve to
optimality in well under a second.

Moves run ``workers`` at a time on the decomposition's :class:`PartRunner`, on
disjoint groups. Two moves that finish together can disagree only through a
supplier period both stop (or start) using, so the merged plan is checked by the
evaluator at checkpoints, and a checkpoint that is not cheaper than the last one
is undone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.solver import progress
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import SolveOptions, stop_requested
from stockplan.solver.builder import ModelMap, build_model
from stockplan.solver.decode import decode_plan, encode_plan, integral_flows
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.indexing import ProblemIndex, ShipmentKeys, subset_index
from stockplan.solver.mip import MipModel
from stockplan.solver.model.strengthen import Strengthening
from stockplan.solver.reconcile import decoded_vector

log = logging.getLogger(__name__)

# Successive sweeps: SKU groups of a size (small first: fast, and most of the money on generated
# data), and supplier sweeps between them; after the schedule the last two entries alternate.
# A supplier sweep frees, per supplier period, every SKU ordered there (up to SUPPLIER_GROUP_MAX):
# only all of them together can stop paying its fixed order cost.
SCHEDULE: tuple[int, ...] = (1, 0, 3, 0, 6, 0, 10, 0)  # group size; 0: a supplier sweep
SUPPLIER_GROUP_MAX = 16
# A move's time limit: this share of what is left, within these bounds (seconds).
MOVE_SHARE = 0.1
MOVE_MIN, MOVE_MAX = 0.3, 10.0
# ... and at most this plus this per SKU of the group: a single SKU that has not improved in
# 1.5 s seldom does (measured on 1,000 orders), and the time goes to the next group.
MOVE_BASE, MOVE_PER_SKU = 1.0, 0.5
SUPPLIER_MOVE_SHARE, SUPPLIER_MOVE_MIN = 0.2, 1.5
# What a move's sub-MIP is built with.
MOVE_STRENGTHENING = Strengthening(tight_segments=True, dropship_links=True, segment_flows=False)
# A move is kept when it saves more than this (absolute, in cost units).
MIN_SAVING = 1e-6
# A repair move (a SKU whose incumbent breaks the allocation policy) starts without a warm
# start: it gets this share of what is left, within these bounds.
REPAIR_SHARE, REPAIR_MIN = 0.1, 2.0
# ... of which this share goes to handing out the incumbent's units again (a start that follows it).
REPAIR_FIRST = 0.5


def column_skus(ix: ProblemIndex, model: MipModel, mp: ModelMap) -> np.ndarray:
    """The SKU (index into ``ix.skus``) of every column whose cost belongs to one SKU; -1 for the others.

    Supplier-period columns (``u``) are shared by the SKUs ordered from the
    supplier, and ship-complete and policy columns cost nothing. A shipment-fee
    column belongs to its order's SKU when all the order's lines are of one SKU,
    else it is shared.
    """
    NL, b = ix.n_locations, model.blocks
    col_sku = np.full(model.num_cols, -1, dtype=np.int64)
    col_sku[b["x"]] = ix.line_sku[mp.x_line]
    col_sku[b["y"]] = ix.line_sku[mp.y_line]
    col_sku[b["f"]] = mp.f_pair // NL
    col_sku[b["I"]] = np.repeat(mp.active_pairs, ix.T) // NL
    col_sku[b["s"]] = mp.s_pair // NL
    col_sku[b["n"]] = ix.ag_sku[mp.slot_ag[mp.seg_slot]]
    if mp.split is not None and mp.split.fee_cols.size:
        n_orders = ix.order_fee.shape[0]
        lowest = np.full(n_orders, np.iinfo(np.int64).max)
        highest = np.full(n_orders, -1)
        np.minimum.at(lowest, ix.line_order, ix.line_sku)
        np.maximum.at(highest, ix.line_order, ix.line_sku)
        own = np.where(lowest == highest, highest, -1)
        col_sku[mp.split.fee_cols] = own[mp.split.fee_order]
    return col_sku


def sku_costs(model: MipModel, col_sku: np.ndarray, x: np.ndarray, n_skus: int) -> np.ndarray:
    """``c·x`` per SKU (the model's offset and shared columns left out)."""
    own = col_sku >= 0
    return np.bincount(col_sku[own], weights=(model.cost * x)[own], minlength=n_skus)


def ship_complete_orders(ix: ProblemIndex) -> dict[int, np.ndarray]:
    """The SKUs (sorted) of every ship-complete order, by index into ``problem.orders``."""
    sc = np.flatnonzero(ix.line_complete)
    out: dict[int, set[int]] = {}
    for o, k in zip(ix.line_order[sc].tolist(), ix.line_sku[sc].tolist(), strict=True):
        out.setdefault(o, set()).add(k)
    return {o: np.array(sorted(ks), dtype=np.int64) for o, ks in out.items()}


def sku_neighbours(n_skus: int, orders: dict[int, np.ndarray]) -> list[list[int]]:
    """Per SKU, the SKUs it shares a ship-complete order with."""
    nb: list[set[int]] = [set() for _ in range(n_skus)]
    for ks in orders.values():
        if ks.shape[0] > 1:
            for k in ks.tolist():
                nb[k].update(ks.tolist())
    return [sorted(s - {k}) for k, s in enumerate(nb)]


def neighbourhoods(loss: np.ndarray, neighbours: list[list[int]], size: int) -> list[np.ndarray]:
    """Disjoint SKU groups of at most ``size``, seeded by decreasing ``loss``, grown along ship-complete orders.

    A group takes its seed, then the seed's neighbours by decreasing loss, then
    theirs (breadth first), until it has ``size`` SKUs or no untaken neighbour.
    """
    order = np.argsort(-loss, kind="stable")
    taken = np.zeros(loss.shape[0], dtype=bool)
    groups = []
    for seed in order.tolist():
        if taken[seed]:
            continue
        group = [seed]
        taken[seed] = True
        frontier = [seed]
        while frontier and len(group) < size:
            around = sorted({j for k in frontier for j in neighbours[k] if not taken[j]}, key=lambda j: -loss[j])
            frontier = around[: size - len(group)]
            taken[frontier] = True
            group.extend(frontier)
        groups.append(np.sort(np.array(group, dtype=np.int64)))
    return groups


def hold_complete_orders(model: MipModel, mp: ModelMap, periods: dict[int, int], deliver: bool = True) -> None:
    """Hold each ship-complete order of ``periods`` to its period (-1: never): no other period is allowed.

    With ``deliver``, the order is also delivered whole then (a move keeps the
    incumbent's choice exactly); without, delivering it then stays a choice.
    """
    if not periods:
        return
    v = np.arange(model.blocks["v"].start, model.blocks["v"].stop)
    orders = np.fromiter(periods.keys(), dtype=np.int64)
    chosen = np.fromiter(periods.values(), dtype=np.int64)
    sorter = np.argsort(orders)
    pos = sorter[np.minimum(np.searchsorted(orders, mp.v_order, sorter=sorter), orders.shape[0] - 1)]
    held = orders[pos] == mp.v_order
    model.col_upper[v[held & (chosen[pos] != mp.v_t)]] = 0.0
    if deliver:
        model.col_lower[v[held & (chosen[pos] == mp.v_t)]] = 1.0


@dataclass
class MoveResult:
    """What one move found: the group's new decisions, or None when they are not cheaper."""

    skus: np.ndarray
    plan: Decisions | None
    saving: float  # the incumbent's sub-objective minus the move's (>= 0)
    outcome: str
    seconds: float
    repaired: bool = False  # the incumbent broke the group's policy rows; the plan follows them


def improve_group(
    full: ProblemIndex,
    skus: np.ndarray,
    period_cost: np.ndarray,
    warm: Decisions,
    held: dict[int, int],
    options: SolveOptions,
    backend: str,
    deadline: float,
    fee_waived: np.ndarray | None = None,
) -> MoveResult:
    """One move: the group's sub-MIP with the rest held to the incumbent, warm-started from ``warm``.

    Parameters
    ----------
    full : ProblemIndex
        The whole problem's index.
    skus : numpy.ndarray
        The group (indices into ``full.skus``).
    period_cost : numpy.ndarray
        ``(suppliers, T)``: 0 where another SKU of the incumbent orders, else the fixed cost.
    warm : Decisions
        The incumbent's decisions for the group's SKUs.
    held : dict
        Ship-complete orders reaching outside the group, with the incumbent's period (-1: not delivered).
    options, backend
        How to solve; ``options.time_limit`` is the move's limit.
    deadline : float
        Wall clock (``time.time()``) after which the move does not start.
    fee_waived : numpy.ndarray, optional
        Shipments (order, location, period keys) that other SKUs of the incumbent make:
        the group pays no fee there.
    """
    started = time.perf_counter()
    left = deadline - time.time()
    if left < 0.05:
        return MoveResult(skus, None, 0.0, "skipped", 0.0)
    options = replace(options, time_limit=min(options.limit, left))
    ix = subset_index(full, skus, period_cost, fee_waived=fee_waived)
    model, mapping = build_model(ix, strengthen=MOVE_STRENGTHENING)
    hold_complete_orders(model, mapping, held)
    x0 = encode_plan(ix, model, mapping, warm, feasible_only=False)
    if x0 is None:
        return MoveResult(skus, None, 0.0, "no warm start", time.perf_counter() - started)
    # A feasible plan breaks the sub-model only in its policy rows: then any solution is a
    # repair, kept whatever it costs (the checkpoint weighs the policy first).
    repair = model.max_violation(x0) > 1e-6
    before = model.objective(x0)
    if repair:
        start = reallocate_supply(model, x0, replace(options, time_limit=REPAIR_FIRST * options.limit), backend)
        if start is None:
            return MoveResult(skus, None, 0.0, "repair failed", time.perf_counter() - started)
        x0 = start
        options = replace(options, time_limit=max(0.05, min(options.limit, deadline - time.time())))
    result = get_backend(backend).solve(model, options, x0)
    if result.x is None:
        return MoveResult(skus, None, 0.0, str(result.outcome), time.perf_counter() - started)
    x = integral_flows(model, result.x, options)
    if x is None:
        return MoveResult(skus, None, 0.0, "flows failed", time.perf_counter() - started)
    after = model.objective(decoded_vector(model, x))
    if not repair and after > before - MIN_SAVING:
        return MoveResult(skus, None, 0.0, str(result.outcome), time.perf_counter() - started)
    plan = decode_plan(ix, model, mapping, x)
    return MoveResult(skus, plan, max(0.0, before - after), str(result.outcome), time.perf_counter() - started,
                      repaired=repair)


def reallocate_supply(model: MipModel, x0: np.ndarray, options: SolveOptions, backend: str) -> np.ndarray | None:
    """A start that follows the policy: the incumbent's purchases kept, its units handed out again.

    With every purchase column (packs, price segments, supplier periods) fixed, what is left
    is who gets the units, and giving nobody anything already keeps every policy row, so a
    solution comes fast; it then warm-starts the full move.
    """
    lower, upper = model.col_lower.copy(), model.col_upper.copy()
    for block in ("n", "w", "u"):
        cols = model.blocks[block]
        model.col_lower[cols] = model.col_upper[cols] = x0[cols]
    try:
        result = get_backend(backend).solve(model, options, None)
    finally:
        model.col_lower[:], model.col_upper[:] = lower, upper
    if result.x is None:
        return None
    x = integral_flows(model, result.x, options)
    return None if x is None or model.max_violation(x) > 1e-6 else x


def skus_breaking_policy(state: SkuPlan, evaluation: Evaluation) -> list[int]:
    """The SKUs (indices into ``ix.skus``) of the lines the evaluator finds the policy broken for,
    most violations first: repair moves take them before the sweeps."""
    count: dict[int, int] = {}
    for v in evaluation.policy_violations:
        sku = state.sku_of_line.get((v.entities.get("order"), v.entities.get("line")))
        if sku in state.sku_of:
            count[state.sku_of[sku]] = count.get(state.sku_of[sku], 0) + 1
    return sorted(count, key=lambda k: (-count[k], k))


class SkuPlan:
    """The incumbent, kept per SKU so that a move replaces its group's decisions in one step."""

    def __init__(self, problem: Problem, ix: ProblemIndex, plan: Decisions) -> None:
        self.problem, self.ix = problem, ix
        self.sku_of = {s: k for k, s in enumerate(ix.skus)}
        self.sku_of_line = {(o.id, j): line.sku for o in problem.orders for j, line in enumerate(o.lines)}
        self.ag_sku = {a.id: a.sku for a in problem.agreements}
        sup_index = {sid: k for k, sid in enumerate(ix.supplier_ids)}
        self.supplier_of = {a.id: sup_index[a.supplier] for a in problem.agreements}
        # Shipment fees: the shipments of each SKU, and the SKUs that share an order with each SKU.
        self.fees = bool(ix.order_fee.any())
        self.shipment_keys = ShipmentKeys(ix)
        self.fee_keys: list[np.ndarray] = [np.zeros(0, np.int64) for _ in ix.skus]
        self.sharing: list[list[int]] = []
        if self.fees:
            by_order: dict[int, set[int]] = {}
            charged = ix.order_fee[ix.line_order] > 0
            for o, k in zip(ix.line_order[charged].tolist(), ix.line_sku[charged].tolist(), strict=True):
                by_order.setdefault(o, set()).add(k)
            self.sharing = sku_neighbours(len(ix.skus), {o: np.array(sorted(ks)) for o, ks in by_order.items()})
        self.reset(plan)

    def reset(self, plan: Decisions) -> None:
        self.parts = self.split(plan)
        self.usage = np.zeros((len(self.ix.skus), len(self.ix.supplier_ids), self.ix.T), dtype=bool)
        for k in range(len(self.ix.skus)):
            self._mark(k)

    def split(self, plan: Decisions) -> list[Decisions]:
        out = [Decisions() for _ in self.ix.skus]
        for s in plan.shipments:
            out[self.sku_of[self.sku_of_line[s.order, s.line]]].shipments.append(s)
        for f in plan.forecast_fills:
            out[self.sku_of[f.sku]].forecast_fills.append(f)
        for po in plan.purchase_orders:
            out[self.sku_of[self.ag_sku[po.agreement]]].purchase_orders.append(po)
        return out

    def _mark(self, k: int) -> None:
        self.usage[k] = False
        for po in self.parts[k].purchase_orders:
            if po.quantity > 0:
                self.usage[k, self.supplier_of[po.agreement], po.period] = True
        if self.fees:
            self.fee_keys[k] = self.shipment_keys(self.parts[k].shipments)

    def group(self, skus: np.ndarray) -> Decisions:
        return Decisions(
            shipments=[s for k in skus.tolist() for s in self.parts[k].shipments],
            forecast_fills=[f for k in skus.tolist() for f in self.parts[k].forecast_fills],
            purchase_orders=[po for k in skus.tolist() for po in self.parts[k].purchase_orders],
        )

    def replace(self, skus: np.ndarray, plan: Decisions) -> None:
        parts = self.split(plan)
        for k in skus.tolist():
            self.parts[k] = parts[k]
            self._mark(k)

    def plan(self) -> Decisions:
        return self.group(np.arange(len(self.ix.skus)))

    def supplier_groups(self, fixed: np.ndarray, most: int) -> list[np.ndarray]:
        """Per supplier period ordered in with a fixed cost, the SKUs ordered there (at most ``most``),
        dearest per SKU first."""
        users = self.usage.sum(axis=0)
        found = [(fixed[s, p] / users[s, p], np.flatnonzero(self.usage[:, s, p]))
                 for s, p in zip(*np.nonzero((users > 0) & (users <= most) & (fixed > 0)), strict=True)]
        return [g for _, g in sorted(found, key=lambda e: -e[0])]

    def period_cost(self, skus: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """``(suppliers, T)``: what a supplier period costs the group, given everyone else's orders."""
        others = self.usage.sum(axis=0) - self.usage[skus].sum(axis=0)
        return np.where(others > 0, 0.0, fixed)

    def fee_waived(self, skus: np.ndarray) -> np.ndarray | None:
        """The shipments (order, location, period keys) of SKUs outside the group to orders the group shares.

        The group pays no shipment fee there; None when the problem has no fees.
        """
        if not self.fees:
            return None
        inside = set(skus.tolist())
        others = sorted({j for k in inside for j in self.sharing[k]} - inside)
        return np.unique(np.concatenate([self.fee_keys[j] for j in others] or [np.zeros(0, np.int64)]))

    def held_orders(self, skus: np.ndarray, orders: dict[int, np.ndarray]) -> dict[int, int]:
        """Ship-complete orders with SKUs in and outside the group, with the incumbent's period (-1: none)."""
        inside = np.zeros(len(self.ix.skus), dtype=bool)
        inside[skus] = True
        ids = {self.problem.orders[o].id: o for o, ks in orders.items() if inside[ks].any() and not inside[ks].all()}
        held = dict.fromkeys(ids.values(), -1)
        for k in skus.tolist():
            for s in self.parts[k].shipments:
                o = ids.get(s.order)
                if o is not None and s.quantity > 0:
                    held[o] = max(held[o], s.period)
        return held


@dataclass
class SearchResult:
    plan: Decisions
    evaluation: Evaluation
    moves: int = 0
    kept: int = 0
    sweeps: int = 0
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, cost) per checkpoint


def search(
    problem: Problem,
    ix: ProblemIndex,
    incumbent: Decisions,
    incumbent_eval: Evaluation,
    lp_sku: np.ndarray | None,
    submit: Callable[..., Any],
    options: SolveOptions,
    backend: str,
    workers: int,
    wall_deadline: float,
    full: tuple[MipModel, ModelMap] | None = None,
    eval_seconds: float = 0.0,
) -> SearchResult:
    """Improve a feasible ``incumbent`` by moves on SKU groups until ``wall_deadline`` (``time.time()``).

    ``submit(fn, *args)`` runs ``fn(ix, *args)`` in a worker and returns a future;
    ``lp_sku`` is the LP relaxation's cost per SKU (None: groups are seeded by the
    incumbent's own cost per SKU). The moves stop early enough for the last
    checkpoint's evaluation (``eval_seconds``, then as measured) to end by the deadline.
    """
    started = time.time()
    model, mapping = full if full is not None else build_model(ix)
    col_sku = column_skus(ix, model, mapping)
    S = len(ix.skus)
    orders = ship_complete_orders(ix)
    fixed = ix.fixed_order_cost()
    state = SkuPlan(problem, ix, incumbent)
    # Groups grow along ship-complete orders and, with shipment fees, along the orders whose fees SKUs share.
    neighbours = [sorted(set(a) | set(b)) for a, b in zip(sku_neighbours(S, orders), state.sharing, strict=True)] \
        if state.fees else sku_neighbours(S, orders)
    checkpoint, checkpoint_eval = incumbent, incumbent_eval
    out = SearchResult(incumbent, incumbent_eval)
    eval_every = 1.0
    last_eval = time.time()
    pending_saving = 0.0
    pending_repair = False
    busy = np.zeros(S, dtype=bool)
    in_flight: list[tuple[Any, np.ndarray]] = []
    # SKUs whose incumbent breaks the policy go first, one at a time: no warm start helps them.
    repairs = {k: np.array([k]) for k in skus_breaking_policy(state, incumbent_eval)}
    queue: list[np.ndarray] = list(repairs.values())
    supplier_sweep = False

    def losses() -> np.ndarray:
        x = encode_plan(ix, model, mapping, state.plan())
        plan_sku = sku_costs(model, col_sku, x, S) if x is not None else np.zeros(S)
        return plan_sku - (lp_sku if lp_sku is not None else 0.0)

    def take_checkpoint() -> None:
        nonlocal checkpoint, checkpoint_eval, pending_saving, pending_repair, last_eval, eval_every, eval_seconds
        t = time.time()
        candidate = state.plan()
        ev = evaluate(problem, candidate)
        eval_seconds = time.time() - t
        eval_every = max(2.0, 10 * eval_seconds)  # the evaluator takes a core from the moves meanwhile
        last_eval = time.time()
        if ev.feasible and ev.better_than(checkpoint_eval):
            checkpoint, checkpoint_eval = candidate, ev
            out.history.append((time.time() - started, ev.objective))
            progress.report("lns", f"sweep {out.sweeps}: {out.kept} of {out.moves} moves kept",
                            best_cost=ev.objective, round=out.sweeps)
        else:
            # Moves that finished together disagreed (a shared supplier period): back to the checkpoint.
            log.debug("checkpoint refused: feasible=%s cost=%.2f against %.2f (expected saving %.2f)",
                      ev.feasible, ev.cost, checkpoint_eval.objective, pending_saving)
            state.reset(checkpoint)
        pending_saving, pending_repair = 0.0, False

    sweep_kept, sweep_proven, quiet = 0, True, 0
    while time.time() < wall_deadline - 0.1 - 1.2 * eval_seconds and not stop_requested():
        if not queue and not in_flight:
            quiet = quiet + 1 if out.sweeps and sweep_kept == 0 and sweep_proven else 0
            if quiet >= 2 and out.sweeps >= len(SCHEDULE):
                break  # the largest groups and every supplier period are optimal as they stand
        if not queue and not in_flight:  # a sweep ends when its last move is back: then it can be judged quiet
            n = len(SCHEDULE)
            size = SCHEDULE[out.sweeps] if out.sweeps < n else SCHEDULE[n - 2 + (out.sweeps - n) % 2]
            out.sweeps += 1
            sweep_kept, sweep_proven = 0, True
            supplier_sweep = size == 0
            queue = state.supplier_groups(fixed, SUPPLIER_GROUP_MAX) if supplier_sweep else neighbourhoods(
                losses(), neighbours, size)
        while len(in_flight) < workers and queue:
            pick = next((g for g in queue if not busy[g].any()), None)
            if pick is None:
                break
            queue = [g for g in queue if g is not pick]
            left = wall_deadline - time.time()
            # A supplier period's group is larger and harder: it gets more time.
            share, least = (SUPPLIER_MOVE_SHARE, SUPPLIER_MOVE_MIN) if supplier_sweep else (MOVE_SHARE, MOVE_MIN)
            limit = float(np.clip(share * left, least, min(MOVE_MAX, MOVE_BASE + MOVE_PER_SKU * pick.shape[0])))
            if out.sweeps == 0:  # a repair move
                limit = float(np.clip(REPAIR_SHARE * left, min(REPAIR_MIN, left), MOVE_MAX))
            future = submit(
                improve_group, pick, state.period_cost(pick, fixed), state.group(pick),
                state.held_orders(pick, orders), replace(options, time_limit=limit, threads=1), backend,
                wall_deadline - 0.05, state.fee_waived(pick),
            )
            busy[pick] = True
            in_flight.append((future, pick))
        done = [(f, g) for f, g in in_flight if f.done()]
        if not done:
            time.sleep(0.005)
            continue
        for f, g in done:
            in_flight.remove((f, g))
            busy[g] = False
            out.moves += 1
            try:
                result: MoveResult = f.result()
            except Exception as exc:  # a lost worker: the group keeps the incumbent's decisions
                log.warning("move on %d SKUs failed: %s: %s", g.shape[0], type(exc).__name__, exc)
                continue
            log.debug("move %s: %s saving %.2f in %.2f s", [ix.skus[k] for k in g.tolist()], result.outcome,
                      result.saving, result.seconds)
            sweep_proven = sweep_proven and result.outcome == "optimal"
            if result.plan is not None:
                state.replace(g, result.plan)
                sweep_kept += 1
                out.kept += 1
                pending_saving += result.saving
                pending_repair = pending_repair or result.repaired
        if (pending_saving > 0 or pending_repair) and time.time() - last_eval > eval_every:
            take_checkpoint()
    for f, _ in in_flight:
        f.cancel()
    if pending_saving > 0 or pending_repair:
        take_checkpoint()
    out.plan, out.evaluation = checkpoint, checkpoint_eval
    return out
