"""The :class:`JobRunner` in-process, with fake executors: watchdog, dead workers, capacity, cancel, recovery, tokens.

The fakes implement the ``Executor`` / ``Handle`` protocols of :mod:`stockplan.api.jobs`:
each started "worker" is a thread that plays one behaviour (hang, die with an exit
code, store a plan through the real ``_store_plan``, stop on ``terminate()``...), so
the dispatcher, the database rows and the run-token guards are the real ones, on a
SQLite file migrated by :func:`stockplan.api.db.migrate`.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import sessionmaker

from stockplan.api import jobs, services
from stockplan.api.db import Failure, Job, JobState, PlanRow, make_engine, migrate, new_id, session_factory
from stockplan.api.jobs import JobRunner, _finish, _store_plan, recover_jobs
from stockplan.models.validation import FieldError, ProblemError, load_problem
from tests.api.conftest import example_problem, wait_until

GRACE = 0.1
#: The fake workers' plans are empty: any problem describes them (the review index reads agreements from it).
ANY_PROBLEM = load_problem(example_problem("three-customers"))
POLL = 0.02
FINISHED = JobState.FINISHED


# ---------------------------------------------------------------------------------------------- fakes


class FakeHandle:
    """A fake worker process: ``kill()`` ends it at once (exit -9); ``terminate()`` only signals its behaviour."""

    def __init__(self, executor: FakeExecutor, job_id: str, token: str) -> None:
        self.executor, self.job_id, self.token = executor, job_id, token
        self.terminate_calls = 0
        self.kill_calls = 0
        self.terminated = threading.Event()
        self.killed = threading.Event()
        self._exited = threading.Event()
        self._code: int | None = None
        self._lock = threading.Lock()
        self.started_at = time.monotonic()

    # -- the Handle protocol
    def alive(self) -> bool:
        return not self._exited.is_set()

    def exit_code(self) -> int | None:
        return self._code

    def terminate(self) -> None:
        self.terminate_calls += 1
        self.terminated.set()

    def kill(self) -> None:
        self.kill_calls += 1
        self.killed.set()
        self.exit(-signal.SIGKILL)

    # -- for behaviours
    def exit(self, code: int) -> None:
        with self._lock:
            if not self._exited.is_set():
                self._code = code
                self._exited.set()

    def store_plan(self, cost: float = 10.0, token: str | None = None) -> None:
        """What a worker does with a result: the real ``_store_plan`` (unless it was killed first)."""
        with self._lock:
            if self.killed.is_set():
                return
            _store_plan(self.executor.sessions, self.job_id, token or self.token,
                        {"shipments": [], "purchase_orders": [], "forecast_fills": []},
                        "optimal", cost, cost, 0.0, 0.01, ANY_PROBLEM)


Behavior = Callable[[FakeHandle], None]


class FakeExecutor:
    """Starts a thread per job playing ``behavior``; records every handle and the most alive at once."""

    def __init__(self, database_url: str, behavior: Behavior, fail_first_starts: int = 0) -> None:
        self.engine = make_engine(database_url)
        self.sessions = session_factory(self.engine)
        self.behavior = behavior
        self.handles: list[FakeHandle] = []
        self.peak = 0
        self.errors: list[BaseException] = []
        self.fail_first_starts = fail_first_starts
        self.start_calls = 0
        self.finished: list[str] = []  # the runner's on_finish calls
        self._threads: list[threading.Thread] = []

    def start(self, database_url: str, job_id: str, run_token: str) -> FakeHandle:
        self.start_calls += 1
        if self.start_calls <= self.fail_first_starts:
            raise OSError(24, "Too many open files (fake spawn failure)")
        alive = sum(h.alive() for h in self.handles)
        handle = FakeHandle(self, job_id, run_token)
        self.handles.append(handle)
        self.peak = max(self.peak, alive + 1)
        thread = threading.Thread(target=self._play, args=(handle,), daemon=True)
        self._threads.append(thread)
        thread.start()
        return handle

    def _play(self, handle: FakeHandle) -> None:
        try:
            self.behavior(handle)
        except BaseException as exc:  # surfaced by the test, not swallowed
            self.errors.append(exc)
            handle.exit(1)

    def handle_of(self, job_id: str) -> FakeHandle:
        (handle,) = [h for h in self.handles if h.job_id == job_id]
        return handle

    def close(self) -> None:
        for h in self.handles:
            h.killed.set()
            h.terminated.set()
        for t in self._threads:
            t.join(5)
        self.engine.dispose()


def hang(handle: FakeHandle) -> None:
    """A solver stuck for good: ignores SIGTERM, ends only when killed."""
    handle.killed.wait(30)


def dies_with(code: int) -> Behavior:
    def behave(handle: FakeHandle) -> None:
        handle.exit(code)

    return behave


def solves_in(seconds: float) -> Behavior:
    """Stores a plan after ``seconds`` (or at once on SIGTERM, like the real worker keeping its best plan)."""

    def behave(handle: FakeHandle) -> None:
        handle.terminated.wait(seconds)
        handle.store_plan()
        handle.exit(0)

    return behave


def keeps_best_plan_on_sigterm(handle: FakeHandle) -> None:
    handle.terminated.wait(30)
    handle.store_plan(cost=42.0)
    handle.exit(0)


def stops_without_plan_on_sigterm(handle: FakeHandle) -> None:
    handle.terminated.wait(30)
    handle.exit(-signal.SIGTERM)


class ShiftedClock:
    """Stands in for the ``time`` module of :mod:`stockplan.api.jobs`: ``monotonic()`` can be moved forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, sessionmaker]]:
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield url, session_factory(engine)
    engine.dispose()


