"""Every registered backend against small models with known optima.

The optima were found by enumeration (integer columns) with an LP for the
continuous part, independently of the backends under test.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from stockplan.solver.backends import BACKENDS, get_backend
from stockplan.solver.backends.base import Backend, BackendResult, Outcome, SolveOptions
from stockplan.solver.mip import INF, MipModel, ModelAssembler

TOL = 1e-6
# gap=0: the optimum is checked to 1e-6 absolute, tighter than the default relative gap.
EXACT = SolveOptions(time_limit=60.0, gap=0.0, threads=1, seed=0)


def _model(
    cost: list[float],
    lower: list[float],
    upper: list[float],
    integer: list[bool],
    rows: list[list[float]],
    row_lower: list[float],
    row_upper: list[float],
    offset: float = 0.0,
) -> MipModel:
    """A MipModel from dense rows (small models only)."""
    return MipModel(
        cost=np.asarray(cost, dtype=np.float64),
        col_lower=np.asarray(lower, dtype=np.float64),
        col_upper=np.asarray(upper, dtype=np.float64),
        integrality=np.asarray(integer, dtype=bool),
        matrix=sp.csr_matrix(np.asarray(rows, dtype=np.float64)),
        row_lower=np.asarray(row_lower, dtype=np.float64),
        row_upper=np.asarray(row_upper, dtype=np.float64),
        offset=offset,
    )


def knapsack() -> MipModel:
    """Binary knapsack with fractional weights, built with the ModelAssembler."""
    asm = ModelAssembler()
    values = np.array([10.0, 13.0, 7.0, 8.0, 9.5])
    weights = np.array([2.3, 3.1, 1.7, 2.9, 2.45])
    cols = asm.add_columns("take", -values, 0.0, 1.0, integer=True)
    row = asm.add_rows("capacity", -INF, 7.5, 1)
    asm.add_coefficients(np.repeat(row, cols.size), cols, weights)
    return asm.build()


def int_mip() -> MipModel:
    """Pure integer: ranged, equality, <= and >= rows, infinite bounds, an offset."""
    return _model(
        cost=[3, 2, -4, 5],
        lower=[0, -INF, -3, 0],
        upper=[INF, 8, 3, 1],
        integer=[True, True, True, True],
        rows=[[1, 1, 0.5, 0], [1, -1, 0, 2], [0, 1, 0, -1], [2, 0, 1, 0]],
        row_lower=[4, 1, -INF, 3],
        row_upper=[9, 1, 3, INF],
        offset=7.25,
    )


def mixed_mip() -> MipModel:
    """Integer and continuous columns, a free column, a free row, an isolated column."""
    return _model(
        cost=[2, 1.5, 1, 0.5, -1, 0],
        lower=[0, -INF, 0, -INF, 1.5, 2.5],
        upper=[INF, 5, INF, INF, 4, 7],
        integer=[True, True, False, False, False, True],
        rows=[
            [1, 1, 1, 0, 0, 0],  # ranged
            [1, 0, 0, -1, 1, 0],  # equality
            [0, 1, 0, 1, 0, 0],  # >=
            [1, 0, 1, 0, 0, 0],  # <=
            [0, 0, 1, 1, 0, 0],  # free row
        ],
        row_lower=[2, 1.5, -2, -INF, -INF],
        row_upper=[6.5, 1.5, INF, 10, INF],
        offset=-3.5,
    )


def lp_only() -> MipModel:
    """Continuous columns only."""
    return _model(
        cost=[1, 2, -1],
        lower=[0, 0, 0],
        upper=[INF, INF, 3],
        integer=[False, False, False],
        rows=[[1, 1, 0], [1, -1, 1], [0, 1, 1]],
        row_lower=[1, 0, 2.5],
        row_upper=[INF, 2, 2.5],
        offset=1.0,
    )


def infeasible_ip() -> MipModel:
    """Two binaries that must sum to at least 3."""
    return _model(
        cost=[1, 1],
        lower=[0, 0],
        upper=[1, 1],
        integer=[True, True],
        rows=[[1, 1]],
        row_lower=[3],
        row_upper=[INF],
    )


def infeasible_lp() -> MipModel:
    """x0 + x1 <= 1 and x0 - x1 >= 2 with x >= 0."""
    return _model(
        cost=[1, 1],
        lower=[0, 0],
        upper=[INF, INF],
        integer=[False, False],
        rows=[[1, 1], [1, -1]],
        row_lower=[-INF, 2],
        row_upper=[1, INF],
    )


def infeasible_empty_row() -> MipModel:
    """A row without coefficients whose bounds exclude 0."""
    return _model(
        cost=[1, 1],
        lower=[0, 0],
        upper=[1, 1],
        integer=[True, True],
        rows=[[0, 0], [1, 1]],
        row_lower=[1, 0],
        row_upper=[2, 2],
    )


# name -> (model factory, known optimum including the offset; None if infeasible)
CASES: dict[str, tuple[Callable[[], MipModel], float | None]] = {
    "knapsack": (knapsack, -30.0),
    "int_mip": (int_mip, 3.25),
    "mixed_mip": (mixed_mip, -6.25),
    "lp_only": (lp_only, 0.5),
    "infeasible_ip": (infeasible_ip, None),
    "infeasible_lp": (infeasible_lp, None),
    "infeasible_empty_row": (infeasible_empty_row, None),
}

# Where a backend honestly cannot give the default answer (OPTIMAL, or
# INFEASIBLE for the infeasible cases). See OrToolsBackend's docstring.
EXPECTED_OUTCOME: dict[tuple[str, str], Outcome] = {
    # CP-SAT runs with only_solve_ip: continuous columns are refused.
    ("ortools-cpsat", "mixed_mip"): Outcome.ERROR,
    ("ortools-cpsat", "lp_only"): Outcome.ERROR,
    ("ortools-cpsat", "infeasible_lp"): Outcome.ERROR,
    # CP-SAT clamps the infinite bounds: the optimum is found, but only proven
    # for the clamped model.
    ("ortools-cpsat", "int_mip"): Outcome.FEASIBLE,
}


def _check_solution(model: MipModel, result: BackendResult, optimum: float) -> None:
    assert result.x is not None, result.message
    assert result.x.shape == (model.num_cols,)
    assert model.max_violation(result.x) <= TOL, result.message
    assert result.objective is not None
    assert result.objective == pytest.approx(optimum, abs=TOL)
    assert result.objective == pytest.approx(model.objective(result.x), abs=TOL)
    if result.bound is not None:
        assert result.bound <= result.objective + TOL


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
def test_known_optimum(backend_name: str, case: str) -> None:
    factory, optimum = CASES[case]
    model = factory()
    backend = get_backend(backend_name)
    result = backend.solve(model, EXACT)

    default = Outcome.INFEASIBLE if optimum is None else Outcome.OPTIMAL
    expected = EXPECTED_OUTCOME.get((backend_name, case), default)
    assert result.outcome == expected, result.message
    assert result.seconds >= 0.0
    if expected in (Outcome.ERROR, Outcome.INFEASIBLE):
        assert result.x is None
        assert result.objective is None
        assert result.bound is None
        if expected == Outcome.ERROR:
            assert result.message
        return
    assert optimum is not None
    _check_solution(model, result, optimum)
    if expected == Outcome.FEASIBLE:
        # Not proven optimal, so no bound may be claimed.
        assert result.bound is None


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
def test_warm_start(backend_name: str) -> None:
    model = knapsack()
    start = np.array([1.0, 0.0, 1.0, 0.0, 1.0])  # feasible, value 26.5
    assert model.max_violation(start) == 0.0
    result = get_backend(backend_name).solve(model, EXACT, warm_start=start)
    assert result.outcome == Outcome.OPTIMAL, result.message
    _check_solution(model, result, -30.0)


def hard_knapsack(n: int = 120, m: int = 8, seed: int = 7) -> MipModel:
    """A multi-dimensional knapsack that no backend proves in a fraction of a second."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(20, 100, size=(m, n)).astype(np.float64)
    values = weights.mean(axis=0) + rng.integers(0, 10, size=n)
    asm = ModelAssembler()
    cols = asm.add_columns("take", -values, 0.0, 1.0, integer=True)
    rows = asm.add_rows("capacity", -INF, weights.sum(axis=1) / 2, m)
    asm.add_coefficients(np.repeat(rows, n), np.tile(cols, m), weights.ravel())
    return asm.build()


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
def test_time_limit_is_honoured(backend_name: str) -> None:
    model = hard_knapsack()
    options = SolveOptions(time_limit=0.5, gap=0.0, threads=1, seed=0)
    result = get_backend(backend_name).solve(model, options)
    assert result.outcome in (Outcome.OPTIMAL, Outcome.TIME_LIMIT, Outcome.NO_SOLUTION)
    # Generous: building, starting the CBC binary and unwinding all count.
    assert result.seconds < 15.0
    if result.outcome == Outcome.NO_SOLUTION:
        assert result.x is None
        return
    assert result.x is not None
    assert model.max_violation(result.x) <= TOL
    assert result.objective == pytest.approx(model.objective(result.x), abs=TOL)
    if result.bound is not None:
        assert result.bound <= result.objective + TOL


