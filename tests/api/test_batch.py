"""``stockplan batch``: local pool and Dask give the same plans, lost workers, resume, what-if scenarios."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from stockplan.api.batch import BatchError, load_batch, run_batch
from stockplan.api.db import BatchRun, Job, PlanRow, make_engine, session_factory
from stockplan.api.executors import DaskExecutor, PoolExecutor
from stockplan.benchmarks.generator import generate
from stockplan.models.plan import load_plan
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from tests.api.conftest import example_problem

OPTIONS = {"time_limit": 30.0, "gap": 1e-9, "explain": False}
DECISIONS = ("shipments", "forecast_fills", "purchase_orders")


def problems_folder(folder: Path, n: int = 20) -> Path:
    folder.mkdir()
    for seed in range(n):
        (folder / f"region-{seed:02d}.json").write_text(json.dumps(generate("tiny", seed=seed)))
    return folder


def decisions(out: Path) -> dict[str, Any]:
    return {p.stem: {k: json.loads(p.read_text())[k] for k in DECISIONS} for p in sorted((out / "plans").glob("*"))}


def stored(database_url: str) -> dict[str, int]:
    """Plans in the service's store per problem name."""
    sessions = session_factory(make_engine(database_url))
    with sessions() as s:
        rows = s.execute(select(Job.scenario, func.count(PlanRow.id)).join(PlanRow, PlanRow.job_id == Job.id)
                         .where(Job.batch_id.is_not(None)).group_by(Job.scenario)).all()
    return {str(name): int(n) for name, n in rows}


def test_local_pool_and_dask_cluster_give_identical_plans(tmp_path: Path) -> None:
    source = problems_folder(tmp_path / "problems")
    items = load_batch(source)
    assert len(items) == 20
    pool = PoolExecutor(2)
    try:
        local = run_batch(items, tmp_path / "local", pool, "local", 2, OPTIONS, f"sqlite:///{tmp_path / 'a.db'}")
    finally:
        pool.close()
    dask = DaskExecutor(workers=2)
    try:
        remote = run_batch(items, tmp_path / "dask", dask, "dask", 20, OPTIONS, f"sqlite:///{tmp_path / 'b.db'}")
    finally:
        dask.close()
    assert local["by_status"] == remote["by_status"] == {"optimal": 20}
    assert decisions(tmp_path / "local") == decisions(tmp_path / "dask")
    assert abs(local["total_cost"] - remote["total_cost"]) < 1e-6
    # Every plan is a real plan: the evaluator agrees with its cost.
    for item in items[:5]:
        plan = json.loads((tmp_path / "local" / "plans" / f"{item.name}.json").read_text())
        ev = evaluate(load_problem(item.problem), load_plan(plan))
        assert ev.feasible and abs(ev.cost - plan["cost"]) < 1e-6
    # Recorded in the service's store, once each, with the run.
    assert stored(f"sqlite:///{tmp_path / 'a.db'}") == {i.name: 1 for i in items}
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    with sessions() as s:
        run = s.get(BatchRun, local["run"])
        assert run is not None and run.summary is not None and run.finished_at is not None


