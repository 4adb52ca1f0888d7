"""`stockplan bench`: one run measures every method and writes the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import LP_ROWS, run


def test_report_measures_each_method_and_writes_markdown_json_and_plot(tmp_path: Path) -> None:
    records = run(["tiny"], [0, 1], ["greedy", "stockplan", "mip-highs"], {"tiny": 10}, tmp_path)
    assert len(records) == 6
    for seed in (0, 1):
        by = {r.method: r for r in records if r.seed == seed}
        assert by["greedy"].cost is not None and by["stockplan"].cost is not None
        assert by["stockplan"].cost <= by["greedy"].cost + 1e-6  # the solver starts from the greedy plan
        assert by["stockplan"].bound is not None and by["stockplan"].bound <= by["stockplan"].cost + 1e-6
        assert by["mip-highs"].gap_best is not None and by["mip-highs"].gap_best >= 0
        assert all(r.peak_mb > 10 for r in by.values())  # measured in the child process
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["records"]) == 6 and data["machine"]["cpus"] >= 1
    table = (tmp_path / "report.md").read_text()
    assert "| tiny | 10 | 10 | stockplan |" in table and "| tiny (seed 1) | 10 | 10 | greedy |" in table
    # The strengthenings' LP values of each problem, never above its best plan.
    lps = {(e["family"], e["seed"]): e for e in data["lp_values"]}
    for seed in (0, 1):
        best = min(r.cost for r in records if r.seed == seed and r.cost is not None)
        values = [lps["tiny", seed][name]["lp"] for name, _ in LP_ROWS]
        assert all(v is not None and v <= best + 1e-6 for v in values)
        assert values == sorted(values) or max(values) - min(values) < 1e-6  # each strengthening only tightens
    assert "| tiny | 0 | + R5 per-segment flows |" in table
    assert (tmp_path / "time_and_gap.png").read_bytes()[:4] == b"\x89PNG"


def test_cases_name_seeds_limits_and_methods() -> None:
    from benchmarks.report import DEFAULT_METHODS, Case, parse_cases

    assert parse_cases("small/0/5/all,small/1-4/60/greedy+stockplan,medium/0+2/60/stockplan") == [
        Case("small", (0,), 5.0, DEFAULT_METHODS), Case("small", (1, 2, 3, 4), 60.0, ("greedy", "stockplan")),
        Case("medium", (0, 2), 60.0, ("stockplan",)),
    ]


def test_the_report_measures_plans_against_the_best_known_plan_and_bound() -> None:
    from benchmarks.report import Record, known_table

    r = Record(family="small", seed=0, orders=1000, lines=1737, method="stockplan", status="time_limit",
               cost=102_531.40, bound=99_445.5, gap=0.03, build_seconds=0.1, solve_seconds=60, peak_mb=100,
               time_limit=60)
    other = Record(family="small", seed=3, orders=1000, lines=1700, method="stockplan", status="time_limit",
                   cost=1.0, bound=None, gap=None, build_seconds=0.1, solve_seconds=60, peak_mb=100, time_limit=60)
    table = known_table([r, other])
    assert "| small | 0 | 60 | stockplan | 102,531 | 101,516.24 | +1.00 % | 99,446 | 100,450 | 1.00 % |" in table
    assert "| small | 3 |" not in table  # no best known plan for that seed


def test_the_generator_still_makes_the_frozen_reference_instance() -> None:
    from benchmarks.generator import generate

    frozen = json.loads((Path(__file__).parents[2] / "benchmarks" / "reference" / "small0.json").read_text())
    assert generate("small", seed=0) == frozen


def test_bench_command_rejects_an_unknown_family(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from stockplan.api.cli import main; main()", "bench", "--families", "huge",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown family 'huge'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_plain_baseline_reports_its_own_result_never_the_greedy_plan(monkeypatch: Any) -> None:
    from benchmarks.report import plain_solve
    from stockplan.models.validation import load_problem
    from stockplan.solver import solve as solve_module
    from stockplan.solver.backends.base import BackendResult, Outcome, SolveOptions
    from tests.conftest import example

    problem = example("mixed-small")
    own = plain_solve(problem, SolveOptions(time_limit=30, gap=0.0), "pulp-cbc")
    # CBC through PuLP proves its optimum but gives no bound: without one, no plan is called optimal.
    assert own["status"] == "feasible" and own["bound"] is None and abs(own["cost"] - 2108.93) < 1e-6
    assert own["message"].startswith("pulp-cbc optimal")

    monkeypatch.setattr(solve_module, "run_backend", lambda *a, **k: BackendResult(
        Outcome.ERROR, None, None, None, 1.0, "Not Solved / No Solution Found"))
    none = plain_solve(load_problem(generate_tiny()), SolveOptions(time_limit=5), "pulp-cbc")
    assert none["status"] == "no solution" and none["cost"] is None and none["gap"] is None
    assert "Not Solved" in none["message"]


def generate_tiny() -> dict[str, Any]:
    from benchmarks.generator import generate

    return generate("tiny", seed=1)
