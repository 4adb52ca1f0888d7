"""Decomposition for large problems: one sub-MIP per group of coupled SKUs.

Only three things couple SKUs in the model: ship-complete orders spanning several
SKUs (kept inside one part), suppliers' fixed order costs, shared by every SKU
ordered from the same supplier in the same period, and shipment fees (an
extension), shared by the lines of an order shipped from the same warehouse in the
same period. The shared cost is priced per part with multipliers ``mu[c, s, p] >= 0``;
for any such prices

    bound = sum_c LB_c(mu_c) + sum_{s,p} min(0, f_s - sum_c mu[c, s, p])

is a valid lower bound on the whole problem (Lagrangian relaxation of
``u_c[s, p] <= u[s, p]``), where ``LB_c`` is the proven bound of part ``c``'s
sub-MIP. Round 1 splits each fixed cost evenly among the parts that could use
it; later rounds are fix-and-optimize passes: a part pays nothing for a
supplier period another part already orders in, and the full cost otherwise.
Shipment fees are priced the same way: in the relaxed rounds an order's fee is
split evenly among the parts that hold its lines (the split fees of a plan never
exceed its fees, so the bound stays valid), later a part pays nothing where
another part already ships the order from that warehouse in that period.
Every round's combined plan is checked by the evaluator and the cheapest is
kept; the best bound of all rounds is reported.

Parts run on a :class:`PartRunner`: a fork pool on this machine (its workers die
with the process that solves, and inherit the problem index instead of
unpickling it per task), or, when the solve itself runs as a task of a Dask
cluster, tasks on that cluster's workers (a part lost with its worker is re-run
by Dask). A part that has not answered by the deadline keeps the incumbent's
decisions, so the decomposition returns on time whatever its parts do.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, reverse_cuthill_mckee

from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.solver import lns, progress
from stockplan.solver.backends import get_backend
from stockplan.solver.backends.base import SolveOptions, stop_requested
from stockplan.solver.builder import ModelMap, build_model
from stockplan.solver.decode import decode_plan, encode_plan, integral_flows
from stockplan.solver.evaluator import Evaluation, evaluate
from stockplan.solver.indexing import ProblemIndex, ShipmentKeys, subset_index
from stockplan.solver.lns import column_skus, sku_costs
from stockplan.solver.mip import MipModel
from stockplan.solver.model.strengthen import NONE, Strengthening
from stockplan.solver.processes import die_with_parent
from stockplan.solver.reconcile import objective_warnings, plan_objective
from stockplan.solver.rounding import lp_rounding

log = logging.getLogger(__name__)

# Round 0: parts of at most this many lines (up to 3,000 lines, see part_size), this share of
# the time, and no part longer than this (its rounding gains nothing after it on 500 lines);
# its part LPs (their sum is the bound of larger problems) and roundings are built so.
ROUNDING_PART_LINES = 500
ROUNDING_SHARE = 0.5
ROUNDING_MAX_SECONDS = 3.0
ROUNDING_STRENGTHENING = Strengthening(tight_segments=True, dropship_links=True, segment_flows=False)
# The whole problem's MIP runs beside the moves (for its bound) up to this many lines, for limits
# of at least this long, and at any limit up to WHOLE_MIP_ALWAYS_LINES, where the parts' LP alone
# left gaps of 10-19 % on problems of 100-200 lines (benchmarks/results/auto_threshold.md). With
# the per-segment flows, on 1,000 orders its bound reached 100,196 in 40 s (98,703 from the parts).
WHOLE_MIP_MAX_LINES = 3000
WHOLE_MIP_MIN_SECONDS = 10.0
WHOLE_MIP_ALWAYS_LINES = 500
WHOLE_MIP_STRENGTHENING = Strengthening(tight_segments=True, dropship_links=True, segment_flows=True)
# Above that and up to this many lines, the whole problem's LP is solved beside round 0 (for its
# bound) within this share of the limit: on 10,000 orders (17,748 lines) it took 14 s and gave
# 1,255,502, against 1,235,492 from the parts' LPs (their cuts through 755 ship-complete orders
# are relaxed).
WHOLE_LP_MAX_LINES = 40_000
WHOLE_LP_SHARE = 0.5


def coupled_parts(ix: ProblemIndex, target_lines: int = 100) -> list[np.ndarray]:
    """SKUs grouped into parts of about ``target_lines`` order lines.

    SKUs sharing ship-complete orders are kept together where their connected
    component is small enough; a component larger than a part (on generated
    data, most SKUs form one) is cut, and the ship-complete orders it cuts become
    *linking orders* (see :func:`solve_decomposed`).
    """
    S = len(ix.skus)
    sc = np.flatnonzero(ix.line_complete)
    orders, first = np.unique(ix.line_order[sc], return_index=True)
    anchor = ix.line_sku[sc[first]][np.searchsorted(orders, ix.line_order[sc])]
    graph = sp.coo_matrix((np.ones(sc.shape[0]), (anchor, ix.line_sku[sc])), shape=(S, S))
    n_comp, label = connected_components(graph, directed=False)
    lines_per_sku = np.bincount(ix.line_sku, minlength=S) + 1
    lines_per_comp = np.bincount(label, weights=lines_per_sku, minlength=n_comp)
    # Reverse Cuthill-McKee puts linked SKUs next to each other, so cutting the
    # sequence into runs cuts few ship-complete orders.
    sym = (graph + graph.T).tocsr()
    rcm_pos = np.empty(S, dtype=np.int64)
    rcm_pos[reverse_cuthill_mckee(sym, symmetric_mode=True)] = np.arange(S)
    comp_rank = np.argsort(np.lexsort((np.arange(n_comp), -lines_per_comp)))
    order = np.lexsort((rcm_pos, comp_rank[label]))
    parts: list[np.ndarray] = []
    start, acc = 0, 0
    for pos, k in enumerate(order):
        acc += int(lines_per_sku[k])
        if acc >= target_lines:
            parts.append(np.sort(order[start : pos + 1]))
            start, acc = pos + 1, 0
    if start < S:
        parts.append(np.sort(order[start:]))
    return parts


def part_index(n_skus: int, parts: list[np.ndarray]) -> np.ndarray:
    """Part of every SKU."""
    part_of_sku = np.empty(n_skus, dtype=np.int64)
    for c, skus in enumerate(parts):
        part_of_sku[skus] = c
    return part_of_sku


def part_size(n_lines: int, workers: int) -> int:
    """Order lines per part, as measured on the generated families (README, benchmarks).

    The parts' LPs give the bound and, rounded, the first plan; moves over SKU
    groups improve it after. On 1,000 orders (1,737 lines), parts of 500 lines
    round in 1.5 s each and left the moves a 5 s plan of 103,958, against
    106,221 from one part per worker (3 s each); above 3,000 lines parts of
    about 300 lines.
    """
    return min(-(-n_lines // max(1, workers)), ROUNDING_PART_LINES) if n_lines <= 3000 else 300


def linking_orders(ix: ProblemIndex, parts: list[np.ndarray]) -> np.ndarray:
    """Ship-complete orders (indices into ``problem.orders``) whose lines fall in several parts."""
    part_of_sku = part_index(len(ix.skus), parts)
    sc = np.flatnonzero(ix.line_complete)
    pairs = np.unique(np.stack([ix.line_order[sc], part_of_sku[ix.line_sku[sc]]], axis=1), axis=0)
    orders, counts = np.unique(pairs[:, 0], return_counts=True)
    return orders[counts > 1]


def complete_order_periods(problem: Problem, plan: Decisions, orders: np.ndarray) -> dict[int, int]:
    """Latest period in which ``plan`` ships to each order of ``orders`` (-1: nothing shipped).

    For a ship-complete order delivered whole this is its delivery period; for one
    that parts deliver in different periods, the latest any of them wanted.
    """
    index = {problem.orders[int(o)].id: int(o) for o in orders}
    periods = dict.fromkeys(index.values(), -1)
    for s in plan.shipments:
        o = index.get(s.order)
        if o is not None and s.quantity > 0:
            periods[o] = max(periods[o], s.period)
    return periods


def split_plan(problem: Problem, plan: Decisions, part_of_sku: dict[str, int], n_parts: int) -> list[Decisions]:
    """The decisions of ``plan`` per part (one pass over the plan)."""
    sku_of_line = {(o.id, j): line.sku for o in problem.orders for j, line in enumerate(o.lines)}
    ag_sku = {a.id: a.sku for a in problem.agreements}
    out = [Decisions() for _ in range(n_parts)]
    for s in plan.shipments:
        out[part_of_sku[sku_of_line[s.order, s.line]]].shipments.append(s)
    for f in plan.forecast_fills:
        out[part_of_sku[f.sku]].forecast_fills.append(f)
    for po in plan.purchase_orders:
        out[part_of_sku[ag_sku[po.agreement]]].purchase_orders.append(po)
    return out


def merge_plans(parts: list[Decisions]) -> Decisions:
    return Decisions(
        shipments=[s for p in parts for s in p.shipments],
        forecast_fills=[f for p in parts for f in p.forecast_fills],
        purchase_orders=[po for p in parts for po in p.purchase_orders],
    )


@dataclass
class PartResult:
    plan: Decisions | None
    bound: float | None
    seconds: float
    outcome: str
    lp_sku: np.ndarray | None = None  # the part's LP relaxation's cost per SKU of the part (rounding only)


# The problem index is inherited by forked workers instead of being pickled per task.
_SHARED: dict[str, Any] = {}


def _call_shared(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(ix, *args)`` in a forked pool worker, ``ix`` the problem index inherited from the parent."""
    return fn(_SHARED["ix"], *args)


