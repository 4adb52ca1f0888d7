"""The measurements of the service benchmarks: latency and throughput of tiny jobs, wall-clock overrun per door.

Each takes a running :class:`~benchmarks.service_server.ServiceProcess` (or starts its own)
and returns samples; every plan is checked by the evaluator and every loop has a count and a
timeout. The numbers are reported, never asserted: :mod:`benchmarks.service` runs the
measurements and :mod:`benchmarks.service_report` writes the tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .generator import generate
from .service_server import ServiceProcess

FINISHED = ("succeeded", "failed", "canceled")
TINY_TIME_LIMIT = 5.0
DOORS = ("python", "cli", "api")


def allowed_overrun(time_limit: float) -> float:
    """Seconds a door may return after its time limit T: the promise is T + max(2 s, 5 % of T).

    Stated here rather than imported from the solver, so the yardstick does not move with the code it measures.
    """
    return max(2.0, 0.05 * time_limit)


def guard_timeout(time_limit: float) -> float:
    """Seconds after which a measurement of a solve with ``time_limit`` is given up (a hung run, not an overrun)."""
    return 2.0 * time_limit + 120.0


# ---------------------------------------------------------------------------------------------- job samples


@dataclass
class JobSample:
    """One job as the client saw it, and as the service recorded it."""

    job_id: str
    state: str
    outcome: str | None
    #: client: submit to finished (seconds)
    seconds: float
    #: server: created_at -> started_at, started_at -> finished_at
    queued_seconds: float | None = None
    run_seconds: float | None = None
    plan_id: str | None = None
    feasible: bool | None = None
    cost: float | None = None
    reason: str | None = None


def _timestamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    stamp = dt.datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _between(start: str | None, end: str | None) -> float | None:
    a, b = _timestamp(start), _timestamp(end)
    return None if a is None or b is None else (b - a).total_seconds()


def sample_of(view: dict[str, Any], seconds: float) -> JobSample:
    """A :class:`JobSample` of a finished job's view (``GET /v1/jobs/{id}``) and its client-side seconds."""
    return JobSample(job_id=view["id"], state=view["state"], outcome=view.get("outcome"), seconds=seconds,
                     queued_seconds=_between(view.get("created_at"), view.get("started_at")),
                     run_seconds=_between(view.get("started_at"), view.get("finished_at")),
                     plan_id=view.get("plan_id"), reason=view.get("reason"))