def test_a_dask_worker_killed_mid_run_loses_no_problem(tmp_path: Path) -> None:
    source = problems_folder(tmp_path / "problems")
    items = load_batch(source)
    dask = DaskExecutor(workers=2)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    killed: list[int] = []

    def kill_a_worker() -> None:
        # Once a few plans exist, SIGKILL one worker process; its nanny starts a new one.
        while len(list((tmp_path / "out" / "plans").glob("*.json"))) < 3:
            time.sleep(0.05)
        assert dask.cluster is not None
        pids = dask.client.run(os.getpid)
        pid = sorted(pids.values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    try:
        summary = run_batch(items, tmp_path / "out", dask, "dask", 20, {**OPTIONS, "explain": True}, url)
    finally:
        dask.close()
    killer.join(5)
    assert killed, "no worker was killed"
    assert summary["by_status"] == {"optimal": 20}
    assert sorted(p.stem for p in (tmp_path / "out" / "plans").glob("*.json")) == [i.name for i in items]
    assert stored(url) == {i.name: 1 for i in items}


def _cli(*args: str | Path) -> subprocess.Popen[str]:
    code = "from stockplan.api.cli import main; main()"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_resume_after_an_interrupt_solves_only_what_was_missing(tmp_path: Path) -> None:
    n = 40  # enough that an interrupt after the first 4 plans lands before the last (tiny problems solve fast)
    source = problems_folder(tmp_path / "problems", n)
    out, url = tmp_path / "out", f"sqlite:///{tmp_path / 'store.db'}"
    args = ("batch", source, "--out", out, "--workers", "1", "--time-limit", "30", "--database-url", url)
    first = _cli(*args)
    plans = out / "plans"
    deadline = time.monotonic() + 120
    while len(list(plans.glob("*.json"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)  # an interrupted nightly run (Ctrl-C)
    first.wait(60)
    time.sleep(0.5)
    before = {p.name: p.stat().st_mtime_ns for p in plans.glob("*.json")}
    assert 4 <= len(before) < n, before
    second = _cli(*args)
    _, stderr = second.communicate(timeout=600)
    assert second.returncode == 0, stderr
    after = {p.name: p.stat().st_mtime_ns for p in plans.glob("*.json")}
    assert len(after) == n
    assert all(after[name] == mtime for name, mtime in before.items())  # finished ones untouched
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] == len(before) and summary["by_status"] == {"optimal": n}
    assert stored(url) == {f"region-{k:02d}": 1 for k in range(n)}


def test_what_if_variations_are_solved_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps(example_problem("mixed-small")))
    manifest = {
        "base": "base.json",
        "variations": [
            {"name": "demand +20%", "demand": 1.2},
            {"name": "AG suppliers halved", "capacity": {"supplier": "SUP-1", "factor": 0.5}},
            {"name": "lead times doubled", "lead_time": {"factor": 2.0}},
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    items = load_batch(tmp_path / "manifest.json")
    assert [i.name for i in items] == ["base", "demand +20%", "AG suppliers halved", "lead times doubled"]
    demand = items[1].problem["orders"][0]["lines"][0]["quantity"]
    assert demand == max(1, round(example_problem("mixed-small")["orders"][0]["lines"][0]["quantity"] * 1.2))
    pool = PoolExecutor(2)
    try:
        summary = run_batch(items, tmp_path / "out", pool, "local", 2, {**OPTIONS, "explain": True}, None)
    finally:
        pool.close()
    assert summary["by_status"] == {"optimal": 4}
    base = next(r for r in summary["rows"] if r["name"] == "base")
    assert abs(base["cost"] - 2108.93) < 1e-6
    what_if = {w["name"]: w for w in summary["what_if"]}
    assert what_if["base"]["cost_delta"] == 0.0
    assert what_if["demand +20%"]["cost_delta"] > 0  # more to buy, or to lose
    assert what_if["lead times doubled"]["cost_delta"] >= -1e-6  # slower supply never helps
    for w in what_if.values():
        assert abs(sum(w["parts_delta"].values()) - w["cost_delta"]) < 1e-6
        assert w["service"]["fill_rate"] is not None
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "## What if (against the base)" in md and "demand +20%" in md


@pytest.mark.parametrize("content,message", [
    ({"problemz": []}, "manifest"),
    ({"base": "missing.json"}, "missing.json"),
    ({"base": "base.json", "variations": [{"name": "x", "demand": 1.1, "colour": "red"}]}, "colour"),
])
def test_bad_batch_inputs_are_named(tmp_path: Path, content: dict[str, Any], message: str) -> None:
    (tmp_path / "base.json").write_text(json.dumps(example_problem("three-customers")))
    (tmp_path / "m.json").write_text(json.dumps(content))
    with pytest.raises(BatchError, match=message):
        load_batch(tmp_path / "m.json")


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = _cli("batch", tmp_path / "empty", "--out", tmp_path / "out", "--no-store")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "no *.json" in stderr and "Traceback" not in stderr


def test_solve_item_caps_the_problems_own_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockplan.api import batch
    from stockplan.solver import solve as solve_module

    seen: list[Any] = []
    real = solve_module.solve

    def spy(problem: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(options)
        return real(problem, options, *args, **kwargs)

    monkeypatch.setattr(solve_module, "solve", spy)
    problem = example_problem("three-customers")
    problem["settings"]["time_limit"] = 86_400
    batch.solve_item(problem, {"max_time_limit": 20, "explain": False})
    batch.solve_item(problem, {"time_limit": 60.0, "explain": False})  # given: wins, even equal to the default
    problem["settings"]["time_limit"] = 5
    batch.solve_item(problem, {"time_limit": None, "max_time_limit": 20, "explain": False})
    assert [o.time_limit for o in seen] == [20.0, 60.0, 5.0]