def solve_part(
    full: ProblemIndex,
    skus: np.ndarray,
    period_cost: np.ndarray,
    warm: Decisions | None,
    options: SolveOptions,
    backend: str,
    fixed_complete: dict[int, int],
    rounding: bool = False,
    deadline: float = float("inf"),
    strengthen: Strengthening | None = None,
    order_fee: np.ndarray | None = None,
    fee_waived: np.ndarray | None = None,
) -> PartResult:
    """Solve one part of ``full``: its MIP warm-started from ``warm``, or (``rounding``) its LP rounded.

    ``deadline`` (``time.time()``) caps the part's time limit, since it may wait
    in the queue; past it the part keeps ``warm``. ``order_fee`` and ``fee_waived``
    price the part's shipment fees (see :func:`stockplan.solver.indexing.subset_index`).
    """
    started = time.perf_counter()
    left = deadline - time.time()
    if left < 0.05:
        return PartResult(None, None, 0.0, "skipped")
    options = replace(options, time_limit=min(options.limit, left))
    ix = subset_index(full, skus, period_cost, order_fee, fee_waived)
    model, mapping = build_model(ix, strengthen=strengthen)
    lp_sku = None
    if rounding:
        # The relaxation leaves linking orders free (its value is a bound); the rounded plan follows them.
        rounded = lp_rounding(
            ix, model, mapping, options, backend, lambda m: fix_complete_orders(m, mapping, fixed_complete)
        )
        x, bound, outcome = rounded.x, rounded.lp_bound, "rounded"
        if rounded.lp_x is not None:
            lp_sku = sku_costs(model, column_skus(ix, model, mapping), rounded.lp_x, len(ix.skus))
    else:
        fix_complete_orders(model, mapping, fixed_complete)
        x0 = encode_plan(ix, model, mapping, warm) if warm is not None else None
        result = get_backend(backend).solve(model, options, x0)
        x, bound, outcome = result.x, result.bound, str(result.outcome)
    if x is not None:
        # The part's wall-clock deadline, on this process's perf_counter clock.
        flows_by = time.perf_counter() + (deadline - time.time()) if np.isfinite(deadline) else None
        x = integral_flows(model, x, options, deadline=flows_by)
    if x is None:
        return PartResult(None, bound, time.perf_counter() - started, outcome, lp_sku)
    plan = decode_plan(ix, model, mapping, x)
    return PartResult(plan, bound, time.perf_counter() - started, outcome, lp_sku)