def wait_for_job(client: httpx.Client, job_id: str, timeout: float, every: float = 0.05) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{id}`` until the job has finished; its view (TimeoutError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if view["state"] in FINISHED:
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not finished after {timeout:g} s (state {view['state']})")
        time.sleep(every)


def check_plan(client: httpx.Client, sample: JobSample, problem: dict[str, Any],
               plan: dict[str, Any] | None = None) -> None:
    """Evaluate the job's stored plan against its problem: sets ``sample.feasible`` and ``sample.cost``.

    ``plan`` is the plan view when the response already carried it inline; otherwise it is fetched.
    """
    from stockplan.models.plan import load_plan
    from stockplan.models.validation import load_problem
    from stockplan.solver.evaluator import evaluate

    if sample.plan_id is None:
        sample.feasible = False
        return
    if plan is None:
        r = client.get(f"/v1/plans/{sample.plan_id}")
        r.raise_for_status()
        plan = r.json()
    ev = evaluate(load_problem(problem), load_plan(plan["plan"]))
    sample.feasible, sample.cost = ev.feasible, ev.cost


def tiny_problems(first_seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` generated ``tiny`` problems (10 orders, 3 SKUs), seeds ``first_seed`` ... ``first_seed + n - 1``."""
    return [generate("tiny", seed) for seed in range(first_seed, first_seed + n)]


# ---------------------------------------------------------------------------------------------- latency


def measure_submit_to_finished_latency(
    server: ServiceProcess, problems: Sequence[dict[str, Any]], warmup: Sequence[dict[str, Any]] = (),
    time_limit: float = TINY_TIME_LIMIT, wait: float = 30.0, job_timeout: float = 120.0,
) -> list[JobSample]:
    """Submit ``problems`` one after another through ``POST /v1/jobs?wait=…``: one sample per measured job.

    Parameters
    ----------
    server : ServiceProcess
        A running server with nothing else to do.
    problems : sequence of dict
        The measured jobs' problems (wire format).
    warmup : sequence of dict
        Problems submitted first, the same way, and not measured.
    time_limit : float
        The jobs' ``options.time_limit``.
    wait : float
        ``?wait=``: the server answers once the job has finished or after this many seconds;
        a job still unfinished then is polled until ``job_timeout``.
    job_timeout : float
        Seconds a single job may take before the measurement gives up (TimeoutError).

    Returns
    -------
    list of JobSample
        Per measured job: submit-to-finished wall time on the client (the POST's
        round trip when it returns the finished job), the server's queue and run
        times, and whether its plan passes the evaluator (checked after the clock stops).
    """
    samples = []
    with server.client(timeout=wait + 30.0) as client:
        for i, problem in enumerate([*warmup, *problems]):
            body = {"problem": problem, "options": {"time_limit": time_limit}}
            started = time.perf_counter()
            r = client.post("/v1/jobs", params={"wait": wait}, json=body)
            if r.status_code not in (200, 202):
                raise RuntimeError(f"POST /v1/jobs answered {r.status_code}: {r.text[:500]}")
            view: dict[str, Any] = r.json()
            if view["state"] not in FINISHED:
                view = wait_for_job(client, view["id"], job_timeout)
            seconds = time.perf_counter() - started
            if i < len(warmup):
                continue
            sample = sample_of(view, seconds)
            check_plan(client, sample, problem, view.get("plan"))
            samples.append(sample)
    return samples


# ---------------------------------------------------------------------------------------------- throughput


@dataclass
class Throughput:
    """Jobs submitted at once and the time until all had finished."""

    jobs: int
    #: client: first submit to the poll that saw every job finished
    seconds: float
    #: server: first created_at to last finished_at
    server_seconds: float | None
    samples: list[JobSample] = field(default_factory=list)

    @property
    def jobs_per_second(self) -> float:
        """Jobs finished per second of client-side wall time."""
        return self.jobs / self.seconds if self.seconds > 0 else float("inf")


async def _submit_concurrently(base: str, bodies: list[dict[str, Any]], timeout: float) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits, trust_env=False) as client:
        return await asyncio.gather(*(client.post("/v1/jobs", json=body) for body in bodies))


def measure_concurrent_throughput(
    server: ServiceProcess, problems: Sequence[dict[str, Any]], time_limit: float = TINY_TIME_LIMIT,
    timeout: float = 600.0, every: float = 0.05,
) -> Throughput:
    """Submit every problem at once (one connection each), then poll ``GET /v1/jobs?limit=500`` until all finished.

    Parameters
    ----------
    server : ServiceProcess
        A running server with nothing else to do.
    problems : sequence of dict
        One job each (at most 500, what one ``GET /v1/jobs`` lists).
    time_limit : float
        The jobs' ``options.time_limit``.
    timeout : float
        Seconds until the measurement gives up (TimeoutError).
    every : float
        Seconds between polls.

    Returns
    -------
    Throughput
        The wall time from the first submit to the poll that saw every job finished
        (client), from the first ``created_at`` to the last ``finished_at`` (server),
        and a sample per job with its plan checked by the evaluator afterwards.
    """
    if not 0 < len(problems) <= 500:
        raise ValueError("between 1 and 500 jobs: GET /v1/jobs lists at most 500")
    bodies = [{"problem": p, "options": {"time_limit": time_limit}} for p in problems]
    started = time.perf_counter()
    responses = asyncio.run(_submit_concurrently(server.base, bodies, timeout=60.0))
    refused = [r for r in responses if r.status_code != 202]
    if refused:
        first = refused[0]
        raise RuntimeError(f"{len(refused)} submissions refused, e.g. {first.status_code}: {first.text[:300]}")
    ids = [r.json()["id"] for r in responses]
    wanted = set(ids)
    deadline = started + timeout
    with server.client() as client:
        while True:
            views = {v["id"]: v for v in client.get("/v1/jobs", params={"limit": 500}).json() if v["id"] in wanted}
            if len(views) == len(wanted) and all(v["state"] in FINISHED for v in views.values()):
                seconds = time.perf_counter() - started
                break
            if time.perf_counter() > deadline:
                states = {i: v["state"] for i, v in views.items()}
                raise TimeoutError(f"{len(ids)} jobs not finished after {timeout:g} s: {states}")
            time.sleep(every)
        samples = []
        for job_id, problem in zip(ids, problems, strict=True):
            view = views[job_id]
            sample = sample_of(view, seconds)  # no per-job client time: all were waited for together
            check_plan(client, sample, problem)
            samples.append(sample)
    created = [t for t in (_timestamp(v.get("created_at")) for v in views.values()) if t is not None]
    finished = [t for t in (_timestamp(v.get("finished_at")) for v in views.values()) if t is not None]
    server_seconds = (max(finished) - min(created)).total_seconds() if created and finished else None
    return Throughput(jobs=len(ids), seconds=seconds, server_seconds=server_seconds, samples=samples)


# ---------------------------------------------------------------------------------------------- overrun


@dataclass
class Overrun:
    """One solve through one door at one time limit: how long after the limit it returned."""

    door: str
    family: str
    orders: int
    time_limit: float
    #: seconds until the door returned (python: the solve() call; cli: the subprocess; api: finished - started)
    seconds: float
    status: str
    feasible: bool | None
    cost: float | None = None
    #: api only: client-side submit to finished; the POST's round trip (validating and storing the problem);
    #: the job's created_at -> started_at
    client_seconds: float | None = None
    accept_seconds: float | None = None
    queued_seconds: float | None = None
    message: str = ""

    @property
    def overrun(self) -> float:
        """Returned minus the time limit (seconds; negative: early)."""
        return self.seconds - self.time_limit

    @property
    def allowed(self) -> float:
        """The promised grace, max(2 s, 5 % of T)."""
        return allowed_overrun(self.time_limit)

    @property
    def kept(self) -> bool:
        """The door returned a plan within T + max(2 s, 5 % of T)."""
        return self.overrun <= self.allowed and self.status != "error"

    @property
    def client_kept(self) -> bool | None:
        """api only: the client had the finished job within T + max(2 s, 5 % of T) of submitting it."""
        if self.client_seconds is None:
            return None
        return self.client_seconds - self.time_limit <= self.allowed and self.status != "error"


def _python_door_child(path: str, time_limit: float, queue: Any) -> None:
    """Child process: load the problem, time ``solve(..., explain=True)``, evaluate the plan, report."""
    from stockplan.models.validation import load_problem
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.evaluator import evaluate
    from stockplan.solver.solve import solve

    try:
        problem = load_problem(json.loads(Path(path).read_text()))
        started = time.perf_counter()
        plan = solve(problem, SolveOptions(time_limit=time_limit), explain=True)
        seconds = time.perf_counter() - started
        feasible = evaluate(problem, plan).feasible if plan.status != "error" else False
        queue.put({"seconds": seconds, "status": str(plan.status), "feasible": feasible, "cost": plan.cost,
                   "message": f"{plan.method}: {plan.message}"[:300]})
    except Exception as exc:  # reported as the row's message
        queue.put({"seconds": float("nan"), "status": "error", "feasible": None, "message": repr(exc)[:300]})


def measure_python_solve_overrun(path: Path, family: str, orders: int, time_limit: float) -> Overrun:
    """Time ``solve(problem, SolveOptions(time_limit=T), explain=True)`` in a fresh (spawned) process.

    The clock runs around the call only: imports and reading the problem are not counted.
    A child still running after :func:`guard_timeout` is killed and reported as an error.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_python_door_child, args=(str(path), time_limit, queue))
    proc.start()
    out: dict[str, Any] | None = None
    with contextlib.suppress(Exception):  # queue.Empty after the guard: reported below
        out = queue.get(timeout=guard_timeout(time_limit))
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if out is None:
        out = {"seconds": guard_timeout(time_limit), "status": "error", "feasible": None,
               "message": f"no answer from the solve process (exit code {proc.exitcode})"}
    return Overrun(door="python", family=family, orders=orders, time_limit=time_limit, **out)


def stockplan_command() -> list[str]:
    """How to run the ``stockplan`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("stockplan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stockplan.api.cli"]


def measure_cli_solve_overrun(path: Path, family: str, orders: int, time_limit: float, workdir: Path) -> Overrun:
    """Wall time of ``stockplan solve FILE --time-limit T --out plan.json`` as a subprocess (start-up included)."""
    from stockplan.models.plan import load_plan
    from stockplan.models.validation import load_problem
    from stockplan.solver.evaluator import evaluate

    out = workdir / f"plan-{family}-{time_limit:g}.json"
    out.unlink(missing_ok=True)
    args = [*stockplan_command(), "solve", str(path), "--time-limit", f"{time_limit:g}", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")} | {"COLUMNS": "200"}
    started = time.perf_counter()
    try:
        done = subprocess.run(args, cwd=workdir, env=env, capture_output=True, timeout=guard_timeout(time_limit),
                              check=False)
    except subprocess.TimeoutExpired:
        return Overrun(door="cli", family=family, orders=orders, time_limit=time_limit,
                       seconds=guard_timeout(time_limit), status="error", feasible=None, message="killed: hung")
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not out.exists():
        tail = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()[-3:]
        return Overrun(door="cli", family=family, orders=orders, time_limit=time_limit, seconds=seconds,
                       status="error", feasible=None, message=f"exit {done.returncode}: {' | '.join(tail)}"[:300])
    plan = json.loads(out.read_text())
    ev = evaluate(load_problem(json.loads(path.read_text())), load_plan(plan))
    return Overrun(door="cli", family=family, orders=orders, time_limit=time_limit, seconds=seconds,
                   status=str(plan.get("status")), feasible=ev.feasible, cost=plan.get("cost"),
                   message=f"{plan.get('method')}: {plan.get('message') or ''}"[:300])


def measure_api_solve_overrun(server: ServiceProcess, problem: dict[str, Any], family: str, time_limit: float
                              ) -> Overrun:
    """One job through ``POST /v1/jobs``: its ``finished_at - started_at``, and submit-to-finished on the client."""
    body = {"problem": problem, "options": {"time_limit": time_limit}}
    orders = len(problem["orders"])
    with server.client(timeout=120.0) as client:
        started = time.perf_counter()
        r = client.post("/v1/jobs", json=body)
        accept_seconds = time.perf_counter() - started
        if r.status_code != 202:
            return Overrun(door="api", family=family, orders=orders, time_limit=time_limit, seconds=float("nan"),
                           status="error", feasible=None, message=f"POST answered {r.status_code}: {r.text[:200]}")
        try:
            view = wait_for_job(client, r.json()["id"], guard_timeout(time_limit))
        except TimeoutError as exc:
            return Overrun(door="api", family=family, orders=orders, time_limit=time_limit,
                           seconds=guard_timeout(time_limit), status="error", feasible=None, message=str(exc))
        client_seconds = time.perf_counter() - started
        sample = sample_of(view, client_seconds)
        if sample.state == "succeeded":
            check_plan(client, sample, problem)
    run = sample.run_seconds if sample.run_seconds is not None else float("nan")
    status = (sample.outcome or "error") if sample.state == "succeeded" else "error"
    return Overrun(door="api", family=family, orders=orders, time_limit=time_limit, seconds=run, status=status,
                   feasible=sample.feasible, cost=sample.cost, client_seconds=client_seconds,
                   accept_seconds=accept_seconds, queued_seconds=sample.queued_seconds,
                   message=(sample.reason or "")[:300])


def measure_overruns(
    limits: dict[str, Sequence[float]], doors: Sequence[str], workdir: Path, seed: int = 0, workers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> list[Overrun]:
    """Every (family, time limit, door) of ``limits`` x ``doors``, one after another on an otherwise idle machine.

    The API door uses one warm server for all its solves, started once the other doors are done.
    """
    records: list[Overrun] = []
    problems = {family: generate(family, seed) for family in limits}
    paths = {}
    for family, data in problems.items():
        paths[family] = workdir / f"{family}-{seed}.json"
        paths[family].write_text(json.dumps(data))
    cases = [(family, float(t)) for family, ts in limits.items() for t in ts]
    for door in (d for d in doors if d != "api"):
        for family, t in cases:
            if progress:
                progress(f"overrun: {door} {family} T={t:g}")
            orders = len(problems[family]["orders"])
            if door == "python":
                records.append(measure_python_solve_overrun(paths[family], family, orders, t))
            elif door == "cli":
                records.append(measure_cli_solve_overrun(paths[family], family, orders, t, workdir))
            else:
                raise ValueError(f"unknown door {door!r}; known: {', '.join(DOORS)}")
    if "api" in doors and cases:
        server_dir = workdir / "api-server"
        server_dir.mkdir(exist_ok=True)
        with ServiceProcess(server_dir, warm=True, workers=workers) as server:
            for family, t in cases:
                if progress:
                    progress(f"overrun: api {family} T={t:g}")
                records.append(measure_api_solve_overrun(server, problems[family], family, t))
    return records
