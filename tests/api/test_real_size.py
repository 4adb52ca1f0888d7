"""Every door at the size shops have: a generated 1,000-order problem through the API, batch and Dask.

Each solve goes to the decomposition (``method=auto`` above the single-MIP size),
comes back as a plan the evaluator accepts with the cost the service reports,
and within its time limit plus the promised grace (T + max(2 s, 5 %)).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from stockplan.api.batch import load_batch, run_batch, solve_item
from stockplan.api.executors import DaskExecutor, PoolExecutor
from stockplan.api.responses import money
from stockplan.models.plan import load_plan
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from tests.api.conftest import service_settings, wait_until
from tests.conftest import grace

pytestmark = pytest.mark.slow  # each test solves a 1,000-order problem for several seconds

LIMIT = 10.0
# Starting the run and storing its plan come on top of the solve itself.
STORE_SECONDS = 1.5


def assert_checked_plan(problem: dict[str, Any], plan: dict[str, Any]) -> None:
    ev = evaluate(load_problem(problem), load_plan(plan))
    assert ev.feasible, [v.message for v in ev.violations][:5]
    assert money(ev.cost) == money(plan["cost"])  # the service sends costs rounded to the cent
    assert plan["method"] == "decompose", plan.get("message")
    assert plan["status"] in ("time_limit", "feasible", "optimal")


def test_a_1000_order_problem_through_the_api_is_decomposed_and_back_in_time(
    database_url: str, small_problem_data: dict[str, Any]
) -> None:
    from fastapi.testclient import TestClient

    from stockplan.api.app import create_app

    with TestClient(create_app(service_settings(database_url, max_wait=60.0))) as c:
        r = c.post("/v1/jobs", json={"problem": small_problem_data, "options": {"time_limit": LIMIT}})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        def rounds_reported() -> dict[str, Any] | None:
            view: dict[str, Any] = c.get(f"/v1/jobs/{job_id}").json()
            prog = view.get("progress") or {}
            return view if view["state"] == "running" and prog.get("round") and prog.get("bound") else None

        # While it runs: the decomposition's round, the best cost so far, the bound and the gap.
        running = wait_until(rounds_reported, LIMIT + 5, "a round of the decomposition to be reported", every=0.1)
        prog = running["progress"]
        # A round of the decomposition, or a sweep of its moves over SKU groups after round 0.
        assert prog["phase"] in ("round", "lns") and prog["best_cost"] >= prog["bound"] > 0
        assert abs(prog["gap"] - (prog["best_cost"] - prog["bound"]) / prog["best_cost"]) < 1e-6
        metrics = c.get("/metrics").text
        assert f'stockplan_job_best_cost{{job="{job_id}",phase=' in metrics
        assert f'stockplan_job_gap{{job="{job_id}",phase=' in metrics

        r = c.post("/v1/jobs", params={"wait": 60}, json={"problem": small_problem_data,
                                                          "options": {"time_limit": LIMIT}})
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["state"] == "succeeded", (job["state"], job["reason"])
        started, finished = (dt.datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
        seconds = (finished - started).total_seconds()
        assert seconds <= LIMIT + grace(LIMIT) + STORE_SECONDS, seconds
        plan = job["plan"]["plan"]
        assert_checked_plan(small_problem_data, plan)
        assert plan["report"]["lines"], "the planner's report is part of the plan"
        assert job["progress"]["best_cost"] >= plan["objective"] - 1e-6
        first = c.get(f"/v1/jobs/{job_id}").json()
        assert first["state"] == "succeeded", first


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_1000_order_problem_through_batch_is_decomposed_and_back_in_time(
    executor: str, small_problem_data: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "problems"
    folder.mkdir()
    (folder / "small-0.json").write_text(json.dumps(small_problem_data))
    runner = PoolExecutor(1) if executor == "local" else DaskExecutor(workers=2)
    try:
        started = time.perf_counter()
        summary = run_batch(load_batch(folder), tmp_path / "out", runner, executor, 1,
                            {"time_limit": LIMIT, "explain": True}, f"sqlite:///{tmp_path / 'b.db'}")
        seconds = time.perf_counter() - started
    finally:
        runner.close()
    assert summary["problems"] == 1 and not summary.get("failed"), summary
    plan = json.loads((tmp_path / "out" / "plans" / "small-0.json").read_text())
    assert_checked_plan(small_problem_data, plan)
    # On Dask the parts are tasks of the cluster; on one machine, a pool of the solving process.
    assert ("on the Dask cluster" if executor == "dask" else "on a local pool") in plan["message"], plan["message"]
    assert plan["solve_seconds"] <= LIMIT + grace(LIMIT), plan["solve_seconds"]
    # The whole run: a worker's start-up (imports, a cluster) on top of the solve.
    assert seconds <= LIMIT + grace(LIMIT) + 15.0, seconds


def test_a_dask_worker_killed_while_it_solves_a_part_still_gives_the_plan(
    small_problem_data: dict[str, Any]
) -> None:
    cluster = DaskExecutor(workers=2)
    try:
        client = cluster.client
        handle = cluster.start(solve_item, small_problem_data,
                               {"time_limit": 15.0, "explain": False, "method": "decompose"})

        def worker_solving_a_part() -> str | None:
            for address, keys in client.processing().items():
                if any(str(k).startswith("solve_part") for k in keys):
                    return str(address)
            return None

        address = wait_until(worker_solving_a_part, 90, "a part to be solving on a worker", every=0.05)
        pid = client.run(os.getpid, workers=[address])[address]
        os.kill(pid, signal.SIGKILL)
        plan = handle.result()  # the part, or the whole solve if it ran there, is re-run elsewhere
    finally:
        cluster.close()
    assert_checked_plan(small_problem_data, plan)
