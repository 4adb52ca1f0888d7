"""PuLP with CBC (its bundled binary) or HiGHS (its highspy API).

PuLP has no array interface: every column becomes an ``LpVariable``, and every
row one ``LpAffineExpression`` built from the (variable, coefficient) pairs of
its CSR slice, which is as direct as PuLP allows.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import highspy
import numpy as np
import pulp

from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions
from stockplan.solver.mip import MipModel

_SOLVERS = ("cbc", "highs")

# A time-limited solve stops on the solver's own clock, which starts after ours;
# the slack only absorbs clock granularity.
_TIME_LIMIT_SLACK = 0.98

# Violation above which the message reports how far the returned point is off
# (CBC's solution file carries about 8 significant digits).
_REPORT_VIOLATION = 1e-6


class _HighsWithStart(pulp.HiGHS):
    """PuLP's HiGHS interface plus a warm start and a wall-clock interrupt.

    PuLP's ``HiGHS`` takes no ``warmStart``; the start given through
    ``LpVariable.setInitialValue`` is handed to ``Highs.setSolution`` just
    before ``run``, when PuLP has numbered the columns (``var.index``).
    """

    def __init__(self, *, warm_start: bool, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._warm_start = warm_start
        self._deadline = deadline

    def callSolver(self, lp: pulp.LpProblem) -> None:
        h = lp.solverModel
        if self._warm_start:
            start = [(v.index, v.varValue) for v in lp.variables() if v.varValue is not None]
            if start:
                h.setSolution(
                    len(start),
                    np.array([i for i, _ in start], dtype=np.int32),
                    np.array([value for _, value in start], dtype=np.float64),
                )

        # As in HighsBackend: HiGHS can overrun its own time_limit in presolve.
        def interrupt_after_deadline(event: highspy.highs.HighsCallbackEvent) -> None:
            if time.perf_counter() > self._deadline:
                event.interrupt()

        for hook in (h.cbMipInterrupt, h.cbSimplexInterrupt, h.cbIpmInterrupt):
            hook.subscribe(interrupt_after_deadline)
        h.run()


class PulpBackend:
    """Solve a :class:`MipModel` through PuLP.

    Parameters
    ----------
    solver_name : str
        ``"cbc"`` (``pulp.PULP_CBC_CMD``, the CBC binary bundled with PuLP) or
        ``"highs"`` (``pulp.HiGHS``, in process through highspy).

    Notes
    -----
    ``cbc``
        time limit (``-sec``, wall clock), ``gapRel``, ``threads``, the seed as
        ``randomCbcSeed`` (only when non-zero: 0 would make CBC seed from the
        clock), the warm start with ``warmStart=True`` (a MIPStart file). CBC
        runs as a subprocess that reports no dual bound, so the bound is None
        (the optimum for a solved LP). PuLP reads CBC's solution file, whose
        values have about 8 significant digits: on rows with large activity
        the point can violate the row by more than 1e-6; the message then says
        by how much.
    ``highs``
        time limit (backed by a wall-clock interrupt, as in ``HighsBackend``),
        ``gapRel``, ``threads``, ``random_seed``; the warm start through
        ``Highs.setSolution``. The outcome comes from HiGHS' own model status
        (PuLP maps a time limit to "Optimal"), the bound from
        ``mip_dual_bound`` plus the model's offset, which PuLP does not pass to
        HiGHS.

    Columns that appear in no row and have no cost never reach the solver
    (PuLP only exports variables used somewhere); they get the value in their
    bounds nearest to zero, which is optimal for them. The objective is
    recomputed from the returned columns, with the offset.
    """

    def __init__(self, solver_name: str) -> None:
        key = solver_name.lower()
        if key not in _SOLVERS:
            raise ValueError(f"unknown PuLP solver {solver_name!r}; known: {list(_SOLVERS)}")
        self.solver_name = key
        self.name = f"pulp-{solver_name}"

    def solve(
        self, model: MipModel, options: SolveOptions, warm_start: np.ndarray | None = None
    ) -> BackendResult:
        """Build the PuLP problem from the arrays of ``model`` and solve it.

        Parameters
        ----------
        model : MipModel
            The model (minimisation).
        options : SolveOptions
            Time limit, relative gap, threads, seed, verbosity.
        warm_start : numpy.ndarray or None
            A feasible column vector, given as the variables' initial values.

        Returns
        -------
        BackendResult
            Outcome, columns, objective and bound (both with the offset), and
            the seconds spent building and solving.
        """
        started = time.perf_counter()
        try:
            prob, variables = build_problem(model)
        except pulp.PulpError as exc:
            return _error(started, f"PuLP rejected the model: {exc}")
        use_start = False
        if warm_start is not None and model.num_integer > 0:
            use_start = True
            start = np.asarray(warm_start, dtype=np.float64).tolist()
            for var, value in zip(variables, start, strict=True):
                var.setInitialValue(value)

        solver = self._solver(options, use_start, started)
        solve_started = time.perf_counter()
        try:
            prob.solve(solver)
            failure = ""
        except pulp.PulpError as exc:
            # E.g. CBC exiting without a solution file. For HiGHS, its own
            # status is still read below.
            failure = f"{type(exc).__name__}: {exc}"
        solve_seconds = time.perf_counter() - solve_started
        timed_out = solve_seconds >= _TIME_LIMIT_SLACK * options.limit
        if self.solver_name == "highs" and getattr(prob, "solverModel", None) is not None:
            result = _highs_result(prob, variables, model)
            if failure:
                result.message += f"; PuLP: {failure}"
        elif failure:
            result = _error(started, failure)
        else:
            result = _cbc_result(prob, variables, model, timed_out)
        result.seconds = time.perf_counter() - started
        if result.x is not None:
            violation = model.max_violation(result.x)
            if violation > _REPORT_VIOLATION:
                result.message += f"; returned point violates the model by {violation:.3g}"
        return result

    def _solver(self, options: SolveOptions, warm_start: bool, started: float) -> Any:
        if self.solver_name == "highs":
            return _HighsWithStart(
                warm_start=warm_start,
                deadline=started + options.limit,
                msg=bool(options.verbose),
                timeLimit=options.limit,
                gapRel=options.rel_gap,
                threads=int(options.threads),
                random_seed=int(options.seed),
            )
        cbc_options = [f"randomCbcSeed {int(options.seed)}"] if options.seed else []
        with warnings.catch_warnings():
            # PuLP 3.3 flags PULP_CBC_CMD as going away in PuLP 4.0; it is
            # still the only CBC that ships with PuLP.
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(
                msg=bool(options.verbose),
                timeLimit=options.limit,
                gapRel=options.rel_gap,
                threads=int(options.threads),
                warmStart=warm_start,
                options=cbc_options,
            )


def build_problem(model: MipModel) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """Translate ``model`` into a PuLP problem.

    Parameters
    ----------
    model : MipModel
        The model (minimisation).

    Returns
    -------
    tuple of (pulp.LpProblem, list of pulp.LpVariable)
        The problem and its variables in column order (``x{j}``).

    Notes
    -----
    Variables come from ``prob.add_variable``, which creates the same
    ``LpVariable`` without PuLP 3.3's deprecation warning for the direct
    constructor.
    A row with both bounds finite and different becomes two constraints
    (``>=`` and ``<=``) sharing one expression: PuLP 3 keeps the right-hand
    side in the constraint, not in the expression. Rows without finite bounds
    are dropped.
    """
    prob = pulp.LpProblem("stockplan", pulp.LpMinimize)
    lower = [None if math.isinf(v) else v for v in model.col_lower.tolist()]
    upper = [None if math.isinf(v) else v for v in model.col_upper.tolist()]
    cats = [pulp.LpInteger if i else pulp.LpContinuous for i in model.integrality.tolist()]
    variables = [
        prob.add_variable(f"x{j}", lo, hi, cat)
        for j, (lo, hi, cat) in enumerate(zip(lower, upper, cats, strict=True))
    ]

    cost = model.cost
    nz = np.flatnonzero(cost).tolist()
    prob.setObjective(
        pulp.LpAffineExpression(
            [(variables[j], c) for j, c in zip(nz, cost[nz].tolist(), strict=True)],
            constant=float(model.offset),
        )
    )

    a = model.matrix.tocsr()
    indptr = a.indptr.tolist()
    indices = a.indices.tolist()
    data = a.data.tolist()
    for i, (lo, hi) in enumerate(
        zip(model.row_lower.tolist(), model.row_upper.tolist(), strict=True)
    ):
        has_lo, has_hi = math.isfinite(lo), math.isfinite(hi)
        if not (has_lo or has_hi):
            continue
        start, end = indptr[i], indptr[i + 1]
        expr = pulp.LpAffineExpression(
            [(variables[k], v) for k, v in zip(indices[start:end], data[start:end], strict=True)]
        )
        if has_lo and has_hi and lo == hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{i}", rhs=lo))
            continue
        if has_lo:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{i}_lo", rhs=lo))
        if has_hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{i}_hi", rhs=hi))
    return prob, variables


def _values(variables: list[pulp.LpVariable], model: MipModel) -> np.ndarray:
    """Column values; columns PuLP never exported get their bound nearest to zero."""
    x = np.array(
        [np.nan if v.varValue is None else v.varValue for v in variables], dtype=np.float64
    )
    missing = np.isnan(x)
    if missing.any():
        fill = np.clip(0.0, model.col_lower[missing], model.col_upper[missing])
        integer = model.integrality[missing]
        # 0 is integral, so only a bound strictly above 0 or below 0 can be fractional.
        fill = np.where(integer & (fill > 0), np.ceil(fill), fill)
        fill = np.where(integer & (fill < 0), np.floor(fill), fill)
        x[missing] = fill
    return x


def _cbc_result(
    prob: pulp.LpProblem, variables: list[pulp.LpVariable], model: MipModel, timed_out: bool
) -> BackendResult:
    status, sol_status = prob.status, prob.sol_status
    message = f"{pulp.LpStatus[status]} / {pulp.LpSolution[sol_status]}"
    has_solution = sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    x = _values(variables, model) if has_solution else None
    objective = model.objective(x) if x is not None else None
    if sol_status == pulp.LpSolutionOptimal:
        outcome = Outcome.OPTIMAL
    elif sol_status == pulp.LpSolutionIntegerFeasible:
        # PuLP reads CBC's "Stopped on ... - objective value" as Optimal status
        # with an integer-feasible solution: stopped early, with a solution.
        outcome = Outcome.TIME_LIMIT if timed_out else Outcome.FEASIBLE
    elif status == pulp.LpStatusInfeasible:
        outcome = Outcome.INFEASIBLE
    elif status == pulp.LpStatusNotSolved and timed_out:
        outcome = Outcome.NO_SOLUTION
    else:
        outcome = Outcome.ERROR
    lp_optimum = outcome == Outcome.OPTIMAL and model.num_integer == 0
    bound = objective if lp_optimum else None
    return BackendResult(outcome, x, objective, bound, 0.0, message)


def _highs_result(
    prob: pulp.LpProblem, variables: list[pulp.LpVariable], model: MipModel
) -> BackendResult:
    h = prob.solverModel
    ms = h.getModelStatus()
    info = h.getInfo()
    MS = highspy.HighsModelStatus
    has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    x: np.ndarray | None = None
    if has_solution:
        col_value = np.asarray(h.getSolution().col_value, dtype=np.float64)
        for var in variables:
            # PuLP numbers the exported columns in var.index.
            index = getattr(var, "index", None)
            var.varValue = None if index is None else float(col_value[index])
        x = _values(variables, model)
    objective = model.objective(x) if x is not None else None
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
    bound: float | None = None
    # HiGHS leaves mip_dual_bound at 0 when it stops before the MIP search (e.g.
    # inconsistent bounds), so it is only read when the search ran.
    searched = outcome not in (Outcome.INFEASIBLE, Outcome.ERROR)
    if searched and model.num_integer > 0:
        dual = float(info.mip_dual_bound)
        bound = dual + float(model.offset) if math.isfinite(dual) else None
    elif outcome == Outcome.OPTIMAL:
        bound = objective
    return BackendResult(outcome, x, objective, bound, 0.0, h.modelStatusToString(ms))


def _error(started: float, message: str) -> BackendResult:
    return BackendResult(Outcome.ERROR, None, None, None, time.perf_counter() - started, message)
