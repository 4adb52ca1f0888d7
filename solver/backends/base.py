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


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 60.0  # seconds
    gap: float = 1e-6  # relative MIP gap at which a solve may stop
    threads: int = 1
    seed: int = 0
    verbose: bool = False
    workers: int = 0  # processes for decomposed solves; 0: one per core


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
