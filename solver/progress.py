"""Progress of a running solve: its phase, the best cost so far, the bound and the gap.

The solver calls :func:`report` at each step (greedy plan, LP, each round of the
decomposition, MIP improvements, pricing); whoever runs the solve decides where
that goes by installing a sink with :func:`progress_sink`: the API's job worker
writes it to the job's row, the CLI draws it on the terminal. Without a sink a
report costs one function call. Sinks belong to the thread that installed them
(two jobs solved by one Dask worker's threads never mix their progress); a
forked child inherits its parent's. A part solved in a pool worker reports
nothing: the decomposition reports once per round from the thread that merges
the parts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class Progress:
    """What a running solve has done so far."""

    phase: str  # greedy, mip, lp, round, lns (moves over SKU groups), pricing, report, done
    detail: str = ""  # e.g. "round 2 of the decomposition"
    best_cost: float | None = None  # evaluator's objective of the best plan so far
    bound: float | None = None  # proven lower bound so far
    gap: float | None = None  # (best_cost - bound) / best_cost
    round: int | None = None
    elapsed: float = 0.0  # seconds since the solve started
    at: float = field(default_factory=time.time)  # wall clock of this report

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


Sink = Callable[[Progress], None]

class _State(threading.local):
    def __init__(self) -> None:
        self.sinks: list[Sink] = []
        self.started = time.perf_counter()
        self.best_cost: float | None = None
        self.bound: float | None = None


_state = _State()


def _gap(cost: float | None, bound: float | None) -> float | None:
    if cost is None or bound is None:
        return None
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def start_clock() -> None:
    """Mark the start of a solve: ``elapsed`` counts from here, the best cost and bound are forgotten."""
    _state.started = time.perf_counter()
    _state.best_cost = _state.bound = None


def report(phase: str, detail: str = "", best_cost: float | None = None, bound: float | None = None,
           round: int | None = None) -> None:
    """Tell the installed sinks where the solve is; ``best_cost`` and ``bound`` only ever improve."""
    st = _state
    if not st.sinks:
        return
    if best_cost is not None and (st.best_cost is None or best_cost < st.best_cost):
        st.best_cost = float(best_cost)
    if bound is not None and (st.bound is None or bound > st.bound):
        st.bound = float(bound)
    event = Progress(phase, detail, st.best_cost, st.bound, _gap(st.best_cost, st.bound), round,
                     time.perf_counter() - st.started)
    for sink in list(st.sinks):
        with contextlib.suppress(Exception):  # progress is advisory: a failing sink never stops a solve
            sink(event)


@contextmanager
def progress_sink(sink: Sink) -> Iterator[None]:
    """Send progress reports to ``sink`` while the block runs."""
    _state.sinks.append(sink)
    try:
        yield
    finally:
        _state.sinks.remove(sink)


def drop_sinks() -> None:
    """Forget this thread's sinks: for a forked worker that solves parts, whose numbers are not the solve's."""
    _state.sinks = []