def whole_problem_mip(
    full: ProblemIndex, warm: Decisions, options: SolveOptions, backend: str, deadline: float,
) -> PartResult:
    """The whole problem's MIP with the segment flows, warm-started from ``warm``: its dual bound is the problem's.

    In a fork-pool worker the bound is also written, as the solver proves it, to a
    shared value the solving process reads (:meth:`ForkParts.whole_bound`): HiGHS
    has overrun its time limit by 8 s on the 164k columns of 1,000 orders, and a
    bound proven by the deadline counts even if the solve has not returned.
    """
    shared = _SHARED.get("whole_bound")
    progress.drop_sinks()
    progress.start_clock()

    def keep_bound(event: progress.Progress) -> None:
        if shared is not None and event.bound is not None:
            shared[0] = event.bound

    reporting: AbstractContextManager[None] = nullcontext()
    if backend == "highs":
        from stockplan.solver.backends.highs import whole_problem_progress

        reporting = whole_problem_progress()
    with progress.progress_sink(keep_bound), reporting:
        return solve_part(full, np.arange(len(full.skus)), full.fixed_order_cost(), warm, options, backend, {},
                          False, deadline, WHOLE_MIP_STRENGTHENING)


def whole_problem_lp(full: ProblemIndex, options: SolveOptions, backend: str) -> float | None:
    """The optimum of the whole problem's LP relaxation (strengthened): a lower bound; None if not reached."""
    model, _ = build_model(full, strengthen=ROUNDING_STRENGTHENING)
    relaxed = replace(model, integrality=np.zeros_like(model.integrality))
    result = get_backend(backend).solve(relaxed, replace(options, gap=0.0))
    return result.objective if result.outcome == "optimal" and result.objective is not None else None


