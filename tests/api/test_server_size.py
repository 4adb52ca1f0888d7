"""The real server with 1,000-order decomposition jobs: cancel and ``kill -9`` leave no solver process behind.

A decomposition job's warm worker forks part workers; they all share the
worker's process group. Cancel stops the whole group within moments and keeps
the best plan; a ``kill -9`` of the server takes every one of them along
(each dies with its parent), and after a restart every job is accounted for.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine

from stockplan.solver.processes import group_members
from tests.api.conftest import wait_until
from tests.api.test_server import (
    FINISHED,
    Servers,
    assert_plan_checks_out,
    children,
    db,  # noqa: F401  (a fixture)
    gone,
    job_rows,
    plans_per_job,
    servers,  # noqa: F401  (a fixture)
    submit,
    wait_all_finished,
)

pytestmark = pytest.mark.slow


def part_workers(worker: int) -> list[int]:
    """The processes a job's worker started for its parts (its process group, itself excluded)."""
    return [p for p in group_members(worker) if p != worker and not gone(p)]


def decomposing(engine: Engine, job_ids: list[str]) -> dict[str, int] | None:
    """Worker pid of each job once all of them run and have forked their part workers."""
    rows = job_rows(engine)
    pids = {i: rows[i].worker_pid for i in job_ids if rows[i].state == "running" and rows[i].worker_pid}
    if len(pids) == len(job_ids) and all(part_workers(int(p)) for p in pids.values() if p):
        return {i: int(p) for i, p in pids.items() if p}
    return None


def test_cancel_of_a_decomposition_job_ends_it_with_its_best_plan_within_3_s(
    database_url: str, servers: Servers, db: Engine, small_problem_data: dict[str, Any]  # noqa: F811
) -> None:
    server = servers.start(database_url, workers=1)
    job_id = submit(server.client, small_problem_data, time_limit=60)
    pids = wait_until(lambda: decomposing(db, [job_id]), 60, "the job to be solving its parts", every=0.05)
    worker = pids[job_id]
    parts = part_workers(worker)
    time.sleep(2.0)  # into the rounds
    asked = time.monotonic()
    r = server.client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 202, r.text
    view = wait_all_finished(server.client, [job_id], timeout=10)[job_id]
    assert time.monotonic() - asked <= 3.0, time.monotonic() - asked
    assert view["state"] == "canceled", view
    assert view["plan_id"] and "best plan" in view["reason"], view
    assert_plan_checks_out(server.client, view, small_problem_data)
    wait_until(lambda: all(gone(p) for p in parts), 3, f"the part workers {parts} to exit")
    assert not part_workers(worker)
    assert server.proc.poll() is None and "Traceback" not in server.log()


def test_kill_9_during_decomposition_jobs_leaves_no_solver_and_loses_no_job(
    database_url: str, servers: Servers, db: Engine, small_problem_data: dict[str, Any]  # noqa: F811
) -> None:
    server = servers.start(database_url, workers=2, STOCKPLAN_MAX_ATTEMPTS="2")
    ids = [submit(server.client, small_problem_data, time_limit=15, explain=False) for _ in range(3)]
    pids = wait_until(lambda: decomposing(db, ids[:2]), 90, "two jobs to be solving their parts", every=0.05)
    tree = set(children(server.pid))
    for worker in pids.values():
        tree |= set(group_members(worker))
    assert len(tree) >= 4, tree  # two warm workers and their part workers at least

    server.kill9()
    time.sleep(5.0)
    assert [p for p in tree if not gone(p)] == [], "solver processes outlived their server by 5 s"

    again = servers.start(database_url, workers=2, STOCKPLAN_MAX_ATTEMPTS="2")
    assert "after a restart" in again.log()
    views = wait_all_finished(again.client, ids, timeout=240)
    rows = job_rows(db)
    assert sorted(rows) == sorted(ids)  # none lost, none made up
    assert all(v["state"] in FINISHED for v in views.values())
    assert all(n <= 1 for n in plans_per_job(db).values())
    assert {i: v["state"] for i, v in views.items()} == dict.fromkeys(ids, "succeeded")
    for i in ids:
        assert_plan_checks_out(again.client, views[i], small_problem_data)
