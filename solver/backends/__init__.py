"""Registry of MIP backends by name.

Each factory imports its backend module when called, so importing the registry
does not load highspy, OR-Tools or PuLP.
"""

from __future__ import annotations

from collections.abc import Callable

from stockplan.solver.backends.base import Backend, BackendResult, Outcome, SolveOptions

__all__ = ["BACKENDS", "Backend", "BackendResult", "Outcome", "SolveOptions", "get_backend"]


def _highs() -> Backend:
    from stockplan.solver.backends.highs import HighsBackend

    return HighsBackend()


def _ortools(solver_name: str) -> Callable[[], Backend]:
    def factory() -> Backend:
        from stockplan.solver.backends.ortools import OrToolsBackend

        return OrToolsBackend(solver_name)

    return factory


def _pulp(solver_name: str) -> Callable[[], Backend]:
    def factory() -> Backend:
        from stockplan.solver.backends.pulp import PulpBackend

        return PulpBackend(solver_name)

    return factory


BACKENDS: dict[str, Callable[[], Backend]] = {
    "highs": _highs,
    "ortools-scip": _ortools("scip"),
    "ortools-cpsat": _ortools("cpsat"),
    "ortools-highs": _ortools("highs"),
    "pulp-cbc": _pulp("cbc"),
    "pulp-highs": _pulp("highs"),
}


def get_backend(name: str) -> Backend:
    """Create the backend registered under ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`BACKENDS`.

    Returns
    -------
    Backend
        A new backend instance.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the known names.
    """
    try:
        factory = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown backend {name!r}; known backends: {known}") from None
    return factory()