class PartRunner(Protocol):
    """Where the parts of a decomposition are solved: ``submit`` takes :func:`solve_part`'s arguments after ``full``."""

    where: str  # said in the plan's message

    def submit(self, *args: Any) -> Any: ...  # a future: done(), result()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any: ...  # fn(full, *args) as a future

    def whole_bound(self) -> float | None: ...  # the whole problem's MIP's latest dual bound, while it runs


def _init_part_worker(parent_pid: int) -> None:
    # A part worker dies with the solving process (kill -9 included) and never reports progress: its
    # numbers are a part's, not the solve's. A canceled job's SIGTERM reaches it through the process group.
    die_with_parent(parent_pid)
    progress.drop_sinks()


class ForkParts:
    """A fork pool of ``workers`` processes on this machine (the default)."""

    where = "a local pool"

    def __init__(self, ix: ProblemIndex, workers: int) -> None:
        _SHARED["ix"] = ix
        # Inherited by the workers: the whole problem's MIP writes its dual bound here.
        self.bound = mp.get_context("fork").Array("d", [float("nan")])
        _SHARED["whole_bound"] = self.bound
        self.workers = max(1, workers)
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("fork"),
                                   initializer=_init_part_worker, initargs=(os.getpid(),))

    def submit(self, *args: Any) -> Any:
        return self.call(solve_part, *args)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(_call_shared, fn, *args)
        except BrokenProcessPool:  # a part worker was killed: the next round gets a new pool
            self._kill(self.pool)
            self.pool = self._new_pool()
            return self.pool.submit(_call_shared, fn, *args)

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        # Parts still running past the deadline are not waited for: their workers are killed.
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for proc in procs:
            proc.join(2.0)

    def whole_bound(self) -> float | None:
        """The last dual bound :func:`whole_problem_mip` wrote, if any."""
        value = float(self.bound[0])
        return value if np.isfinite(value) else None

    def close(self) -> None:
        self._kill(self.pool)
        _SHARED.pop("ix", None)
        _SHARED.pop("whole_bound", None)


class DaskParts:
    """Parts as tasks of the Dask cluster this solve runs on (the problem index sent once)."""

    where = "the Dask cluster"

    def __init__(self, ix: ProblemIndex, client: Any) -> None:
        self.client = client
        self.ix = client.scatter(ix, hash=False)

    def submit(self, *args: Any) -> Any:
        return self.call(solve_part, *args)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, self.ix, *args, pure=False)

    def whole_bound(self) -> float | None:
        return None  # a task's progress does not reach this process: only its result counts


