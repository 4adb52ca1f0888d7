"""Where solves run: one interface, a local process per task or a Dask cluster.

``executor.start(fn, *args)`` runs ``fn(*args)`` somewhere and returns a
:class:`Handle`: whether it still runs, its result, and how to stop it. The API's
job runner and ``stockplan batch`` both take an executor:

* :class:`stockplan.api.warm_pool.WarmPool` — pre-started processes with the
  solver imported, each leading its own process group: the API's jobs;
* :class:`LocalExecutor` — a spawned process per task (a fresh interpreter, in a
  process group of its own; killed for real by ``kill()``, SIGTERM by ``terminate()``);
* :class:`PoolExecutor` — a pool of long-lived processes: batches of short solves;
* :class:`DaskExecutor` — ``dask.distributed``: a ``LocalCluster`` when no scheduler
  address is given, else the cluster at that address. A task of a worker lost
  mid-run is re-run by Dask on another worker. ``terminate``/``kill`` cancel the
  future (a task already running on a worker finishes there and is ignored).

Every process here may start children (none is a daemon: a decomposition forks
its part workers), and every one dies with the process that started it
(``PR_SET_PDEATHSIG``), so a ``kill -9`` leaves no solver running.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from stockplan.solver.processes import die_with_parent, lead_process_group, signal_group


class TaskFailed(RuntimeError):
    """The task raised, or its process died without a result."""


class Handle(Protocol):
    def alive(self) -> bool: ...
    def exit_code(self) -> int | None: ...
    def result(self) -> Any: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class Executor(Protocol):
    def start(self, fn: Callable[..., Any], *args: Any) -> Handle: ...
    def close(self) -> None: ...


def _call(conn: Connection, parent_pid: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    die_with_parent(parent_pid)
    lead_process_group()  # terminate/kill reach the task's own children too
    try:
        value = fn(*args)
        conn.send(("ok", value))
    except BaseException as exc:  # reported to the parent as the task's failure
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
    finally:
        conn.close()


class LocalHandle:
    def __init__(self, proc: mp.process.BaseProcess, conn: Connection) -> None:
        self.proc, self.conn = proc, conn
        self._message: tuple[str, Any] | None = None

    def _drain(self) -> None:
        # Read as soon as the result is there: a large result would block the child's send.
        if self._message is None:
            try:
                if self.conn.poll():
                    self._message = self.conn.recv()
            except (EOFError, OSError):
                pass

    def alive(self) -> bool:
        self._drain()
        return self.proc.is_alive()

    def exit_code(self) -> int | None:
        return self.proc.exitcode

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def result(self) -> Any:
        self._drain()
        if self._message is None:
            self.proc.join()
            self._drain()
        if self._message is None:
            raise TaskFailed(f"the worker process died (exit code {self.proc.exitcode}) without a result")
        status, value = self._message
        if status != "ok":
            raise TaskFailed(value)
        return value

    def terminate(self) -> None:
        if self.proc.is_alive() and self.proc.pid is not None:
            signal_group(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.pid is not None:
            signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.join(5)


class LocalExecutor:
    """A spawned process per task (not a daemon, so it may fork a decomposition's workers)."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self._handles: list[LocalHandle] = []
        atexit.register(self.close)  # before multiprocessing's exit hook joins non-daemon children

    def start(self, fn: Callable[..., Any], *args: Any) -> Handle:
        parent, child = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_call, args=(child, os.getpid(), fn, args), daemon=False)
        proc.start()
        child.close()
        handle = LocalHandle(proc, parent)
        self._handles = [h for h in self._handles if h.proc.is_alive()] + [handle]
        return handle

    def close(self) -> None:
        for handle in self._handles:
            if handle.proc.is_alive():
                handle.kill()
        self._handles = []


class FutureHandle:
    """A task as a future (``concurrent.futures`` or ``dask.distributed``): cancel is all it can do."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def alive(self) -> bool:
        return not self.future.done()

    def exit_code(self) -> int | None:
        if not self.future.done():
            return None
        return 0 if not self.future.cancelled() and self.future.exception() is None else 1

    def result(self) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.future.result()
        except BrokenProcessPool:
            raise TaskFailed("a worker process died without a result") from None
        except Exception as exc:  # the task's own error (Dask re-raises it here too)
            raise TaskFailed(f"{type(exc).__name__}: {exc}") from exc

    def terminate(self) -> None:
        self.future.cancel()

    def kill(self) -> None:
        self.future.cancel()


class PoolExecutor:
    """A pool of ``workers`` long-lived processes (imports paid once): for batches of many short solves.

    A worker that dies breaks the pool; the next task gets a new one.
    """

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self.pool = self._new_pool()

    def _new_pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))

    def start(self, fn: Callable[..., Any], *args: Any) -> Handle:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return FutureHandle(self.pool.submit(fn, *args))
        except BrokenProcessPool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return FutureHandle(self.pool.submit(fn, *args))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask cluster: ``scheduler`` (``tcp://host:8786``) or a LocalCluster of ``workers`` processes."""

    def __init__(self, scheduler: str | None = None, workers: int = 2) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler is None:
            # Not daemons: a task may start processes of its own (an isolated solver, say). Set for the
            # process, not a block: the nanny reads it again when it restarts a lost worker.
            dask.config.set({"distributed.worker.daemon": False})
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            self.client = Client(scheduler)

    def start(self, fn: Callable[..., Any], *args: Any) -> Handle:
        # pure=False: the same arguments twice are two tasks (a re-run must really run).
        return FutureHandle(self.client.submit(fn, *args, pure=False))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, scheduler: str | None = None, workers: int = 2, pool: bool = False,
                  warm: bool = False) -> Executor:
    """``local`` (a process per task; with ``pool`` a pool of ``workers``; with ``warm`` warm workers) or ``dask``."""
    if kind == "local":
        if warm:
            from stockplan.api.warm_pool import WarmPool

            return WarmPool(workers)
        return PoolExecutor(workers) if pool else LocalExecutor()
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"unknown executor {kind!r}: local or dask")