def market_split(m: int = 5, n: int = 40, seed: int = 3) -> MipModel:
    """Equality knapsacks on binaries: finding any solution is hard."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 100, size=(m, n)).astype(np.float64)
    rhs = np.floor(weights.sum(axis=1) / 2)
    asm = ModelAssembler()
    cols = asm.add_columns("x", np.zeros(n), 0.0, 1.0, integer=True)
    rows = asm.add_rows("split", rhs, rhs, m)
    asm.add_coefficients(np.repeat(rows, n), np.tile(cols, m), weights.ravel())
    return asm.build()


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
def test_time_limit_without_solution(backend_name: str) -> None:
    model = market_split()
    options = SolveOptions(time_limit=0.5, gap=0.0, threads=1, seed=0)
    result = get_backend(backend_name).solve(model, options)
    # A faster machine may settle it; what must not happen is a fake solution.
    assert result.outcome in (Outcome.NO_SOLUTION, Outcome.OPTIMAL, Outcome.INFEASIBLE)
    assert result.seconds < 15.0
    if result.outcome == Outcome.OPTIMAL:
        assert result.x is not None
        assert model.max_violation(result.x) <= TOL
    else:
        assert result.x is None
        assert result.objective is None


def test_pulp_cbc_reports_its_rounded_solution() -> None:
    """CBC's solution file has ~8 significant digits; the message must say so."""
    model = _model(
        cost=[1.0],
        lower=[0.0],
        upper=[INF],
        integer=[False],
        rows=[[7.0]],
        row_lower=[1e7 / 3],
        row_upper=[1e7 / 3],
    )
    result = get_backend("pulp-cbc").solve(model, EXACT)
    assert result.outcome == Outcome.OPTIMAL
    assert result.x is not None
    violation = model.max_violation(result.x)
    assert violation > TOL
    assert "violates the model" in result.message


def test_registry_names_match_backends() -> None:
    expected = {"highs", "ortools-scip", "ortools-cpsat", "ortools-highs", "pulp-cbc", "pulp-highs"}
    assert set(BACKENDS) == expected
    for name in BACKENDS:
        backend: Backend = get_backend(name)
        assert backend.name == name


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="ortools-scip") as info:
        get_backend("gurobi")
    for name in BACKENDS:
        assert name in str(info.value)


def test_unknown_solver_names_are_rejected() -> None:
    from stockplan.solver.backends.ortools import OrToolsBackend
    from stockplan.solver.backends.pulp import PulpBackend

    with pytest.raises(ValueError):
        OrToolsBackend("gurobi")
    with pytest.raises(ValueError):
        PulpBackend("glpk")


def test_registry_import_is_lazy() -> None:
    code = (
        "import sys, stockplan.solver.backends as b; "
        "heavy = [m for m in ('highspy', 'ortools', 'pulp') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
