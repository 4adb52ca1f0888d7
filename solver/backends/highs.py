"""HiGHS through highspy: the model goes over in one ``passModel`` call from CSR arrays."""

from __future__ import annotations

import math
import os
import sys
import time

import highspy
import numpy as np

from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions, stop_requested
from stockplan.solver.mip import MipModel

_ROWWISE = 2  # HiGHS MatrixFormat::kRowwise
_MINIMIZE = 1


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


class HighsBackend:
    name = "highs"

    def solve(
        self, model: MipModel, options: SolveOptions, warm_start: np.ndarray | None = None
    ) -> BackendResult:
        started = time.perf_counter()
        h = highspy.Highs() if options.verbose else quiet_highs()
        h.setOptionValue("output_flag", bool(options.verbose))
        h.setOptionValue("time_limit", float(options.time_limit))
        h.setOptionValue("mip_rel_gap", float(options.gap))
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
        deadline = started + float(options.time_limit)

        def interrupt_after_deadline(event: highspy.highs.HighsCallbackEvent) -> None:
            if time.perf_counter() > deadline or stop_requested():
                event.interrupt()

        for hook in (h.cbMipInterrupt, h.cbSimplexInterrupt, h.cbIpmInterrupt):
            hook.subscribe(interrupt_after_deadline)

        if warm_start is not None and model.num_integer > 0:
            h.setSolution(
                model.num_cols,
                np.arange(model.num_cols, dtype=np.int32),
                np.asarray(warm_start, dtype=np.float64),
            )
        h.run()
        seconds = time.perf_counter() - started
        return self._result(h, model, seconds)

    @staticmethod
    def _result(h: highspy.Highs, model: MipModel, seconds: float) -> BackendResult:
        ms = h.getModelStatus()
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