class Runners:
    """Builds runners on the test database; stops them and their fake executors afterwards."""

    def __init__(self, url: str, sessions: sessionmaker) -> None:
        self.url, self.sessions = url, sessions
        self.made: list[tuple[JobRunner, FakeExecutor]] = []

    def __call__(self, behavior: Behavior, workers: int = 1, **executor_args: Any
                 ) -> tuple[JobRunner, FakeExecutor]:
        executor = FakeExecutor(self.url, behavior, **executor_args)
        runner = JobRunner(self.sessions, self.url, workers=workers, grace=GRACE, poll=POLL, executor=executor,
                           on_finish=executor.finished.append)
        self.made.append((runner, executor))
        return runner, executor

    def close(self) -> None:
        for runner, executor in self.made:
            runner.stop()
            executor.close()
            assert not executor.errors, executor.errors


@pytest.fixture
def runners(database: tuple[str, sessionmaker]) -> Iterator[Runners]:
    made = Runners(*database)
    yield made
    made.close()


def add_job(sessions: sessionmaker, time_limit: float = 5.0, **fields: Any) -> str:
    job_id = new_id()
    with sessions() as s, s.begin():
        s.add(Job(id=job_id, problem=example_problem("three-customers"), options={"time_limit": time_limit},
                  **fields))
    return job_id


def job(sessions: sessionmaker, job_id: str) -> Job:
    with sessions() as s:
        row = s.get(Job, job_id)
        assert row is not None
        return row


def plans_of(sessions: sessionmaker, job_id: str) -> list[PlanRow]:
    with sessions() as s:
        return list(s.scalars(select(PlanRow).where(PlanRow.job_id == job_id)).all())




def wait_finished(sessions: sessionmaker, job_id: str, timeout: float = 10.0) -> Job:
    wait_until(lambda: job(sessions, job_id).state in FINISHED, timeout, f"job {job_id} to finish")
    return job(sessions, job_id)


# ---------------------------------------------------------------------------------------------- watchdog


