"""Solve jobs: each in its own worker process, behind an executor interface, accounted for in the database.

States ``queued → running → succeeded | failed | canceled``. The :class:`JobRunner`
thread claims queued jobs while fewer than ``workers`` run, starts each in a
process through an :class:`Executor`, and watches them:

* a job whose cancel is requested gets SIGTERM: the solver stops and the worker
  keeps its best plan (the job ends ``canceled`` with that plan);
* a solver running past its time limit plus ``watchdog_grace`` seconds is
  killed by the watchdog (its whole process group), and the job fails saying so;
* a worker that dies without writing its result fails the job with its exit code.

Every run carries a fresh ``run_token``; a worker writes its result only while
its job still carries that token, so a run the server gave up on can never land
twice. After a crash or ``kill -9`` of the server, :func:`recover_jobs` at start
re-queues the jobs left ``running`` (their workers died with the server) or, after
``max_attempts``, fails them with a reason: none lost, none left running.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from stockplan.api.db import Failure, Job, JobState, PlanRow, make_engine, new_id, now, session_factory
from stockplan.api.executors import Executor as TaskExecutor
from stockplan.api.executors import LocalExecutor
from stockplan.api.review_index import index_plan
from stockplan.solver.processes import die_with_parent

if TYPE_CHECKING:
    from stockplan.models.problem import Problem

log = logging.getLogger("stockplan.api.jobs")


class Handle(Protocol):
    """A running solve, as the runner sees it (see :mod:`stockplan.api.executors`)."""

    def alive(self) -> bool: ...
    def exit_code(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class Executor(Protocol):
    """Starts :func:`run_job` for one job run."""

    def start(self, database_url: str, job_id: str, run_token: str) -> Handle: ...


class JobExecutor:
    """Runs jobs on a task executor: a local process each (default) or a Dask cluster."""

    def __init__(self, tasks: TaskExecutor | None = None) -> None:
        self.tasks = tasks or LocalExecutor()

    def start(self, database_url: str, job_id: str, run_token: str) -> Handle:
        return self.tasks.start(run_job, database_url, job_id, run_token, os.getpid())


LocalProcessExecutor = JobExecutor  # the default: one spawned process per job


def request_hash(body: dict[str, Any]) -> str:
    """Digest of a job request, for idempotent retries (same key, same body → same job)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- worker


def run_job(database_url: str, job_id: str, run_token: str, parent_pid: int | None = None) -> None:
    """The worker: solve one job and write its plan (only while the job still carries ``run_token``)."""
    from stockplan.solver import progress
    from stockplan.solver.backends.base import request_stop

    own_process = threading.current_thread() is threading.main_thread()  # not a Dask worker's thread
    if own_process:
        die_with_parent(parent_pid)
        signal.signal(signal.SIGTERM, lambda *_: request_stop())
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    watcher = None if own_process else CancelWatcher(sessions, job_id)
    try:
        with progress.progress_sink(ProgressWriter(sessions, job_id, run_token)):
            _solve_and_store(sessions, job_id, run_token)
    finally:
        if watcher is not None:
            watcher.stop()
        engine.dispose()


class ProgressWriter:
    """Writes a running job's progress to its row: at most every ``interval`` seconds, phase changes at once.

    Nothing in the first ``after`` seconds: a small job is done before anyone could look, and its writes would
    only compete for the database with the jobs around it.
    """

    def __init__(self, sessions: sessionmaker, job_id: str, run_token: str, interval: float = 0.5,
                 after: float = 0.5) -> None:
        self.sessions, self.job_id, self.run_token, self.interval = sessions, job_id, run_token, interval
        self._start = time.monotonic() + after
        self._last_write = 0.0
        self._last_phase = ""

    def __call__(self, event: Any) -> None:
        clock = time.monotonic()
        if clock < self._start:
            return
        if event.phase == self._last_phase and clock - self._last_write < self.interval:
            return
        self._last_write, self._last_phase = clock, event.phase
        values = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in event.as_dict().items()}
        with self.sessions() as s, s.begin():
            s.execute(update(Job).where(Job.id == self.job_id, Job.run_token == self.run_token,
                                        Job.state == JobState.RUNNING).values(progress=values))


class CancelWatcher:
    """A job solved on a thread (Dask) cannot get SIGTERM: this polls its cancel flag instead."""

    def __init__(self, sessions: sessionmaker, job_id: str, poll: float = 0.5) -> None:
        self.sessions, self.job_id, self.poll = sessions, job_id, poll
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"cancel-{job_id}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        from stockplan.solver.backends.base import request_stop

        while not self._done.wait(self.poll):
            try:
                with self.sessions() as s:
                    if s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                        request_stop()
                        return
            except Exception:  # the database hiccuped: try again at the next poll
                log.debug("cancel poll failed for job %s", self.job_id, exc_info=True)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(2)


