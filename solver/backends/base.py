"""The one interface every MIP backend implements."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from stockplan.solver.mip import MipModel


class Outcome(StrEnum):
    OPTIMAL = "optimal"  # proven within the requested relative gap
    FEASIBLE = "feasible"  # a solution, stopped for another reason than time
    TIME_LIMIT = "time_limit"  # stopped by the time limit, with a solution
    NO_SOLUTION = "no_solution"  # stopped (time limit) without any solution
    INFEASIBLE = "infeasible"
    ERROR = "error"


_STOP = threading.Event()


def request_stop() -> None:
    """Ask the running solve to stop and return its best plan (e.g. a canceled job's SIGTERM)."""
    _STOP.set()


def clear_stop() -> None:
    """Forget a stop request: a warm worker does so before each new task."""
    _STOP.clear()


def stop_requested() -> bool:
    return _STOP.is_set()


# What a solve uses when neither the caller nor the problem's settings give a time limit or gap.
DEFAULT_TIME_LIMIT = 60.0  # seconds
DEFAULT_GAP = 1e-6


@dataclass(frozen=True)
class SolveOptions:
    """How to solve. ``time_limit`` and ``gap`` are None when not given.

    :func:`stockplan.solver.solve.solve` then takes the problem's settings, else
    :data:`DEFAULT_TIME_LIMIT` and :data:`DEFAULT_GAP`; a value given here is never
    replaced by a problem setting. Backends read :attr:`limit` and :attr:`rel_gap`.
    """

    time_limit: float | None = None  # seconds
    gap: float | None = None  # relative MIP gap at which a solve may stop
    threads: int = 1
    seed: int = 0
    verbose: bool = False
    workers: int = 0  # processes for decomposed solves; 0: one per core

    @property
    def limit(self) -> float:
        """The time limit in seconds (:data:`DEFAULT_TIME_LIMIT` when not given)."""
        return DEFAULT_TIME_LIMIT if self.time_limit is None else float(self.time_limit)

    @property
    def rel_gap(self) -> float:
        """The relative gap (:data:`DEFAULT_GAP` when not given)."""
        return DEFAULT_GAP if self.gap is None else float(self.gap)


@dataclass
class BackendResult:
    outcome: Outcome
    x: np.ndarray | None  # column values, None without a solution
    objective: float | None  # including the model's offset
    bound: float | None  # proven lower bound, including the offset
    seconds: float
    message: str = ""


class Backend(Protocol):
    """Solves a :class:`MipModel`; ``warm_start`` is a feasible column vector or None."""

    name: str

    def solve(
        self, model: MipModel, options: SolveOptions, warm_start: np.ndarray | None = None
    ) -> BackendResult: ...