def test_watchdog_kills_a_solver_past_its_deadline(
    database: tuple[str, sessionmaker], runners: Runners, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadline (see ``_claim``): the time limit (solve, report and pricing) + the watchdog's grace."""
    _, sessions = database
    clock = ShiftedClock()
    monkeypatch.setattr(jobs, "time", clock)
    limit = 0.01
    deadline_after = limit + GRACE
    stuck, nxt = add_job(sessions, time_limit=limit), add_job(sessions, time_limit=limit)
    runner, executor = runners(hang, workers=1)
    runner.start()
    # Registered, so its deadline is taken (on the unshifted clock) before the clock moves.
    wait_until(lambda: runner.running == 1, what="the first job to start")
    handle = executor.handles[0]
    assert handle.job_id == stuck and job(sessions, stuck).state == JobState.RUNNING

    # Just short of the deadline: still running, and the one slot stays taken.
    clock.offset = handle.started_at + deadline_after - 0.5 - time.monotonic()
    time.sleep(0.2)
    assert handle.kill_calls == 0 and handle.alive()
    assert job(sessions, stuck).state == JobState.RUNNING and job(sessions, nxt).state == JobState.QUEUED

    clock.offset += 1.0  # past it
    failed = wait_finished(sessions, stuck)
    assert handle.kill_calls == 1 and handle.terminate_calls == 0
    assert failed.state == JobState.FAILED and "watchdog" in (failed.reason or "")
    assert failed.plan_id is None and not plans_of(sessions, stuck)
    # The slot is free again: the next job is claimed.
    wait_until(lambda: len(executor.handles) == 2, what="the next job to start")
    assert executor.handles[1].job_id == nxt
    assert stuck in executor.finished


# ---------------------------------------------------------------------------------------------- dead workers


@pytest.mark.parametrize("code", [1, -signal.SIGSEGV])
def test_a_worker_dying_without_a_result_fails_its_job_with_the_exit_code(
    database: tuple[str, sessionmaker], runners: Runners, code: int
) -> None:
    _, sessions = database
    job_id = add_job(sessions)
    runner, _ = runners(dies_with(code))
    runner.start()
    done = wait_finished(sessions, job_id)
    assert done.state == JobState.FAILED
    assert f"exit code {code}" in (done.reason or ""), done.reason
    assert done.plan_id is None and not plans_of(sessions, job_id)
    assert done.attempts == 1 and done.finished_at is not None
    wait_until(lambda: runner.running == 0, what="the runner to reap")


# ---------------------------------------------------------------------------------------------- capacity


def test_at_most_workers_solves_run_at_once_first_come_first_served(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [add_job(sessions, created_at=base + dt.timedelta(seconds=i)) for i in range(7)]
    runner, executor = runners(solves_in(0.15), workers=2)
    runner.start()
    for job_id in ids:
        assert wait_finished(sessions, job_id).state == JobState.SUCCEEDED
    assert executor.peak == 2  # never more than two at once, and two did run side by side
    assert [h.job_id for h in executor.handles] == ids  # oldest first, each started once
    for job_id in ids:
        (plan,) = plans_of(sessions, job_id)
        assert job(sessions, job_id).plan_id == plan.id
    wait_until(lambda: sorted(executor.finished) == sorted(ids), what="on_finish for every job")
    assert runner.running == 0


# ---------------------------------------------------------------------------------------------- cancel


def test_cancel_of_a_running_job_terminates_its_worker_which_keeps_its_best_plan(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    job_id = add_job(sessions, time_limit=30)
    runner, executor = runners(keeps_best_plan_on_sigterm)
    runner.start()
    wait_until(lambda: executor.handles, what="the job to start")
    with sessions() as s:
        assert services.cancel_job(s, job_id).cancel_requested  # what DELETE /v1/jobs/{id} does
    done = wait_finished(sessions, job_id)
    handle = executor.handle_of(job_id)
    assert handle.terminate_calls == 1 and handle.kill_calls == 0
    assert done.state == JobState.CANCELED and "best plan" in (done.reason or "")
    (plan,) = plans_of(sessions, job_id)
    assert done.plan_id == plan.id and plan.cost == 42.0


def test_cancel_of_a_running_job_without_a_plan_says_so(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    job_id = add_job(sessions, time_limit=30)
    runner, executor = runners(stops_without_plan_on_sigterm)
    runner.start()
    wait_until(lambda: executor.handles, what="the job to start")
    with sessions() as s:
        services.cancel_job(s, job_id)
    done = wait_finished(sessions, job_id)
    assert executor.handle_of(job_id).terminate_calls == 1
    assert done.state == JobState.CANCELED and "before it had a plan" in (done.reason or "")
    assert done.plan_id is None and not plans_of(sessions, job_id)


def test_cancel_of_a_solver_that_ignores_sigterm_still_ends_canceled(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    job_id = add_job(sessions, time_limit=30)  # nowhere near its time limit
    runner, executor = runners(hang)
    runner.start()
    wait_until(lambda: executor.handles, what="the job to start")
    with sessions() as s:
        services.cancel_job(s, job_id)
    done = wait_finished(sessions, job_id)
    handle = executor.handle_of(job_id)
    assert handle.terminate_calls == 1 and handle.kill_calls == 1  # SIGTERM, then SIGKILL after the grace
    assert done.plan_id is None
    assert done.state == JobState.CANCELED, (done.state, done.reason)
    assert "time limit" not in (done.reason or "")


def test_cancel_racing_the_claim_still_stops_the_solver(database: tuple[str, sessionmaker], runners: Runners) -> None:
    """DELETE reads the job queued; the dispatcher claims and starts it; DELETE then writes its cancel."""
    url, sessions = database
    job_id = add_job(sessions, time_limit=30)
    runner, executor = runners(keeps_best_plan_on_sigterm)  # ticked by hand here: no dispatcher thread
    api_engine = make_engine(url)

    @event.listens_for(api_engine, "before_cursor_execute")
    def _claim_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE JOBS") and not executor.handles:
            runner._tick()  # the dispatcher's claim lands between the API's read and its write

    try:
        with session_factory(api_engine)() as s:
            services.cancel_job(s, job_id)
    finally:
        api_engine.dispose()
    assert len(executor.handles) == 1 and job(sessions, job_id).started_at is not None  # it did start
    for _ in range(5):
        runner._tick()
    handle = executor.handles[0]
    assert handle.terminate_calls == 1 or not handle.alive(), (
        f"job {job(sessions, job_id).state!r} ({job(sessions, job_id).reason}) but its solver was never stopped")


# ---------------------------------------------------------------------------------------------- start failure


def test_a_worker_that_cannot_be_started_does_not_leave_its_job_running(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    unlucky = add_job(sessions, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    runner, executor = runners(solves_in(0.05), fail_first_starts=1)
    runner.start()
    wait_until(lambda: executor.start_calls >= 1, what="a start attempt")
    later = add_job(sessions)
    runner.wake()
    # The dispatcher survives the failure and goes on with other jobs...
    assert wait_finished(sessions, later).state == JobState.SUCCEEDED
    # ...but the job it failed to start must not stay "running" for good.
    time.sleep(0.3)
    stuck = job(sessions, unlucky)
    assert stuck.state != JobState.RUNNING, "left running with no worker"
    if stuck.state == JobState.FAILED:  # or re-queued and run again: succeeded
        assert "Too many open files" in (stuck.reason or ""), stuck.reason
    assert runner.running == 0


# ---------------------------------------------------------------------------------------------- recovery


def test_recover_jobs_requeues_running_jobs_and_fails_them_after_max_attempts(
    database: tuple[str, sessionmaker],
) -> None:
    _, sessions = database
    once = add_job(sessions, state=JobState.RUNNING, run_token="t1", worker_pid=4242, attempts=1)
    twice = add_job(sessions, state=JobState.RUNNING, run_token="t2", worker_pid=4243, attempts=2)
    canceling = add_job(sessions, state=JobState.RUNNING, run_token="t3", attempts=1, cancel_requested=True)
    queued = add_job(sessions)
    done = add_job(sessions, state=JobState.SUCCEEDED, attempts=1)

    assert recover_jobs(sessions, max_attempts=2) == {"requeued": 1, "failed": 1}

    requeued = job(sessions, once)
    assert requeued.state == JobState.QUEUED and requeued.run_token is None and requeued.worker_pid is None
    assert "restart" in (requeued.reason or "") and requeued.attempts == 1
    given_up = job(sessions, twice)
    assert given_up.state == JobState.FAILED and given_up.finished_at is not None
    assert "restart" in (given_up.reason or "") and "2 time" in (given_up.reason or "")
    assert job(sessions, canceling).state == JobState.CANCELED
    assert job(sessions, queued).state == JobState.QUEUED and job(sessions, queued).reason is None
    assert job(sessions, done).state == JobState.SUCCEEDED
    # Idempotent: nothing is left running, a second pass changes nothing.
    assert recover_jobs(sessions, max_attempts=2) == {"requeued": 0, "failed": 0}


def crash(runner: JobRunner) -> None:
    """The server dies: dispatching stops, nothing is cleaned up (unlike ``JobRunner.stop``)."""
    runner._stop.set()
    runner._wake.set()
    assert runner._thread is not None
    runner._thread.join(5)
    assert not runner._thread.is_alive()


def test_a_job_interrupted_by_restarts_runs_again_then_fails_after_max_attempts(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    job_id = add_job(sessions, time_limit=30)
    stale_handles: list[FakeHandle] = []
    for attempt in (1, 2):
        runner, executor = runners(hang)
        runner.start()
        wait_until(executor.handles.copy, what=f"run {attempt} to start")
        row = job(sessions, job_id)
        assert row.state == JobState.RUNNING and row.attempts == attempt
        assert row.run_token == executor.handles[0].token
        stale_handles.append(executor.handles[0])
        crash(runner)
        counts = recover_jobs(sessions, max_attempts=2)
        assert counts == ({"requeued": 1, "failed": 0} if attempt == 1 else {"requeued": 0, "failed": 1})
    failed = job(sessions, job_id)
    assert failed.state == JobState.FAILED and failed.attempts == 2
    assert "restart" in (failed.reason or "")
    # The workers of both runs outlived their server (in this simulation): neither may land a plan now.
    for handle in stale_handles:
        handle.store_plan()
    assert not plans_of(sessions, job_id) and job(sessions, job_id).state == JobState.FAILED


def test_after_a_restart_only_the_new_run_lands_its_plan(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    _, sessions = database
    job_id = add_job(sessions, time_limit=30)
    first, ex1 = runners(hang)
    first.start()
    wait_until(lambda: ex1.handles, what="the first run")
    crash(first)
    assert recover_jobs(sessions, max_attempts=2) == {"requeued": 1, "failed": 0}
    second, ex2 = runners(keeps_best_plan_on_sigterm)
    second.start()
    wait_until(lambda: ex2.handles, what="the second run")
    old, new = ex1.handles[0], ex2.handles[0]
    assert old.token != new.token and job(sessions, job_id).run_token == new.token
    old.store_plan(cost=1.0)  # the orphan of the first run finishes: refused
    assert not plans_of(sessions, job_id) and job(sessions, job_id).state == JobState.RUNNING
    new.store_plan(cost=2.0)
    done = wait_finished(sessions, job_id)
    assert done.state == JobState.SUCCEEDED and done.attempts == 2
    (plan,) = plans_of(sessions, job_id)
    assert plan.cost == 2.0 and done.plan_id == plan.id


# ---------------------------------------------------------------------------------------------- run tokens


def store(sessions: sessionmaker, job_id: str, token: str, cost: float) -> None:
    _store_plan(sessions, job_id, token, {"shipments": [], "purchase_orders": []}, "optimal", cost, cost, 0.0, 0.1,
                ANY_PROBLEM)


def test_a_stale_worker_cannot_store_a_plan_or_finish_the_job(database: tuple[str, sessionmaker]) -> None:
    _, sessions = database
    job_id = add_job(sessions, state=JobState.RUNNING, run_token="current", attempts=2)
    store(sessions, job_id, "stale", 1.0)
    assert not plans_of(sessions, job_id)
    row = job(sessions, job_id)
    assert row.state == JobState.RUNNING and row.plan_id is None and row.run_token == "current"
    assert not _finish(sessions, job_id, "stale", JobState.FAILED, "stale failure")
    assert job(sessions, job_id).state == JobState.RUNNING

    store(sessions, job_id, "current", 2.0)
    (plan,) = plans_of(sessions, job_id)
    assert job(sessions, job_id).plan_id == plan.id and job(sessions, job_id).state == JobState.SUCCEEDED
    # Once finished, not even the current token lands a second plan.
    store(sessions, job_id, "current", 3.0)
    assert [p.id for p in plans_of(sessions, job_id)] == [plan.id]
    assert not _finish(sessions, job_id, "current", JobState.FAILED, "late failure")
    assert job(sessions, job_id).state == JobState.SUCCEEDED


def test_a_stale_worker_racing_a_restart_cannot_land_a_second_plan(database: tuple[str, sessionmaker]) -> None:
    """Between the stale worker's check and its write: restart, re-queue, re-run and store (all committed)."""
    url, sessions = database
    job_id = add_job(sessions, state=JobState.RUNNING, run_token="old", attempts=1)
    stale_engine = make_engine(url)
    stale_sessions = session_factory(stale_engine)
    raced: list[bool] = []
    threads: list[threading.Thread] = []

    def restart_and_rerun() -> None:
        recover_jobs(sessions, max_attempts=2)
        with sessions() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED)
                      .values(state=JobState.RUNNING, run_token="new", attempts=Job.attempts + 1))
        store(sessions, job_id, "new", 2.0)

    @event.listens_for(stale_engine, "before_cursor_execute")
    def _between_check_and_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE JOBS", "INSERT INTO PLANS")) and not raced:
            raced.append(True)
            # In a thread: where the check holds a lock (PostgreSQL's FOR UPDATE) this waits for the stale
            # worker's commit, which is then the only plan (the re-queue finds the job finished).
            other = threading.Thread(target=restart_and_rerun)
            other.start()
            other.join(1.0)
            raced.append(not other.is_alive())
            threads.append(other)

    try:
        store(stale_sessions, job_id, "old", 1.0)
    finally:
        for t in threads:
            t.join(35)
        stale_engine.dispose()
    assert raced and raced[0]
    with sessions() as s:
        per_job = s.scalar(select(func.count()).select_from(PlanRow).where(PlanRow.job_id == job_id))
    row = job(sessions, job_id)
    plans = plans_of(sessions, job_id)
    assert per_job == 1, [(p.cost, p.id) for p in plans]
    assert row.plan_id == plans[0].id


# ---------------------------------------------------------------------------------------------- failure kinds


def test_the_runner_records_server_side_failures_and_a_retry_of_the_key_runs(
    database: tuple[str, sessionmaker], runners: Runners
) -> None:
    """A worker that dies fails its job ``failure=server``; the same Idempotency-Key and body start a new job."""
    from stockplan.api.schemas import JobRequest
    from stockplan.api.settings import ServiceSettings

    url, sessions = database
    settings = ServiceSettings(database_url=url)
    raw = {"problem": example_problem("three-customers")}
    with sessions() as s:
        crashed, created = services.submit_job(s, JobRequest.model_validate(raw), raw, settings, "alice", "key-1")
    assert created
    runner, _ = runners(dies_with(-signal.SIGKILL))
    runner.start()
    done = wait_finished(sessions, crashed.id)
    assert done.state == JobState.FAILED and done.failure == Failure.SERVER and "exit code -9" in (done.reason or "")
    crash(runner)

    with sessions() as s:
        retry, created = services.submit_job(s, JobRequest.model_validate(raw), raw, settings, "alice", "key-1")
    assert created and retry.id != crashed.id and retry.retry_of == crashed.id
    runner, _ = runners(solves_in(0.01))
    runner.start()
    solved = wait_finished(sessions, retry.id)
    assert solved.state == JobState.SUCCEEDED and solved.failure is None and solved.plan_id
    old = job(sessions, crashed.id)
    assert old.state == JobState.FAILED and old.retried_by == retry.id and old.idempotency_key is None
    with sessions() as s:  # and the key now replays the job that succeeded
        replay, created = services.submit_job(s, JobRequest.model_validate(raw), raw, settings, "alice", "key-1")
    assert not created and replay.id == retry.id


def test_watchdog_restarts_and_spawn_failures_are_server_side(
    database: tuple[str, sessionmaker], runners: Runners, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, sessions = database
    clock = ShiftedClock()
    monkeypatch.setattr(jobs, "time", clock)
    unstarted = add_job(sessions)
    runner, _ = runners(hang, fail_first_starts=1)
    runner.start()
    assert wait_finished(sessions, unstarted).failure == Failure.SERVER
    stuck = add_job(sessions, time_limit=0.01)
    runner.wake()
    wait_until(lambda: runner.running == 1, what="the job to start")
    clock.offset = 5.0
    overran = wait_finished(sessions, stuck)
    assert "watchdog" in (overran.reason or "") and overran.failure == Failure.SERVER
    restarted = add_job(sessions, state=JobState.RUNNING, run_token="t", attempts=2)
    recover_jobs(sessions, max_attempts=2)
    assert job(sessions, restarted).state == JobState.FAILED and job(sessions, restarted).failure == Failure.SERVER
    canceled = add_job(sessions, state=JobState.RUNNING, run_token="c", attempts=1, cancel_requested=True)
    recover_jobs(sessions, max_attempts=2)
    assert job(sessions, canceled).state == JobState.CANCELED and job(sessions, canceled).failure is None


@pytest.mark.parametrize(("raised", "failure"), [
    (None, Failure.CLIENT),  # the solve ends without a feasible plan: the problem's own reason
    (ProblemError([FieldError("orders[0].sku", "unknown SKU")]), Failure.CLIENT),
    (RuntimeError("the backend crashed"), Failure.SERVER),
])
def test_the_worker_tells_the_problems_failures_from_the_servers(
    database: tuple[str, sessionmaker], monkeypatch: pytest.MonkeyPatch, raised: Exception | None, failure: str
) -> None:
    from stockplan.models.plan import Costs, Plan, Status
    from stockplan.solver import solve as solve_module

    def fake_solve(*_args: Any, **_kwargs: Any) -> Plan:
        if raised is not None:
            raise raised
        return Plan(status=Status.ERROR, cost=0.0, costs=Costs(), backend="highs", solve_seconds=0.01,
                    message="no feasible plan")

    monkeypatch.setattr(solve_module, "solve", fake_solve)
    _, sessions = database
    job_id = add_job(sessions, state=JobState.RUNNING, run_token="run")
    jobs._solve_and_store(sessions, job_id, "run")
    done = job(sessions, job_id)
    assert done.state == JobState.FAILED and done.failure == failure, done.reason