def _solve_and_store(sessions: sessionmaker, job_id: str, run_token: str) -> None:
    from stockplan.models.validation import load_problem
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.solve import solve

    started = time.perf_counter()
    with sessions() as s:
        job = s.get(Job, job_id)
        if job is None or job.run_token != run_token:
            return
        problem_data, opts = job.problem, dict(job.options)
    try:
        problem = load_problem(problem_data)
        # A job's limit covers reading its problem and storing its plan too, not only the solve.
        limit = float(opts["time_limit"]) - (time.perf_counter() - started) - store_reserve(problem)
        options = SolveOptions(time_limit=max(0.1, limit), gap=float(opts.get("gap", 1e-6)), threads=1,
                               seed=int(opts.get("seed", 0)), workers=1)
        # The report and pricing of late lines come out of the same time limit (solve's own budget).
        plan = solve(problem, options, backend=opts.get("backend", "highs"), method=opts.get("method", "auto"),
                     explain=bool(opts.get("explain", True)))
    except Exception as exc:  # the job fails with the reason; the service goes on
        from stockplan.models.validation import ProblemError

        log.exception("job %s failed", job_id)
        # An invalid problem is the request's fault; anything else the solver raises is the service's.
        kind = Failure.CLIENT if isinstance(exc, ProblemError) else Failure.SERVER
        _finish(sessions, job_id, run_token, JobState.FAILED, reason=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - started, failure=kind)
        return
    if plan.has_no_plan:  # a backend error with the greedy plan attached still stores that plan (status error)
        _finish(sessions, job_id, run_token, JobState.FAILED, reason=plan.message or "no feasible plan",
                seconds=plan.solve_seconds, failure=Failure.CLIENT)
        return
    _store_plan(sessions, job_id, run_token, plan.model_dump(mode="json", exclude_none=True), plan.status,
                plan.cost, plan.bound, plan.gap, plan.solve_seconds, problem)


def store_reserve(problem: Any) -> float:
    """Seconds to keep for writing a plan, its review index and compare facts to the database.

    Measured on a loaded 2-core machine (SQLite): 0.21–0.26 s for 1,000 orders (1,737 lines),
    2.3–2.5 s for 10,000 orders (17,000 lines); kept with some room above that.
    """
    lines = sum(len(o.lines) for o in problem.orders)
    return 0.1 + 1.6e-4 * lines


def _store_plan(
    sessions: sessionmaker,
    job_id: str, run_token: str, plan: dict[str, Any], outcome: str, cost: float, bound: float | None,
    gap: float | None, seconds: float, problem: Problem,
) -> None:
    """Plan row and its review index, supersede older plans of the scenario, finish the job: one transaction."""
    from sqlalchemy import case
    plan_id = new_id()
    canceled = Job.cancel_requested.is_(True)
    with sessions() as s, s.begin():
        res = s.execute(update(Job).where(Job.id == job_id, Job.run_token == run_token,
                                          Job.state == JobState.RUNNING).values(
            state=case((canceled, JobState.CANCELED), else_=JobState.SUCCEEDED),
            reason=case((canceled, "canceled while running: the best plan found so far is kept"), else_=None),
            outcome=outcome, plan_id=plan_id, finished_at=now(), solve_seconds=seconds))
        if not res.rowcount:
            return  # the server gave up on this run; its result must not land
        scenario = s.scalar(select(Job.scenario).where(Job.id == job_id))
        row = PlanRow(id=plan_id, job_id=job_id, scenario=scenario, outcome=outcome, cost=cost, bound=bound,
                      gap=gap, plan=plan)
        s.add(row)
        s.flush()
        index_plan(s, row, problem)
        if scenario:
            s.execute(update(PlanRow).where(PlanRow.scenario == scenario, PlanRow.id != plan_id,
                                            PlanRow.superseded_by.is_(None)).values(superseded_by=plan_id))


def _finish(
    sessions: sessionmaker,
    job_id: str, run_token: str | None, state: str, reason: str, seconds: float | None = None,
    failure: str | None = None,
) -> bool:
    """End a job without a plan (only if it is still the run ``run_token``; None: any unfinished run).

    A failed job records whose fault it was (``failure``, a :class:`Failure`): the server's unless said otherwise.
    """
    if state == JobState.FAILED and failure is None:
        failure = Failure.SERVER
    with sessions() as s, s.begin():
        q = update(Job).where(Job.id == job_id, Job.state.not_in(JobState.FINISHED))
        if run_token is not None:
            q = q.where(Job.run_token == run_token)
        res = s.execute(q.values(state=state, reason=reason, finished_at=now(), solve_seconds=seconds,
                                       failure=failure if state == JobState.FAILED else None))
        return bool(res.rowcount)


# ---------------------------------------------------------------------------------------------- runner


