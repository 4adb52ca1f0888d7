"""OR-Tools' model builder: the model goes over as sparse arrays, solved by SCIP, CP-SAT or HiGHS.

The matrix, bounds and costs are handed to the C++ ``ModelBuilderHelper`` in one
``fill_model_from_sparse_data`` call (a CSR matrix, no Python expression per
row or column); only integrality and the warm-start hint take one C++ call per
affected column, because the helper has no array setter for them.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions
from stockplan.solver.mip import MipModel

# Our solver names -> the names OR-Tools' ``MPSolver::ParseSolverType`` knows.
_SOLVER_TYPES = {"scip": "scip", "cpsat": "cp-sat", "cp-sat": "cp-sat", "highs": "highs"}

# SCIP reports "no bound" as +-1e20 (its infinity), not as inf.
_SCIP_INFINITY = 1e20

# A time-limited solve stops on the solver's own clock, which starts after ours;
# the slack only absorbs clock granularity.
_TIME_LIMIT_SLACK = 0.98

# CP-SAT rescales fractional coefficients to integers: its answer is checked
# against the original rows with this (relative) tolerance.
_CPSAT_CHECK_TOL = 1e-6


class OrToolsBackend:
    """Solve a :class:`MipModel` with a MIP solver behind OR-Tools' model builder.

    Parameters
    ----------
    solver_name : str
        ``"scip"``, ``"cpsat"`` (alias ``"cp-sat"``) or ``"highs"``.

    Notes
    -----
    What each solver gets from :class:`SolveOptions`:

    ``scip``
        time limit, ``limits/gap``, ``randomization/randomseedshift``; the
        warm start as a (complete) solution hint. OR-Tools' SCIP is single
        threaded, so ``threads`` is ignored. The bound is SCIP's dual bound.
    ``cpsat``
        time limit, ``relative_gap_limit``, ``num_workers``, ``random_seed``;
        the warm start as a solution hint. CP-SAT solves integer programs only:
        it runs with ``only_solve_ip:true``, so a model whose continuous columns
        its presolve cannot eliminate comes back as ``Outcome.ERROR`` with
        CP-SAT's message, instead of being silently solved with the continuous
        columns restricted to a grid. Fractional coefficients are scaled to
        integers by CP-SAT; the returned point is re-checked against the
        original rows and reported as ``ERROR`` if the scaling made it
        infeasible. CP-SAT clamps infinite column bounds to +-``mip_max_bound``
        (1e7), which restricts the model: its optimality proof and bound then
        hold for the clamped model only, so the outcome is downgraded to
        ``FEASIBLE`` and the bound to None.
    ``highs``
        time limit, ``mip_rel_gap``, ``threads``, ``random_seed``. No warm
        start: OR-Tools 9.15's HiGHS proto solver crashes (segfault) on a
        solution hint, so the hint is never passed. When HiGHS stops on the
        time limit, OR-Tools 9.15 discards its incumbent (``run()`` returns a
        warning, read as "not solved"): the outcome is then ``NO_SOLUTION``
        even if HiGHS had found one. Its response reports the incumbent as the
        "best bound", which is not a proof, so the bound is None for MIPs (the
        optimum for a solved LP).

    The objective is recomputed from the returned columns (with the model's
    offset), so it always matches ``x``.
    """

    def __init__(self, solver_name: str) -> None:
        key = solver_name.lower()
        if key not in _SOLVER_TYPES:
            raise ValueError(
                f"unknown OR-Tools solver {solver_name!r}; known: {sorted(_SOLVER_TYPES)}"
            )
        self.solver_name = key
        self.name = f"ortools-{solver_name}"
        self._type = _SOLVER_TYPES[key]

    def solve(
        self, model: MipModel, options: SolveOptions, warm_start: np.ndarray | None = None
    ) -> BackendResult:
        """Build the model from the arrays of ``model`` and solve it.

        Parameters
        ----------
        model : MipModel
            The model (minimisation).
        options : SolveOptions
            Time limit, relative gap, threads, seed, verbosity.
        warm_start : numpy.ndarray or None
            A feasible column vector, passed as a solution hint where the
            solver takes one.

        Returns
        -------
        BackendResult
            Outcome, columns, objective and bound (both with the offset), and
            the seconds spent building and solving.
        """
        started = time.perf_counter()
        solver = mbh.ModelSolverHelper(self._type)
        if not solver.solver_is_supported():
            return _error(started, f"OR-Tools was built without {self._type!r}")
        try:
            helper = _build(model)
        except (ValueError, TypeError) as exc:
            return _error(started, f"OR-Tools rejected the model: {exc}")
        if warm_start is not None and model.num_integer > 0 and self._type != "highs":
            for j, value in enumerate(np.asarray(warm_start, dtype=np.float64).tolist()):
                helper.add_hint(j, value)

        solver.enable_output(bool(options.verbose))
        solver.set_time_limit_in_seconds(options.limit)
        solver.set_solver_specific_parameters(self._parameters(options))
        solve_started = time.perf_counter()
        solver.solve(helper)
        solve_seconds = time.perf_counter() - solve_started
        timed_out = solve_seconds >= _TIME_LIMIT_SLACK * options.limit
        return self._result(solver, model, timed_out, time.perf_counter() - started)

    def _parameters(self, options: SolveOptions) -> str:
        """The solver-specific parameter string (each solver has its own syntax)."""
        if self._type == "scip":
            return (
                f"limits/gap = {options.rel_gap!r}\n"
                f"randomization/randomseedshift = {int(options.seed)}"
            )
        if self._type == "cp-sat":
            # absolute_gap_limit defaults to 1e-4 in CP-SAT; 1e-6 matches HiGHS' default.
            return (
                f"relative_gap_limit:{options.rel_gap!r} absolute_gap_limit:1e-6 "
                f"num_workers:{max(1, int(options.threads))} random_seed:{int(options.seed)} "
                "only_solve_ip:true"
            )
        return (
            f"mip_rel_gap={options.rel_gap!r},threads={int(options.threads)},"
            f"random_seed={int(options.seed)}"
        )

    def _result(
        self,
        solver: mbh.ModelSolverHelper,
        model: MipModel,
        timed_out: bool,
        seconds: float,
    ) -> BackendResult:
        S = mbh.SolveStatus
        status = solver.status()
        message = f"{status.name}: {solver.status_string()}".rstrip(": ")
        x: np.ndarray | None = None
        if solver.has_solution():
            x = np.array(solver.variable_values(), dtype=np.float64)
            if x.shape != (model.num_cols,):
                return BackendResult(Outcome.ERROR, None, None, None, seconds, message)
        objective = model.objective(x) if x is not None else None
        bound = self._bound(solver, model, status, objective)

        if status == S.OPTIMAL:
            outcome = Outcome.OPTIMAL
        elif status == S.FEASIBLE:
            # MPSolutionResponse has no stop reason; with only a time and a gap
            # limit set (a gap stop reports OPTIMAL), FEASIBLE means the clock.
            outcome = Outcome.TIME_LIMIT if timed_out else Outcome.FEASIBLE
        elif status == S.INFEASIBLE:
            # SCIP's and HiGHS' "infeasible or unbounded" arrive as INFEASIBLE
            # with this note; that is no proof of infeasibility.
            unproven = "unbounded" in solver.status_string().lower()
            outcome = Outcome.ERROR if unproven else Outcome.INFEASIBLE
        elif status in (S.NOT_SOLVED, S.UNKNOWN_STATUS) and timed_out:
            outcome = Outcome.NO_SOLUTION
            if self._type == "highs":
                message += "; OR-Tools drops HiGHS' incumbent when run() stops on a limit"
        else:
            outcome = Outcome.ERROR

        if self._type == "cp-sat":
            outcome, bound, message = _cpsat_checks(model, x, outcome, bound, message)
            if outcome == Outcome.ERROR:
                x, objective, bound = None, None, None
        return BackendResult(outcome, x, objective, bound, seconds, message)

    def _bound(
        self,
        solver: mbh.ModelSolverHelper,
        model: MipModel,
        status: mbh.SolveStatus,
        objective: float | None,
    ) -> float | None:
        S = mbh.SolveStatus
        if self._type == "highs":
            # The HiGHS proto solver copies the objective into best_objective_bound.
            lp_optimum = status == S.OPTIMAL and model.num_integer == 0
            return objective if lp_optimum else None
        if not solver.has_response():
            return None
        response = solver.response()
        if status not in (S.OPTIMAL, S.FEASIBLE, S.NOT_SOLVED, S.UNKNOWN_STATUS):
            return None
        if not response.HasField("best_objective_bound"):
            return None
        bound = float(response.best_objective_bound)
        if not math.isfinite(bound) or abs(bound) >= _SCIP_INFINITY:
            return None
        return bound


def _build(model: MipModel) -> mbh.ModelBuilderHelper:
    """One sparse fill from the CSR arrays, then the few per-column attributes."""
    helper = mbh.ModelBuilderHelper()
    matrix = sp.csr_matrix(model.matrix, dtype=np.float64)
    helper.fill_model_from_sparse_data(
        _f64(model.col_lower),
        _f64(model.col_upper),
        _f64(model.cost),
        _f64(model.row_lower),
        _f64(model.row_upper),
        matrix,
    )
    for j in np.flatnonzero(model.integrality).tolist():
        helper.set_var_integrality(j, True)
    helper.set_objective_offset(float(model.offset))
    return helper


def _f64(values: np.ndarray) -> Any:
    """A contiguous float64 copy for Eigen (typed Any: OR-Tools' stubs misspell ndarray)."""
    return np.ascontiguousarray(values, dtype=np.float64)


def _cpsat_checks(
    model: MipModel, x: np.ndarray | None, outcome: Outcome, bound: float | None, message: str
) -> tuple[Outcome, float | None, str]:
    """Undo what CP-SAT's conversion of a MIP would otherwise hide.

    Returns the corrected outcome, bound and message.
    """
    if x is not None:
        ax = model.matrix @ x
        scale = np.maximum(1.0, np.abs(ax))
        row_excess = np.maximum(model.row_lower - ax, ax - model.row_upper) / scale
        col_excess = np.maximum(model.col_lower - x, x - model.col_upper)
        worst = float(max(np.max(row_excess, initial=0.0), np.max(col_excess, initial=0.0)))
        if worst > _CPSAT_CHECK_TOL:
            return (
                Outcome.ERROR,
                None,
                f"{message}; CP-SAT's integer rescaling returned a point violating the "
                f"original model by {worst:.3g}",
            )
    clamped = int((~(np.isfinite(model.col_lower) & np.isfinite(model.col_upper))).sum())
    if not clamped:
        return outcome, bound, message
    # Clamping infinite bounds restricts the model: a solution stays feasible,
    # but neither a bound, nor optimality, nor infeasibility carries over.
    note = (
        f"CP-SAT clamped {clamped} infinite column bounds to +-mip_max_bound; "
        "proofs hold for the clamped model only"
    )
    if outcome == Outcome.OPTIMAL:
        return Outcome.FEASIBLE, None, f"{message}; {note}"
    if outcome == Outcome.INFEASIBLE:
        return Outcome.ERROR, None, f"{message}; {note}"
    return outcome, None, message


def _error(started: float, message: str) -> BackendResult:
    return BackendResult(Outcome.ERROR, None, None, None, time.perf_counter() - started, message)
