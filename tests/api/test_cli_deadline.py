"""``stockplan solve`` keeps its time limit (issue 11): the whole solve runs in a child process group
that is killed past T + max(2 s, 5 % of T), with the greedy plan as the answer then.

Wall-clock assertions are the point here: they test the promise, not speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from stockplan.api import cli
from stockplan.models.plan import Plan
from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem
from stockplan.solver import solve as solve_module
from stockplan.solver.backends.base import SolveOptions
from stockplan.solver.evaluator import evaluate
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.processes import group_members
from stockplan.solver.solve import deadline_grace
from tests.api.test_cli import CLI, REPO, no_traceback, run
from tests.api.test_server import children, gone


@pytest.fixture(scope="session")
def small_file(tmp_path_factory: pytest.TempPathFactory, small_problem_data: dict[str, Any]) -> Path:
    """The small benchmark family, seed 0 (1,000 orders), as a problem file."""
    path = tmp_path_factory.mktemp("deadline") / "small.json"
    path.write_text(json.dumps(small_problem_data))
    return path


@pytest.mark.slow
def test_solve_returns_within_its_time_limit_and_grace(small_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    started = time.perf_counter()
    proc = run("solve", small_file, "--time-limit", "8", "--out", out)
    wall = time.perf_counter() - started
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert wall <= 8 + deadline_grace(8), wall
    plan = Plan.model_validate_json(out.read_text())
    ev = evaluate(load_problem(json.loads(small_file.read_text())), plan)
    assert ev.feasible and abs(ev.cost - plan.cost) <= 1e-6 * plan.cost
    assert plan.method == "decompose", plan.message  # the door a 1,000-order problem takes by default
    assert plan.report is not None and plan.report.pricing is not None  # explained within the same budget


def _problem(small_file: Path) -> Problem:
    return load_problem(json.loads(small_file.read_text()))


def test_an_overrunning_solve_is_killed_with_its_group_and_the_greedy_plan_returned(
    small_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "grandchild.pid"

    def stuck_solve(*args: Any, **kwargs: Any) -> Plan:
        # A solver process of its own (as the decomposition's pool), then no answer at all.
        grandchild = subprocess.Popen(["sleep", "120"])
        pid_file.write_text(str(grandchild.pid))
        time.sleep(120)
        raise AssertionError("not reached")

    monkeypatch.setattr(solve_module, "solve", stuck_solve)  # the forked solve process calls it
    problem = _problem(small_file)
    started = time.perf_counter()
    answer = cli.solve_within_deadline(problem, SolveOptions(time_limit=1.0), "highs", True, "auto", True, started)
    wall = time.perf_counter() - started
    assert wall <= 1.0 + deadline_grace(1.0), wall
    plan = answer.plan
    assert plan is not None and answer.status == plan.status == "time_limit"
    assert answer.plan_json is not None and "overran" in answer.summary
    assert "overran its 1 s limit" in plan.message and "greedy plan" in plan.message
    canonical = problem.canonical()
    assert plan.cost == pytest.approx(evaluate(canonical, greedy_plan(build_index(canonical))).cost)
    assert plan.report is not None and plan.report.pricing is not None
    assert plan.report.pricing.not_priced_for_time == plan.report.pricing.lines_chosen
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 2.0
    while not gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(grandchild)


def test_a_failing_solve_returns_the_greedy_plan_and_says_why(small_file: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_solve(*args: Any, **kwargs: Any) -> Plan:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(solve_module, "solve", broken_solve)
    answer = cli.solve_within_deadline(_problem(small_file), SolveOptions(time_limit=5.0), "highs", True, "auto",
                                       False, time.perf_counter())
    plan = answer.plan
    assert plan is not None and plan.status == "feasible"
    assert "RuntimeError: solver exploded" in plan.message and "greedy plan" in plan.message
    assert plan.report is None


def test_ctrl_c_stops_the_whole_solve(small_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TERM"}}
    parent = subprocess.Popen([*CLI, "solve", str(small_file), "--time-limit", "60"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        kids: list[int] = []
        while not kids and time.monotonic() < deadline:
            time.sleep(0.1)
            kids = children(parent.pid)
        assert kids, "the solve process did not start"
        (child,) = kids
        time.sleep(1.5)  # into the decomposition: its part workers are running
        members = group_members(child)
        assert child in members
        parent.send_signal(signal.SIGINT)
        parent.communicate(timeout=10)
        assert parent.returncode != 0
        deadline = time.monotonic() + 3
        while any(not gone(p) for p in members) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in members if not gone(p)]
        assert not group_members(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