def in_dask_worker() -> bool:
    """Whether this code runs inside a task of a Dask worker."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


@contextmanager
def part_runner(ix: ProblemIndex, workers: int) -> Iterator[PartRunner]:
    """The runner for this solve: the Dask cluster when the solve is a Dask task, else a fork pool."""
    if in_dask_worker():
        from distributed import worker_client

        # worker_client secedes this task from its worker's threads, so parts can run there too.
        with worker_client() as client:
            yield DaskParts(ix, client)
        return
    runner = ForkParts(ix, workers)
    try:
        yield runner
    finally:
        runner.close()


def gather_parts(futures: list[Any], wall_deadline: float) -> list[Any]:
    """Each task's result (a part's :class:`PartResult`, the whole LP's value), or None for a task that
    failed or had not answered by ``wall_deadline``."""
    pending = set(range(len(futures)))
    out: list[Any] = [None] * len(futures)
    stop_at: float | None = None
    while pending:
        for c in list(pending):
            if futures[c].done():
                pending.discard(c)
                try:
                    out[c] = futures[c].result()
                except Exception as exc:  # a lost worker or a crashed part: that part keeps the incumbent
                    log.warning("part %d failed: %s: %s", c, type(exc).__name__, exc)
        now = time.time()
        if stop_requested() and stop_at is None:
            stop_at = now + 1.5  # parts were asked to stop too (same process group): a moment for their answer
        if not pending or now > wall_deadline or (stop_at is not None and now > stop_at):
            break
        time.sleep(0.02)
    for c in pending:
        futures[c].cancel()
    return out


def fix_complete_orders(model: MipModel, mapping: ModelMap, periods: dict[int, int]) -> None:
    """Allow ship-complete orders only in a given period (-1: never) in a part's model.

    Delivery in that period stays a choice: parts that disagree are reconciled by
    :func:`align_split_orders`.
    """
    lns.hold_complete_orders(model, mapping, periods, deliver=False)


def _usable_periods(ix: ProblemIndex, parts: list[np.ndarray]) -> np.ndarray:
    """(parts, suppliers, T) bool: the part has an agreement with the supplier placeable in the period."""
    n_sup, T = len(ix.supplier_ids), ix.T
    part_of_sku = part_index(len(ix.skus), parts)
    usable = np.zeros((len(parts), n_sup, T), dtype=bool)
    last_p = T - 1 - ix.ag_lead
    for a in np.flatnonzero(last_p >= 0):
        usable[part_of_sku[ix.ag_sku[a]], ix.ag_supplier[a], : last_p[a] + 1] = True
    return usable


@dataclass
class DecompositionResult:
    plan: Decisions
    evaluation: Evaluation  # of ``plan``: it is the evaluator's verdict and cost
    bound: float | None
    rounds: int
    parts: int
    history: list[tuple[float, float, float | None]]  # (seconds, cost, bound) per round
    where: str = "a local pool"  # where the parts ran
    lost: int = 0  # part solves that failed or did not answer in time (they kept the incumbent's decisions)
    # Where the whole problem's model and the evaluator disagree on ``plan`` (see stockplan.solver.reconcile).
    warnings: list[str] = field(default_factory=list)
    moves: int = 0  # moves over SKU groups (stockplan.solver.lns), and how many were kept
    kept: int = 0

    @property
    def cost(self) -> float:
        return self.evaluation.cost


def solve_decomposed(
    problem: Problem,
    ix: ProblemIndex,
    incumbent: Decisions,
    options: SolveOptions,
    backend: str = "highs",
    workers: int = 2,
    target_lines: int | None = None,
    max_rounds: int = 10,
    incumbent_eval: Evaluation | None = None,
    search_groups: bool = True,
) -> DecompositionResult:
    """Improve ``incumbent`` (a feasible plan) part by part until the time limit; see the module doc.

    ``incumbent_eval`` saves re-evaluating an incumbent the caller already checked.
    ``search_groups`` (the default) spends the time after round 0 on moves over
    small SKU groups (:mod:`stockplan.solver.lns`); without it, round 1 solves the
    relaxed parts as MIPs and later rounds re-solve whole parts with re-priced
    supplier periods.

    Round 0 relaxes both couplings (fixed costs split evenly, linking orders free
    per part): its part LP values give the global bound and its rounded part
    plans, with linking orders aligned, the first plan. Later rounds allow each
    linking order only in the incumbent's period and re-price fixed costs
    (fix-and-optimize), so every part can fall back on the incumbent's decisions.
    """
    started = time.perf_counter()
    deadline = started + options.limit
    wall_deadline = time.time() + options.limit  # comparable across processes
    parts = coupled_parts(ix, target_lines or part_size(ix.n_lines, workers))
    links = linking_orders(ix, parts)
    usable = _usable_periods(ix, parts)
    f = ix.fixed_order_cost()  # (suppliers, T)
    best_plan, best_eval = incumbent, incumbent_eval or evaluate(problem, incumbent)
    best_cost = best_eval.objective
    best_bound: float | None = None
    history: list[tuple[float, float, float | None]] = []
    part_of = {ix.skus[k]: c for c, skus in enumerate(parts) for k in skus.tolist()}
    part_links = _links_per_part(ix, parts, links)
    part_of_sku = part_index(len(ix.skus), parts)
    sizes = np.bincount(part_of_sku[ix.line_sku], minlength=len(parts)).astype(float) + 1.0
    sup_index = {sid: k for k, sid in enumerate(ix.supplier_ids)}
    supplier_of = {a.id: sup_index[a.supplier] for a in problem.agreements}
    fees = SharedFees(ix, part_of_sku)

    lost = moves = kept = 0
    eval_seconds = 0.0
    # The whole problem's model, to check the returned plan's objective against the evaluator's:
    # built while the first round's parts run (this process only waits for them then).
    full: tuple[MipModel, ModelMap] | None = None
    with part_runner(ix, workers) as runner:
        where = runner.where
        # Above the whole MIP's size, the whole problem's LP relaxation (strengthened) runs first, beside
        # round 0's parts: ship-complete orders that parts cut are relaxed in the parts' bound, not in it.
        whole_lp = None
        if WHOLE_MIP_MAX_LINES < ix.n_lines <= WHOLE_LP_MAX_LINES and search_groups:
            whole_lp = runner.call(whole_problem_lp, replace(options, time_limit=WHOLE_LP_SHARE * options.limit,
                                                              threads=1), backend)
        used = np.stack([_orders_in(ix, supplier_of, p) for p in split_plan(problem, best_plan, part_of, len(parts))])
        wanted: dict[int, int] = {}
        share = usable * (f / np.maximum(usable.sum(axis=0), 1))[None, :, :]
        relaxed: list[Decisions | None] = [None] * len(parts)  # each part's plan of its relaxed problem
        part_bounds = np.full(len(parts), -np.inf)
        lp_sku = np.full(len(ix.skus), np.nan)
        for rnd in range(max_rounds):
            remaining = deadline - time.perf_counter()
            if remaining <= 0.2 or stop_requested() or (search_groups and rnd >= 1):
                break
            warm = split_plan(problem, best_plan, part_of, len(parts))
            if rnd <= 1:
                # Relaxed: fixed costs split evenly, linking orders free in each part (aligned after).
                # Round 0 rounds each part's LP; round 1 runs each part's MIP from that plan.
                mu = share
                fixed: list[dict[int, int]] = [{} for _ in parts]
                starts = warm if rnd == 0 else [r if r is not None else w for r, w in zip(relaxed, warm, strict=True)]
                part_fees = fees.relaxed(len(parts))
            else:
                others = used.sum(axis=0)[None, :, :] - used
                mu = usable * np.where(others > 0, 0.0, f[None, :, :])
                # Linking orders: the incumbent's period, else the latest any part wanted last round.
                now = complete_order_periods(problem, best_plan, links)
                target = {o: (now[o] if now[o] >= 0 else wanted[o]) for o in now}
                fixed = [{o: target[o] for o in part_links[c]} for c in range(len(parts))]
                starts = warm
                part_fees = fees.fixed(warm)
            # Time per part by size: round 0 is quick, round 1 takes most of what is left.
            part_share = ROUNDING_SHARE if rnd == 0 else 0.7 if rnd == 1 else 0.9
            budget = remaining * part_share * max(1, workers)
            limits = np.maximum(0.2, budget * sizes / sizes.sum())
            if rnd == 0 and search_groups:
                limits = np.minimum(limits, ROUNDING_MAX_SECONDS)
            progress.report("round", f"round {rnd + 1} of the decomposition: {len(parts)} parts", round=rnd + 1)
            futures = [
                runner.submit(
                    parts[c], mu[c], starts[c],
                    replace(options, time_limit=float(min(limits[c], remaining)), threads=1), backend, fixed[c],
                    rnd == 0, wall_deadline - 0.5, ROUNDING_STRENGTHENING if rnd == 0 else None, *part_fees[c],
                )
                for c in range(len(parts))
            ]
            if full is None:
                full = build_model(ix, strengthen=NONE)  # for costs per SKU and reconciling: no flows needed
            # A part that fails or overruns keeps its warm start: the round still gives a feasible plan.
            answers = gather_parts(futures, wall_deadline + 0.5)
            results = [r if r is not None else PartResult(None, None, 0.0, "lost") for r in answers]
            lost += sum(r is None or (r.plan is None and r.outcome in ("error", "infeasible")) for r in answers)
            if rnd <= 1:
                # Both relaxed rounds bound the same part problems: keep each part's best bound.
                for c, r in enumerate(results):
                    if r.lp_sku is not None:
                        lp_sku[parts[c]] = r.lp_sku
                    part_bounds[c] = max(part_bounds[c], -np.inf if r.bound is None else r.bound)
                    if r.plan is not None:
                        relaxed[c] = r.plan
                if np.all(np.isfinite(part_bounds)):
                    bound = float(part_bounds.sum() + np.minimum(0.0, f - share.sum(axis=0)).sum())
                    best_bound = bound if best_bound is None else max(best_bound, bound)
            plans = [r.plan if r.plan is not None else starts[c] for c, r in enumerate(results)]
            wanted = complete_order_periods(problem, merge_plans(plans), links)
            plans = align_split_orders(problem, plans, links)
            candidate = merge_plans(plans)
            evaluated = time.perf_counter()
            ev = evaluate(problem, candidate)
            eval_seconds = time.perf_counter() - evaluated
            log.debug("round %d: feasible=%s cost=%.2f bound=%s parts without a plan=%d", rnd, ev.feasible, ev.cost,
                      best_bound, sum(r.plan is None for r in results))
            improved = ev.feasible and ev.better_than(best_eval)
            if improved:
                best_plan, best_eval, best_cost = candidate, ev, ev.objective
                used = np.stack([_orders_in(ix, supplier_of, p) for p in plans])
            history.append((time.perf_counter() - started, best_cost, best_bound))
            progress.report("round", f"round {rnd + 1} of the decomposition done", best_cost=best_cost,
                            bound=best_bound, round=rnd + 1)
            if rnd > 1 and not improved:
                break  # fixing supplier periods brings nothing more
        if search_groups and wall_deadline - time.time() > 0.3 and not stop_requested():
            if full is None:
                full = build_model(ix, strengthen=NONE)  # for costs per SKU and reconciling: no flows needed
            # On a problem small enough, one worker runs the whole problem's MIP from the incumbent meanwhile:
            # its dual bound is the whole problem's (HiGHS's cuts on the whole model raise it most).
            whole = None
            if workers >= 2 and ix.n_lines <= WHOLE_MIP_MAX_LINES and (
                    options.limit >= WHOLE_MIP_MIN_SECONDS or ix.n_lines <= WHOLE_MIP_ALWAYS_LINES):
                whole_options = replace(options, time_limit=wall_deadline - time.time(), threads=1)
                whole = runner.call(whole_problem_mip, best_plan, whole_options, backend, wall_deadline - 1.0)
            progress.report("lns", "moves over SKU groups", bound=best_bound, round=len(history) + 1)
            found = lns.search(problem, ix, best_plan, best_eval, None if np.isnan(lp_sku).any() else lp_sku,
                               runner.call, options, backend, workers - (whole is not None), wall_deadline - 0.2,
                               full, eval_seconds)
            if found.evaluation.feasible and found.evaluation.better_than(best_eval):
                best_plan, best_eval, best_cost = found.plan, found.evaluation, found.evaluation.objective
            moves, kept = found.moves, found.kept
            if whole is not None:
                answer = gather_parts([whole], wall_deadline)[0]
                proven = answer.bound if answer is not None and answer.bound is not None else runner.whole_bound()
                if proven is not None:
                    best_bound = proven if best_bound is None else max(best_bound, proven)
                if answer is not None and answer.plan is not None:
                    ev = evaluate(problem, answer.plan)
                    if ev.feasible and ev.better_than(best_eval):
                        best_plan, best_eval, best_cost = answer.plan, ev, ev.objective
            history.append((time.perf_counter() - started, best_cost, best_bound))
        if whole_lp is not None:
            lp_bound = gather_parts([whole_lp], wall_deadline)[0]
            if lp_bound is not None:
                best_bound = lp_bound if best_bound is None else max(best_bound, lp_bound)
    # The merged plan encoded into the whole problem's model: c·x + offset against the evaluator
    # (no round ran: the plan is the caller's incumbent, no solver's). The bound is reported as
    # proven, never lowered to the plan's objective: the caller compares them.
    warnings = [] if full is None else objective_warnings(
        plan_objective(ix, full[0], full[1], best_plan), best_eval, "the decomposition's plan")
    return DecompositionResult(best_plan, best_eval, best_bound, len(history), len(parts), history, where, lost,
                               warnings, moves, kept)


class SharedFees:
    """How each part pays the shipment fees its orders share with other parts (none without fees).

    Relaxed rounds split an order's fee evenly among the parts holding its lines;
    fix-and-optimize rounds waive it where another part of the incumbent already
    ships the order from that warehouse in that period, and charge it in full elsewhere.
    """

    def __init__(self, ix: ProblemIndex, part_of_sku: np.ndarray) -> None:
        self.used = bool(ix.order_fee.any())
        self.ix = ix
        if not self.used:
            return
        self.keys = ShipmentKeys(ix)
        pairs = np.unique(np.stack([ix.line_order, part_of_sku[ix.line_sku]], axis=1), axis=0)
        parts_per_order = np.bincount(pairs[:, 0], minlength=ix.order_fee.shape[0])
        self.split = ix.order_fee / np.maximum(parts_per_order, 1)

    def relaxed(self, n_parts: int) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        """Per part, (order_fee, fee_waived) of a relaxed round: the fee split evenly."""
        return [(self.split if self.used else None, None)] * n_parts

    def fixed(self, plans: list[Decisions]) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        """Per part, (order_fee, fee_waived) given the other parts' shipments in ``plans``."""
        if not self.used:
            return [(None, None)] * len(plans)
        keys = [self.keys(p.shipments) for p in plans]
        return [(None, np.unique(np.concatenate([k for j, k in enumerate(keys) if j != c] or [np.zeros(0, np.int64)])))
                for c in range(len(plans))]


