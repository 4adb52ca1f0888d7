"""Warm workers: pre-started processes with the solver imported, one task at a time each.

A fresh interpreter pays about 1.3 s of imports before it solves anything; a
tiny job solves in a fraction of that. :class:`WarmPool` keeps ``workers``
processes ready, each already past its imports, and hands a task to an idle
one. Each worker

* leads its own process group, so :meth:`PooledHandle.terminate` (SIGTERM: the
  solve stops and keeps its best plan) and :meth:`PooledHandle.kill` (SIGKILL)
  reach the decomposition's part workers it forks too;
* dies with the server (``PR_SET_PDEATHSIG``), ``kill -9`` included, and its
  part workers die with it in turn;
* may start child processes (it is not a daemon), which a decomposition needs.

A worker that is killed, or dies, is replaced by a new one; a worker that
finishes its task goes back to the idle list.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing as mp
import os
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from stockplan.api.executors import Handle, TaskFailed
from stockplan.solver.processes import die_with_parent, lead_process_group, signal_group

# Imported by every warm worker before it takes its first task: what a solve job needs.
PRELOAD = (
    "stockplan.solver.solve",
    "stockplan.solver.explain",
    "stockplan.models.validation",
    "stockplan.api.jobs",
    "stockplan.api.batch",
)


def _serve(conn: Connection, parent_pid: int, preload: tuple[str, ...]) -> None:
    """A warm worker's loop: take a task, run it, answer, until told to stop or the server goes."""
    die_with_parent(parent_pid)
    lead_process_group()
    from stockplan.solver.backends.base import clear_stop, request_stop

    signal.signal(signal.SIGTERM, lambda *_: request_stop())
    for name in preload:
        importlib.import_module(name)
    conn.send(("ready", os.getpid()))
    while True:
        # A stop asked of the previous task is not the next one's. Cleared before the next task arrives: a stop
        # asked while that task is still being unpickled (importing its module) must not be lost.
        clear_stop()
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the server closed the pipe
        if task is None:
            return
        fn, args = task
        try:
            value = fn(*args)
            conn.send(("ok", value))
        except BaseException as exc:  # reported to the server as the task's failure
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))


class _Worker:
    def __init__(self, ctx: Any, preload: tuple[str, ...]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_serve, args=(child, os.getpid(), preload), daemon=False,
                                name="stockplan-warm-worker")
        self.proc.start()
        child.close()
        self.ready = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def wait_ready(self, timeout: float | None = None) -> bool:
        if not self.ready and self.conn.poll(timeout):
            try:
                kind, _ = self.conn.recv()
                self.ready = kind == "ready"
            except (EOFError, OSError):
                return False
        return self.ready

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)

    def kill(self) -> None:
        if self.proc.pid is not None:
            signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.join(5)
        self.conn.close()


class PooledHandle:
    """One task on a warm worker, as :class:`stockplan.api.executors.Handle`."""

    def __init__(self, pool: WarmPool, worker: _Worker) -> None:
        self.pool, self.worker = pool, worker
        self._message: tuple[str, Any] | None = None
        self._dead = False
        self._killed = False

    @property
    def pid(self) -> int | None:
        return self.worker.pid

    def _drain(self, timeout: float = 0.0) -> None:
        if self._message is not None or self._dead:
            return
        try:
            if self.worker.conn.poll(timeout):
                self._message = self.worker.conn.recv()
                if not self._killed:
                    self.pool._release(self.worker)
                return
        except (EOFError, OSError):
            pass
        if not self.worker.proc.is_alive():
            self._dead = True  # died mid-task (killed, or crashed): replaced by a new worker
            self.pool._replace(self.worker)

    def alive(self) -> bool:
        self._drain()
        return self._message is None and not self._dead

    def exit_code(self) -> int | None:
        if self._message is not None:
            return 0 if self._message[0] == "ok" else 1
        return self.worker.proc.exitcode

    def result(self) -> Any:
        while self._message is None and not self._dead:
            self._drain(0.2)
        if self._message is None:
            raise TaskFailed(f"the worker process died (exit code {self.worker.proc.exitcode}) without a result")
        status, value = self._message
        if status != "ok":
            raise TaskFailed(value)
        return value

    def terminate(self) -> None:
        if self.alive() and self.worker.pid is not None:
            signal_group(self.worker.pid, signal.SIGTERM)

    def kill(self) -> None:
        if not self.alive():
            return
        self._killed = True
        self.worker.kill()
        self._drain()


class WarmPool:
    """``workers`` warm processes; more are started when every one is busy."""

    def __init__(self, workers: int = 2, preload: tuple[str, ...] = PRELOAD) -> None:
        self.ctx = mp.get_context("spawn")
        self.preload = preload
        self._lock = threading.Lock()
        self._idle: list[_Worker] = [_Worker(self.ctx, preload) for _ in range(max(1, workers))]
        self._busy: set[_Worker] = set()
        self.size = max(1, workers)
        atexit.register(self.close)  # before multiprocessing's exit hook joins non-daemon children

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Block until every idle worker has finished its imports (start-up, tests, benchmarks)."""
        with self._lock:
            idle = list(self._idle)
        return all(w.wait_ready(timeout) for w in idle)

    def start(self, fn: Callable[..., Any], *args: Any) -> Handle:
        with self._lock:
            worker = None
            while self._idle:
                candidate = self._idle.pop(0)
                if candidate.proc.is_alive():
                    worker = candidate
                    break
                candidate.kill()
            if worker is None:
                worker = _Worker(self.ctx, self.preload)
            self._busy.add(worker)
        worker.wait_ready(60.0)
        worker.conn.send((fn, args))
        return PooledHandle(self, worker)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if len(self._idle) < self.size and worker.proc.is_alive():
                self._idle.append(worker)
                return
        worker.stop()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._busy.discard(worker)
            if len(self._idle) + len(self._busy) < self.size:
                self._idle.append(_Worker(self.ctx, self.preload))

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in (*self._idle, *self._busy) if w.pid is not None]

    def close(self) -> None:
        with self._lock:
            workers = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
        for w in workers:
            w.stop()
        for w in workers:
            w.proc.join(2)
            if w.proc.is_alive():
                w.kill()