def recover_jobs(sessions: sessionmaker, max_attempts: int) -> dict[str, int]:
    """After a restart: every job left ``running`` is re-queued, or failed once out of attempts."""
    counts = {"requeued": 0, "failed": 0}
    with sessions() as s, s.begin():
        for job in s.scalars(select(Job).where(Job.state == JobState.RUNNING)).all():
            if job.attempts >= max_attempts:
                job.state, job.finished_at, job.failure = JobState.FAILED, now(), Failure.SERVER
                job.reason = f"interrupted by a server restart {job.attempts} time(s); not retried again"
                counts["failed"] += 1
            elif job.cancel_requested:
                job.state, job.finished_at = JobState.CANCELED, now()
                job.reason = "canceled; the server restarted before the solver stopped"
            else:
                job.state, job.run_token, job.worker_pid = JobState.QUEUED, None, None
                job.reason = "re-queued after a server restart"
                counts["requeued"] += 1
    return counts


@dataclass
class _Running:
    job_id: str
    token: str
    handle: Handle
    deadline: float  # monotonic: time limit + grace
    terminated: bool = False
    killed_at: float | None = None


@dataclass
class JobRunner:
    """The dispatcher thread: claims, starts, watches and reaps jobs."""

    sessions: sessionmaker
    database_url: str
    workers: int
    grace: float
    poll: float = 0.2
    executor: Executor = field(default_factory=JobExecutor)
    on_finish: Any = None  # callable(job_id, seconds) for metrics
    _running: dict[str, _Running] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stockplan-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop dispatching; running solves are killed and their jobs re-queued for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        for run in list(self._running.values()):
            run.handle.kill()
            with self.sessions() as s, s.begin():
                s.execute(update(Job).where(Job.id == run.job_id, Job.run_token == run.token,
                                            Job.state == JobState.RUNNING)
                          .values(state=JobState.QUEUED, run_token=None, reason="re-queued: the server stopped"))
        self._running.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a database hiccup must not end dispatching
                log.exception("dispatcher tick failed")
            self._wake.wait(self.poll)
            self._wake.clear()

    def _tick(self) -> None:
        self._reap()
        self._cancel_and_watch()
        self._claim()

    def _reap(self) -> None:
        for job_id, run in list(self._running.items()):
            if run.handle.alive():
                continue
            del self._running[job_id]
            # A worker that wrote its result has finished its job already; these only end the others.
            if run.terminated:
                _finish(self.sessions, job_id, run.token, JobState.CANCELED,
                        "canceled while running; the solver stopped before it had a plan")
            elif run.killed_at is not None:
                _finish(self.sessions, job_id, run.token, JobState.FAILED,
                        "the solver overran its time limit and was stopped by the watchdog", failure=Failure.SERVER)
            else:
                _finish(self.sessions, job_id, run.token, JobState.FAILED,
                        f"the worker process died (exit code {run.handle.exit_code()}) without a result",
                        failure=Failure.SERVER)
            if self.on_finish is not None:
                self.on_finish(job_id)

    def _cancel_and_watch(self) -> None:
        if not self._running:
            return
        with self.sessions() as s:
            wanted = set(s.scalars(select(Job.id).where(Job.id.in_(list(self._running)),
                                                         Job.cancel_requested.is_(True))).all())
        clock = time.monotonic()
        for job_id, run in self._running.items():
            if job_id in wanted and not run.terminated:
                run.terminated = True
                run.handle.terminate()  # SIGTERM: the solver stops and the worker keeps its best plan
                run.deadline = min(run.deadline, clock + self.grace)
            elif clock > run.deadline and run.killed_at is None:
                log.warning("job %s overran its limit; killing its solver", job_id)
                run.killed_at = clock
                run.handle.kill()

    def _claim(self) -> None:
        free = self.workers - len(self._running)
        if free <= 0 or self._stop.is_set():
            return
        with self.sessions() as s:
            queued = s.scalars(select(Job.id).where(Job.state == JobState.QUEUED)
                               .order_by(Job.created_at, Job.id).limit(free)).all()
        for job_id in queued:
            token = new_id()
            with self.sessions() as s, s.begin():
                res = s.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED).values(
                    state=JobState.RUNNING, run_token=token, started_at=now(), attempts=Job.attempts + 1))
                if not res.rowcount:
                    continue  # canceled or taken meanwhile
                job = s.get(Job, job_id)
                limit = float(job.options.get("time_limit", 60.0)) if job is not None else 60.0
            try:
                handle = self.executor.start(self.database_url, job_id, token)
            except Exception as exc:
                log.exception("could not start a worker for job %s", job_id)
                _finish(self.sessions, job_id, token, JobState.FAILED,
                        f"could not start a worker: {type(exc).__name__}: {exc}", failure=Failure.SERVER)
                continue
            # The solve keeps its limit (report and pricing included); the grace covers start-up and writing.
            self._running[job_id] = _Running(job_id, token, handle, time.monotonic() + limit + self.grace)
            with self.sessions() as s, s.begin():
                pid = getattr(handle, "pid", None)
                s.execute(update(Job).where(Job.id == job_id, Job.run_token == token).values(worker_pid=pid))

    @property
    def running(self) -> int:
        return len(self._running)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