def _links_per_part(ix: ProblemIndex, parts: list[np.ndarray], links: np.ndarray) -> list[list[int]]:
    part_of_sku = part_index(len(ix.skus), parts)
    linked = np.isin(ix.line_order, links) & ix.line_complete
    pairs = np.unique(np.stack([part_of_sku[ix.line_sku[linked]], ix.line_order[linked]], axis=1), axis=0)
    out: list[list[int]] = [[] for _ in parts]
    for c, o in pairs.tolist():
        out[c].append(o)
    return out


def align_split_orders(problem: Problem, plans: list[Decisions], links: np.ndarray) -> list[Decisions]:
    """Make every linking order whole in one period again, keeping the merged plan feasible.

    An order whose lines every part delivers in full, but in different periods,
    moves to the latest of them: shipping later only leaves more stock in the
    periods between, so nothing goes negative. An order some part does not
    deliver in full is withdrawn (also only leaving more stock); it counts as
    not delivered.
    """
    if links.size == 0:
        return plans
    orders = {problem.orders[int(o)].id: problem.orders[int(o)] for o in links}
    sent: dict[tuple[str, int], int] = {}
    latest: dict[str, int] = {}
    for plan in plans:
        for s in plan.shipments:
            if s.order in orders and s.quantity > 0:
                sent[s.order, s.line] = sent.get((s.order, s.line), 0) + s.quantity
                latest[s.order] = max(latest.get(s.order, -1), s.period)
    whole = {
        oid for oid, o in orders.items()
        if all(sent.get((oid, j), 0) == line.quantity for j, line in enumerate(o.lines))
    }
    out = []
    for plan in plans:
        shipments = []
        for s in plan.shipments:
            if s.order not in orders:
                shipments.append(s)
            elif s.order in whole:
                shipments.append(s.model_copy(update={"period": latest[s.order]}))
        out.append(plan.model_copy(update={"shipments": shipments}))
    return out


def _orders_in(ix: ProblemIndex, supplier_of: dict[str, int], plan: Decisions) -> np.ndarray:
    """(suppliers, T) bool: the supplier periods ``plan`` orders in."""
    used = np.zeros((len(ix.supplier_ids), ix.T), dtype=bool)
    for po in plan.purchase_orders:
        if po.quantity > 0:
            used[supplier_of[po.agreement], po.period] = True
    return used
