"""The real server: ``stockplan serve`` (uvicorn) as a child process on loopback, on SQLite and PostgreSQL.

Each test starts ``python -m stockplan.api.cli serve`` itself (no shell in between, so
the pid it holds is the server's), talks HTTP to it with httpx, and looks at the
database directly where the API does not show a thing (worker pids, plans per job).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from stockplan.api.db import Job, PlanRow, make_engine
from stockplan.api.responses import money
from stockplan.benchmarks.generator import generate
from stockplan.models.plan import load_plan
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from stockplan.solver.processes import group_members
from tests.api.conftest import example_problem, free_port, wait_until

FINISHED = ("succeeded", "failed", "canceled")
pytestmark = pytest.mark.slow  # each test starts real servers and solver processes


# ---------------------------------------------------------------------------------------------- processes


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def gone(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is None or stat[0] in ("Z", "X")  # a zombie waits for its reaper: it runs nothing any more


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                found.append(int(entry.name))
    return found


def solver_loaded(pid: int) -> bool:
    """The worker got past its start-up (``_die_with_parent`` runs before the solver's imports)."""
    try:
        return "highspy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False




class Server:
    """One ``stockplan serve`` process."""

    def __init__(self, database_url: str, workdir: Path, workers: int, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.spawned: set[int] = set()  # every child seen: workers and multiprocessing's resource tracker
        args = [sys.executable, "-m", "stockplan.api.cli", "serve", "--port", str(self.port),
                "--database-url", database_url, "--workers", str(workers)]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")}
        full_env.update({"STOCKPLAN_POLL_INTERVAL": "0.05", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}, **env)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.client = httpx.Client(base_url=self.base, timeout=60)

    def wait_healthy(self) -> None:
        wait_until(self._healthy, 90, f"the server on port {self.port} to answer /healthz")
        assert "stockplan.api.cli" in cmdline(self.pid)  # the server itself, not a wrapper
        assert f"Started server process [{self.pid}]" in self.log()

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def note_children(self) -> list[int]:
        kids = children(self.pid)
        self.spawned.update(kids)
        return kids

    def kill9(self) -> None:
        self.note_children()
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.note_children()
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.client.close()
        for pid in self.spawned:  # only processes this server started, and only if still what they were
            if not gone(pid) and "multiprocessing" in cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class Servers:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Server] = []

    def start(self, database_url: str, workers: int = 2, **env: str) -> Server:
        server = Server(database_url, self.workdir, workers, env)
        self.started.append(server)  # stopped at teardown even if it never answers
        server.wait_healthy()
        return server

    def close(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    made = Servers(tmp_path)
    yield made
    made.close()


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """The server's database, seen directly (worker pids, plans per job)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# ---------------------------------------------------------------------------------------------- helpers


def job_rows(engine: Engine) -> dict[str, Job]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return {j.id: j for j in s.scalars(select(Job)).all()}


def plans_per_job(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {job_id: int(n) for job_id, n in conn.execute(
            select(PlanRow.job_id, func.count()).group_by(PlanRow.job_id)).all()}


def wait_all_finished(client: httpx.Client, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll ``GET /v1/jobs`` until every job of ``ids`` has finished; their views."""
    wanted = set(ids)

    def finished() -> dict[str, dict[str, Any]] | None:
        views = {j["id"]: j for j in client.get("/v1/jobs", params={"limit": 500}).json() if j["id"] in wanted}
        if len(views) == len(wanted) and all(v["state"] in FINISHED for v in views.values()):
            return views
        return None

    try:
        result: dict[str, dict[str, Any]] = wait_until(finished, timeout, f"{len(ids)} jobs to finish", every=0.25)
    except AssertionError:
        states = {j["id"]: j["state"] for j in client.get("/v1/jobs", params={"limit": 500}).json()}
        raise AssertionError(f"jobs not finished in {timeout:g} s: {states}") from None
    return result


def assert_plan_checks_out(client: httpx.Client, view: dict[str, Any], problem: dict[str, Any]) -> None:
    """The stored plan passes the evaluator, with the cost the service reports."""
    r = client.get(f"/v1/plans/{view['plan_id']}")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["job_id"] == view["id"]
    ev = evaluate(load_problem(problem), load_plan(plan["plan"]))
    assert ev.feasible, (view["id"], [v.message for v in ev.violations][:5])
    assert plan["cost"] == money(ev.cost), (view["id"], ev.cost, plan["cost"])  # rounded to the cent on the wire


def submit(client: httpx.Client, problem: dict[str, Any], **options: Any) -> str:
    r = client.post("/v1/jobs", json={"problem": problem, "options": options})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


# ---------------------------------------------------------------------------------------------- tests


def test_fifty_concurrent_submissions_all_succeed_with_plans_that_check_out(
    database_url: str, servers: Servers, db: Engine
) -> None:
    server = servers.start(database_url, workers=2)
    problems = [example_problem("three-customers") for _ in range(10)] + [generate("tiny", seed)
                                                                         for seed in range(40)]
    bodies = [{"problem": p, "options": {"time_limit": 5, "seed": i}} for i, p in enumerate(problems)]

    async def submit_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=server.base, timeout=60, limits=limits) as c:
            return await asyncio.gather(*(c.post("/v1/jobs", json=b) for b in bodies))

    responses = asyncio.run(submit_all())
    assert [r.status_code for r in responses] == [202] * len(bodies), [r.text for r in responses
                                                                        if r.status_code != 202][:3]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == len(bodies)

    views = wait_all_finished(server.client, ids, timeout=400)
    not_ok = {i: (v["state"], v["reason"]) for i, v in views.items() if v["state"] != "succeeded"}
    assert not not_ok, not_ok
    for job_id, problem in zip(ids, problems, strict=True):
        assert_plan_checks_out(server.client, views[job_id], problem)

    rows = job_rows(db)
    assert len(rows) == len(bodies) and all(j.attempts == 1 for j in rows.values())
    assert plans_per_job(db) == dict.fromkeys(ids, 1)
    metrics = server.client.get("/metrics").text
    assert f'stockplan_jobs{{state="succeeded"}} {float(len(bodies))}' in metrics
    assert "dispatcher tick failed" not in server.log() and "Traceback" not in server.log()


def test_kill_9_of_the_server_loses_no_job_and_takes_its_workers_along(
    database_url: str, servers: Servers, db: Engine
) -> None:
    server = servers.start(database_url, workers=2, STOCKPLAN_MAX_ATTEMPTS="2")
    medium = example_problem("mixed-medium")
    small = [example_problem("three-customers"), generate("tiny", 1), generate("tiny", 2), generate("tiny", 3)]
    # mixed-medium runs into its 6 s limit (HiGHS takes tens of seconds to prove it): two solving, four queued.
    # One MIP in the worker itself (its 196 lines are above auto's threshold, which would decompose them).
    long_ids = [submit(server.client, medium, time_limit=6, explain=False, method="mip") for _ in range(2)]
    queued_ids = [submit(server.client, p, time_limit=5) for p in small]
    submitted = long_ids + queued_ids

    def solving() -> dict[str, int] | None:
        rows = job_rows(db)
        pids = {i: rows[i].worker_pid for i in long_ids if rows[i].state == "running" and rows[i].worker_pid}
        if len(pids) == 2 and all(solver_loaded(p) for p in pids.values() if p):
            return {i: int(p) for i, p in pids.items() if p}
        return None

    pids = wait_until(solving, 60, "both long jobs to be solving")
    stats = [proc_stat(p) for p in pids.values()]
    assert all(st is not None and st[1] == server.pid for st in stats), stats  # the server's own children
    time.sleep(1.0)  # into the search
    before = job_rows(db)
    assert {i for i, j in before.items() if j.state == "running"} == set(long_ids)
    assert all(before[i].state == "queued" for i in queued_ids)

    server.kill9()
    assert server.proc.returncode == -signal.SIGKILL
    wait_until(lambda: all(gone(p) for p in pids.values()), 15, f"the workers {sorted(pids.values())} to die")
    # The database still says what the dead server left: two running, the rest queued.
    assert {i: j.state for i, j in job_rows(db).items()} == {i: before[i].state for i in submitted}

    again = servers.start(database_url, workers=2, STOCKPLAN_MAX_ATTEMPTS="2")
    assert "after a restart" in again.log()
    views = wait_all_finished(again.client, submitted, timeout=180)
    rows = job_rows(db)
    assert sorted(rows) == sorted(submitted)  # none lost, none made up
    assert all(v["state"] in FINISHED for v in views.values())
    assert not [i for i, j in rows.items() if j.state in ("running", "queued")]
    assert all(n <= 1 for n in plans_per_job(db).values()), plans_per_job(db)
    for i in long_ids:
        assert rows[i].attempts == 2 or "restart" in (rows[i].reason or ""), (rows[i].attempts, rows[i].reason)
        assert rows[i].worker_pid not in pids.values()  # run again by a new worker
    for i in queued_ids:
        assert rows[i].attempts == 1
    # And in practice every one of them got its plan.
    assert {i: v["state"] for i, v in views.items()} == dict.fromkeys(submitted, "succeeded")
    for i, problem in zip(submitted, [medium, medium, *small], strict=True):
        assert_plan_checks_out(again.client, views[i], problem)
        assert rows[i].plan_id == views[i]["plan_id"]


def test_kill_9_while_a_worker_starts_up_takes_that_worker_along(servers: Servers, tmp_path: Path) -> None:
    """The same kill, a moment earlier: as soon as the server has spawned a worker (SQLite only: no DB part)."""
    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    server = servers.start(url, workers=1, STOCKPLAN_WARM_WORKERS="false")
    submit(server.client, example_problem("mixed-medium"), time_limit=10, explain=False)

    def spawned() -> list[int]:
        return [p for p in server.note_children() if "spawn_main" in cmdline(p)]

    (worker,) = wait_until(spawned, 30, "the worker process", every=0.005)
    server.kill9()
    try:
        wait_until(lambda: gone(worker), 10, f"the worker {worker} to die with its server")
    finally:
        if not gone(worker) and "multiprocessing" in cmdline(worker):
            os.kill(worker, signal.SIGKILL)


def test_cancel_of_a_running_job_keeps_its_best_plan_and_the_server_stays_healthy(
    database_url: str, servers: Servers, db: Engine
) -> None:
    server = servers.start(database_url, workers=1)
    medium = example_problem("mixed-medium")
    job_id = submit(server.client, medium, time_limit=30, method="mip")  # one MIP in the worker: a long solve

    def worker() -> int | None:
        row = job_rows(db)[job_id]
        pid = row.worker_pid if row.state == "running" else None
        return pid if pid and solver_loaded(pid) else None

    pid = wait_until(worker, 60, "the job to be solving")
    time.sleep(3.0)  # into the search
    r = server.client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 202 and r.json()["cancel_requested"] is True, r.text
    view = wait_all_finished(server.client, [job_id], timeout=30)[job_id]  # well before its time limit
    assert view["state"] == "canceled", view
    if view["plan_id"]:
        assert "best plan" in view["reason"]
        assert_plan_checks_out(server.client, view, medium)
    else:
        assert view["reason"]
    # A warm worker stays for the next job, but nothing it started for this one survives.
    wait_until(lambda: gone(pid) or group_members(pid) == [pid], 10, "the canceled job's processes to exit")
    assert server.client.delete(f"/v1/jobs/{job_id}").status_code == 409

    assert server.client.get("/healthz").status_code == 200
    assert server.client.get("/readyz").status_code == 200
    after = submit(server.client, example_problem("three-customers"), time_limit=5)
    view = wait_all_finished(server.client, [after], timeout=60)[after]
    assert view["state"] == "succeeded" and view["outcome"] == "optimal"
    assert server.proc.poll() is None and "Traceback" not in server.log()
