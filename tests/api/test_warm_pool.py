"""Warm workers: reused between tasks, stopped or killed with every process they started, replaced when lost."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from stockplan.api.executors import TaskFailed
from stockplan.api.warm_pool import WarmPool
from stockplan.solver.processes import group_members
from tests.api.conftest import wait_until
from tests.api.test_server import gone

LIGHT = ("stockplan.solver.backends.base",)  # the tests' tasks need no solver


def worker_pid() -> int:
    return os.getpid()


def wait_for_stop(seconds: float) -> str:
    """Runs until a stop is requested (SIGTERM) or ``seconds`` pass."""
    from stockplan.solver.backends.base import stop_requested

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stop_requested():
            return "stopped"
        time.sleep(0.01)
    return "ran out"


def fork_grandchild(seconds: float) -> int:
    """Forks a child that sleeps (as a decomposition's part worker would solve), then sleeps itself."""
    pid = os.fork()
    if pid == 0:  # the child: does nothing but live
        time.sleep(seconds)
        os._exit(0)
    time.sleep(seconds)
    return pid


def crash() -> None:
    os._exit(3)


def raise_error() -> None:
    raise ValueError("bad input")


@pytest.fixture
def pool() -> Iterator[WarmPool]:
    made = WarmPool(2, preload=LIGHT)
    assert made.wait_ready(60)
    yield made
    made.close()


def test_a_worker_serves_one_task_after_another_without_restarting(pool: WarmPool) -> None:
    first = pool.start(worker_pid)
    pid = first.result()
    assert pid == first.pid and pid != os.getpid()
    second = pool.start(worker_pid)
    third = pool.start(worker_pid)
    assert {second.result(), third.result()} <= set(pool.pids())
    assert pid in pool.pids() and len(pool.pids()) == 2  # no new processes were started


def test_terminate_asks_the_task_to_stop_and_the_next_task_starts_clean(pool: WarmPool) -> None:
    handle = pool.start(wait_for_stop, 30.0)
    time.sleep(0.3)
    handle.terminate()
    assert handle.result() == "stopped"
    # The stop was for that task only: the same worker runs the next one to its end.
    assert pool.start(wait_for_stop, 0.3).result() == "ran out"


def test_kill_takes_the_tasks_children_along_and_the_worker_is_replaced(pool: WarmPool) -> None:
    handle = pool.start(fork_grandchild, 60.0)
    worker = handle.pid
    assert worker is not None
    members = wait_until(lambda: [p for p in group_members(worker) if p != worker], 10, "the task's child")
    handle.kill()
    assert not handle.alive()
    wait_until(lambda: all(gone(p) for p in [worker, *members]), 5, "the worker and its child to die")
    with pytest.raises(TaskFailed, match="died"):
        handle.result()
    assert worker not in pool.pids() and len(pool.pids()) == 2
    assert pool.start(worker_pid).result() in pool.pids()


def test_a_worker_that_dies_mid_task_fails_the_task_and_is_replaced(pool: WarmPool) -> None:
    handle = pool.start(crash)
    with pytest.raises(TaskFailed, match="died"):
        handle.result()
    assert pool.start(worker_pid).result() in pool.pids()
    assert len(pool.pids()) == 2


def test_a_task_that_raises_reports_its_error_and_the_worker_goes_on(pool: WarmPool) -> None:
    handle = pool.start(raise_error)
    with pytest.raises(TaskFailed, match="ValueError: bad input"):
        handle.result()
    assert handle.pid in pool.pids()


def test_more_tasks_than_workers_start_extra_processes_that_do_not_stay(pool: WarmPool) -> None:
    handles = [pool.start(wait_for_stop, 0.5) for _ in range(3)]
    assert [h.result() for h in handles] == ["ran out"] * 3
    assert len(pool.pids()) == 2


def test_close_leaves_no_worker_running() -> None:
    pool = WarmPool(2, preload=LIGHT)
    assert pool.wait_ready(60)
    pids = pool.pids()
    handle = pool.start(wait_for_stop, 60.0)
    time.sleep(0.2)
    pool.close()
    assert not handle.alive() or gone(handle.pid or 0)
    wait_until(lambda: all(gone(p) for p in pids), 5, "every worker to exit")


def test_a_worker_dies_with_its_parent(tmp_path: object) -> None:
    """``kill -9`` of the process that owns the pool: its warm workers go too (PR_SET_PDEATHSIG)."""
    import subprocess
    import sys

    code = ("from stockplan.api.warm_pool import WarmPool\n"
            "import time\n"
            "pool = WarmPool(2, preload=('stockplan.solver.backends.base',))\n"
            "pool.wait_ready(60)\n"
            "print(*pool.pids(), flush=True)\n"
            "time.sleep(60)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    wait_until(lambda: all(gone(p) for p in pids), 5, "the warm workers to die with their owner")
