"""HiGHS through highspy: the model goes over in one ``passModel`` call from CSR arrays."""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import highspy
import numpy as np

from stockplan.solver import progress
from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions, stop_requested
from stockplan.solver.mip import MipModel

_ROWWISE = 2  # HiGHS MatrixFormat::kRowwise
_MINIMIZE = 1
# At most two progress reports a second: HiGHS calls the MIP interrupt callback far more often.
PROGRESS_INTERVAL = 0.5


class _Reporting(threading.local):
    # Whether MIP solves report their bounds as the solve's progress: only a model of the
    # whole problem may (a part's or a pricing re-solve's bounds are not the plan's). Per
    # thread, as progress sinks are: two solves in two threads never mix.
    whole_problem = False


_reporting = _Reporting()


@contextmanager
def whole_problem_progress() -> Iterator[None]:
    """While the block runs, MIP solves in this thread report phase ``mip`` with their primal and dual bounds.

    A child forked inside the block (an isolated solve) inherits the flag and reports too.
    """
    saved, _reporting.whole_problem = _reporting.whole_problem, True
    try:
        yield
    finally:
        _reporting.whole_problem = saved


def _finite_or_inf(values: np.ndarray, inf: float) -> np.ndarray:
    """HiGHS reads its own infinity (1e30 by default) as unbounded."""
    out = np.array(values, dtype=np.float64)
    out[np.isposinf(out)] = inf
    out[np.isneginf(out)] = -inf
    return out


def quiet_highs() -> highspy.Highs:
    """A Highs instance without the banner its constructor prints to stdout (file descriptor 1)."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def mip_progress_reporter() -> Callable[[highspy.highs.HighsCallbackEvent], None]:
    """A MIP interrupt callback reporting the incumbent's objective and the dual bound, throttled."""
    last = [-math.inf]

    def report_bounds(event: highspy.highs.HighsCallbackEvent) -> None:
        now = time.perf_counter()
        if now - last[0] < PROGRESS_INTERVAL:
            return
        last[0] = now
        out = event.data_out
        primal, dual = float(out.mip_primal_bound), float(out.mip_dual_bound)
        nodes = int(out.mip_node_count)
        progress.report("mip", f"branch and bound, {nodes:,} nodes" if nodes else "branch and bound, root node",
                        best_cost=primal if math.isfinite(primal) else None,
                        bound=dual if math.isfinite(dual) else None)

    return report_bounds


class HighsBackend:
    name = "highs"

    def solve(
        self, model: MipModel, options: SolveOptions, warm_start: np.ndarray | None = None
    ) -> BackendResult:
        started = time.perf_counter()
        h = highspy.Highs() if options.verbose else quiet_highs()
        h.setOptionValue("output_flag", bool(options.verbose))
        h.setOptionValue("time_limit", options.limit)
        h.setOptionValue("mip_rel_gap", options.rel_gap)
        h.setOptionValue("threads", int(options.threads))
        h.setOptionValue("random_seed", int(options.seed))
        inf = h.getInfinity()
        a = model.matrix
        status = h.passModel(
            model.num_cols,
            model.num_rows,
            int(a.nnz),
            _ROWWISE,
            _MINIMIZE,
            float(model.offset),
            model.cost,
            _finite_or_inf(model.col_lower, inf),
            _finite_or_inf(model.col_upper, inf),
            _finite_or_inf(model.row_lower, inf),
            _finite_or_inf(model.row_upper, inf),
            a.indptr.astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(np.float64),
            model.integrality.astype(np.int32),
        )
        if status == highspy.HighsStatus.kError:
            return BackendResult(Outcome.ERROR, None, None, None, 0.0, "HiGHS rejected the model")

        # HiGHS has been seen to overrun its own time_limit in presolve and the
        # root LP on large models: a wall-clock interrupt in every phase backs it up.
        deadline = started + options.limit

        out_of_time = [False]

        def interrupt_after_deadline(event: highspy.highs.HighsCallbackEvent) -> None:
            if time.perf_counter() > deadline:
                out_of_time[0] = True
                event.interrupt()
            elif stop_requested():
                event.interrupt()

        for hook in (h.cbMipInterrupt, h.cbSimplexInterrupt, h.cbIpmInterrupt):
            hook.subscribe(interrupt_after_deadline)
        if _reporting.whole_problem and model.num_integer > 0:
            h.cbMipInterrupt.subscribe(mip_progress_reporter())

        if warm_start is not None and model.num_integer > 0:
            h.setSolution(
                model.num_cols,
                np.arange(model.num_cols, dtype=np.int32),
                np.asarray(warm_start, dtype=np.float64),
            )
        h.run()
        if (h.getModelStatus() == highspy.HighsModelStatus.kInfeasible and model.num_integer > 0
                and time.perf_counter() < deadline and not stop_requested()):
            # HiGHS 1.16's MIP presolve has declared feasible models infeasible (a priority model that
            # SCIP and HiGHS without presolve solve to optimality): the verdict is checked once without it.
            h.setOptionValue("presolve", "off")
            h.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
            h.run()
        seconds = time.perf_counter() - started
        result = self._result(h, model, seconds)
        if out_of_time[0] and h.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
            result.message = "Time limit reached"  # our wall-clock interrupt, not a user's ("Interrupted by user")
        return result

    @staticmethod
    def _result(h: highspy.Highs, model: MipModel, seconds: float) -> BackendResult:
        ms = h.getModelStatus()
        if ms == highspy.HighsModelStatus.kModelEmpty and model.num_cols == 0:
            # Nothing to decide (e.g. no stock and no agreement): the empty plan is the optimum.
            empty = np.zeros(0)
            value = model.objective(empty)
            return BackendResult(Outcome.OPTIMAL, empty, value, value, seconds, "nothing to decide")
        info = h.getInfo()
        has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        x = np.array(h.getSolution().col_value, dtype=np.float64) if has_solution else None
        objective = float(info.objective_function_value) if has_solution else None
        MS = highspy.HighsModelStatus
        bound: float | None = None
        if ms == MS.kInfeasible:
            bound = None  # HiGHS leaves mip_dual_bound at 0 when it stops before the search
        elif model.num_integer > 0:
            raw = float(info.mip_dual_bound)
            bound = raw if math.isfinite(raw) else None
        elif ms == MS.kOptimal:
            bound = objective
        if ms == MS.kOptimal:
            outcome = Outcome.OPTIMAL
        elif ms == MS.kInfeasible:
            outcome = Outcome.INFEASIBLE
        elif ms in (MS.kTimeLimit, MS.kInterrupt, MS.kSolutionLimit, MS.kIterationLimit):
            outcome = Outcome.TIME_LIMIT if has_solution else Outcome.NO_SOLUTION
        elif has_solution:
            outcome = Outcome.FEASIBLE
        else:
            outcome = Outcome.ERROR
        return BackendResult(outcome, x, objective, bound, seconds, h.modelStatusToString(ms))
