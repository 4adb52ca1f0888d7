"""benchmarks.auto_threshold: references, winners and the threshold rule, without solving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.auto_threshold import (
    Run,
    choose_threshold,
    compare,
    markdown,
    orders_for,
    resummarise,
    summarise,
    write,
)


def _run(size: int, seed: int, method: str, limit: float, cost: float | None, lines: int | None = None) -> Run:
    return Run(size=size, seed=seed, orders=size // 2, lines=lines or size, method=method, time_limit=limit,
               status="feasible" if cost is not None else "error", cost=cost, bound=None, gap=None,
               wall_seconds=limit, load_before=0.0)


def _runs() -> list[Run]:
    runs = []
    for seed in (0, 1):
        for limit in (5.0, 20.0):
            # 100 lines: mip best at both limits; 200: tie at 20 s, mip ahead at 5 s;
            # 300: decompose ahead at 5 s only; 400: mip has no plan at 5 s.
            runs += [_run(100, seed, "mip", limit, 100.0, 99 + seed), _run(100, seed, "decompose", limit, 101.0,
                                                                           99 + seed)]
            runs += [_run(200, seed, "mip", limit, 200.0), _run(200, seed, "decompose", limit,
                                                               200.0 if limit == 20 else 210.0)]
            runs += [_run(300, seed, "mip", limit, 330.0 if limit == 5 else 300.0), _run(300, seed, "decompose",
                                                                                      limit, 300.0)]
            runs += [_run(400, seed, "mip", limit, None if limit == 5 else 400.0), _run(400, seed, "decompose",
                                                                                     limit, 400.0)]
    return runs


def test_each_run_is_compared_with_the_best_cost_found_on_its_problem() -> None:
    runs = _runs()
    compare(runs)
    by = {(r.size, r.seed, r.method, r.time_limit): r.above_best for r in runs}
    assert by[(100, 0, "mip", 5.0)] == 0.0 and by[(100, 0, "decompose", 5.0)] == pytest.approx(0.01)
    assert by[(300, 1, "mip", 5.0)] == pytest.approx(0.1)
    assert by[(400, 0, "mip", 5.0)] is None


def test_the_threshold_is_the_largest_size_where_mip_holds_at_every_limit() -> None:
    runs = _runs()
    compare(runs)
    rows = summarise(runs)
    assert [r["by_limit"][5.0]["winner"] for r in rows] == ["mip", "mip", "decompose", "decompose"]
    assert [r["by_limit"][20.0]["winner"] for r in rows] == ["mip", "tie", "tie", "tie"]
    assert rows[3]["by_limit"][5.0]["mip"] == float("inf")  # no plan: infinitely worse
    choice = choose_threshold(rows)
    assert choice == {"threshold": 200, "size": 200, "rule": "every limit", "mip_sizes": [100, 200],
                      "some_limit_sizes": [100, 200, 300, 400], "contiguous": True}
    # The threshold covers every problem of the size: the largest line count among its seeds.
    assert choose_threshold(rows[:1])["threshold"] == 100
    # Decompose wins everywhere at some limit: the smallest size where mip still won at one.
    fallback = choose_threshold(rows[2:])
    assert fallback["rule"] == "fallback" and fallback["threshold"] == 300 and fallback["mip_sizes"] == []
    never = [r | {"by_limit": {t: v | {"winner": "decompose"} for t, v in r["by_limit"].items()}} for r in rows]
    assert choose_threshold(never)["threshold"] == 0 and choose_threshold(never)["rule"] == "never"
    header: dict[str, Any] = {"machine": {"cpus": 2, "platform": "Linux", "python": "3.11", "when": "now"},
                              "git": {"commit": "abc1234", "dirty": False, "changed_files": 0},
                              "seeds": [0, 1], "time_limits": [5.0, 20.0]}
    text = markdown(runs, rows, choice, header)
    assert text.startswith("Commit abc1234 (clean tree); machine: 2 cores")
    assert "| 99/100 | 0.00 | 1.00 | mip | 0.00 | 1.00 | mip |" in text
    assert "| 400/400 | no plan | 0.00 | decompose | 0.00 | 0.00 | tie |" in text
    assert "threshold 200." in text


def test_the_report_can_be_re_derived_from_its_stored_runs(tmp_path: Path) -> None:
    header: dict[str, Any] = {"machine": {"cpus": 2, "platform": "Linux", "python": "3.11", "when": "now"},
                              "git": {"commit": "abc1234", "dirty": False, "changed_files": 0},
                              "seeds": [0, 1], "time_limits": [5.0, 20.0]}
    first = write(_runs(), header, tmp_path)
    again = resummarise(tmp_path / "auto_threshold.json", tmp_path / "again")
    assert again["choice"] == first["choice"] and again["runs"] == first["runs"]
    assert again["git"]["commit"] == "abc1234" and "summarised_by" in again
    text = (tmp_path / "again" / "auto_threshold.md").read_text()
    assert text.startswith("Commit abc1234") and "re-derived from the stored runs" in text


def test_orders_are_chosen_to_match_the_target_line_count() -> None:
    orders, lines = orders_for(100, 0)
    assert abs(lines - 100) <= 5 and 40 < orders < 80
