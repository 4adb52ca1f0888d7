"""Smoke tests of the service benchmarks (:mod:`benchmarks.service`): a tiny version of each measurement.

A real ``stockplan serve`` per worker mode (warm worker processes, and a fresh
process per job with ``STOCKPLAN_WARM_WORKERS=false``) on 127.0.0.1, a few tiny
jobs one after another, ten at once, and (marked ``slow``) one ``small`` solve at
T = 5 s through each door. What is asserted is correctness — every job succeeds
and its plan passes the evaluator — never speed: the numbers are only printed (shown
with ``-rA``) and recorded (``record_property``, in a ``--junitxml`` report). The real run is::

    python -m benchmarks.service --out benchmarks/results
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generator import generate
from benchmarks.service import parse_overrun
from benchmarks.service_measure import (
    DOORS,
    Overrun,
    allowed_overrun,
    measure_api_solve_overrun,
    measure_cli_solve_overrun,
    measure_concurrent_throughput,
    measure_python_solve_overrun,
    measure_submit_to_finished_latency,
    tiny_problems,
)
from benchmarks.service_report import percentiles, write_service_report
from benchmarks.service_server import ServiceProcess

LATENCY_JOBS = 5
CONCURRENT_JOBS = 10
OVERRUN_FAMILY, OVERRUN_TIME_LIMIT = "small", 5.0


def report(record_property: Callable[[str, Any], None], name: str, value: Any) -> None:
    """A measured number: printed and recorded, never asserted."""
    print(f"{name}: {value}")
    record_property(name, value)


@pytest.fixture(scope="module")
def server_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], ServiceProcess]]:
    """``server_of("warm" | "cold")``: one server per mode for the module, started when first asked for."""
    started: dict[str, ServiceProcess] = {}

    def get(mode: str) -> ServiceProcess:
        if mode not in started:
            server = ServiceProcess(tmp_path_factory.mktemp(f"service-{mode}"), warm=mode == "warm", workers=2)
            started[mode] = server.__enter__()
        return started[mode]

    try:
        yield get
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_latency_of_tiny_jobs_one_after_another(
    server_of: Callable[[str], ServiceProcess], record_property: Callable[[str, Any], None], mode: str
) -> None:
    server = server_of(mode)
    samples = measure_submit_to_finished_latency(server, tiny_problems(100, LATENCY_JOBS),
                                                 warmup=tiny_problems(0, 1), job_timeout=120.0)
    assert len(samples) == LATENCY_JOBS
    assert [s.state for s in samples] == ["succeeded"] * LATENCY_JOBS, [(s.state, s.reason) for s in samples]
    assert all(s.feasible for s in samples), [s.job_id for s in samples if not s.feasible]
    assert all(s.outcome in ("optimal", "feasible", "time_limit") for s in samples)
    assert all(s.seconds > 0 and s.run_seconds is not None and s.run_seconds >= 0 for s in samples)
    report(record_property, f"latency_seconds_{mode}", percentiles([s.seconds for s in samples]))


@pytest.mark.parametrize("mode", ["warm", pytest.param("cold", marks=pytest.mark.slow)])
def test_throughput_of_concurrent_tiny_jobs(
    server_of: Callable[[str], ServiceProcess], record_property: Callable[[str, Any], None], mode: str
) -> None:
    server = server_of(mode)
    problems = tiny_problems(1_000, CONCURRENT_JOBS)
    tp = measure_concurrent_throughput(server, problems, timeout=300.0)
    assert tp.jobs == CONCURRENT_JOBS
    assert len({s.job_id for s in tp.samples}) == CONCURRENT_JOBS
    assert [s.state for s in tp.samples] == ["succeeded"] * CONCURRENT_JOBS, [(s.state, s.reason)
                                                                               for s in tp.samples]
    assert all(s.feasible for s in tp.samples)
    report(record_property, f"jobs_per_second_{mode}", round(tp.jobs_per_second, 3))


@pytest.fixture(scope="module")
def small_problem_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    data = generate(OVERRUN_FAMILY, 0)
    path = tmp_path_factory.mktemp("overrun") / f"{OVERRUN_FAMILY}-0.json"
    path.write_text(json.dumps(data))
    return path, data


@pytest.mark.slow
@pytest.mark.parametrize("door", DOORS)
def test_overrun_of_a_small_solve_through_each_door(
    server_of: Callable[[str], ServiceProcess], small_problem_file: tuple[Path, dict[str, Any]],
    record_property: Callable[[str, Any], None], tmp_path: Path, door: str,
) -> None:
    path, data = small_problem_file
    orders = len(data["orders"])
    if door == "python":
        r = measure_python_solve_overrun(path, OVERRUN_FAMILY, orders, OVERRUN_TIME_LIMIT)
    elif door == "cli":
        r = measure_cli_solve_overrun(path, OVERRUN_FAMILY, orders, OVERRUN_TIME_LIMIT, tmp_path)
    else:
        r = measure_api_solve_overrun(server_of("warm"), data, OVERRUN_FAMILY, OVERRUN_TIME_LIMIT)
    assert r.status in ("optimal", "feasible", "time_limit"), r.message
    assert r.feasible, r.message
    assert r.cost is not None and r.cost > 0
    assert r.seconds > 0
    report(record_property, f"overrun_seconds_{door}", round(r.overrun, 3))


def test_the_report_has_every_table_and_the_json_everything(tmp_path: Path) -> None:
    """The report writer on made-up numbers: no server, no solver."""
    sample = {"job_id": "j", "state": "succeeded", "outcome": "optimal", "seconds": 0.2, "queued_seconds": 0.01,
              "run_seconds": 0.15, "plan_id": "p", "feasible": True, "cost": 10.0, "reason": None}
    latency = {"client": percentiles([0.2, 0.25, 0.4]), "server_run": percentiles([0.15]),
               "server_queue": percentiles([0.01]), "succeeded": 3, "feasible": 3, "samples": [sample]}
    throughput = {"jobs": 40, "seconds": 5.0, "server_seconds": 4.8, "jobs_per_second": 8.0, "succeeded": 40,
                  "feasible": 40, "samples": []}
    kept = Overrun("python", "small", 1000, 5.0, seconds=6.5, status="time_limit", feasible=True, cost=1.0)
    broken = Overrun("api", "small", 1000, 5.0, seconds=7.5, status="time_limit", feasible=True, cost=1.0,
                     client_seconds=7.9, accept_seconds=0.3, queued_seconds=0.01)
    result = {
        "machine": {"cpus": 2, "platform": "Linux-x", "python": "3.11.7", "when": "2026-12-01 10:00"},
        "git": {"commit": "abc1234", "dirty": True, "changed_files": 3},
        "settings": {"workers": 2, "latency_jobs": 3, "warmup_jobs": 1, "throughput_jobs": 40,
                     "tiny_time_limit": 5.0, "overrun": {"small": [5.0]}, "doors": ["python", "api"]},
        "latency": {"warm": latency, "cold": latency | {"client": percentiles([1.0, 1.2, 2.0])}},
        "throughput": {"warm": throughput, "cold": throughput | {"jobs_per_second": 2.0}},
        "overrun": [vars(r) | {"overrun": r.overrun, "allowed": r.allowed, "kept": r.kept, "client_kept": r.client_kept}
                    for r in (kept, broken)],
    }
    write_service_report(result, tmp_path)
    md = (tmp_path / "service.md").read_text()
    assert md.startswith("Machine: 2 cores, Linux-x, Python 3.11.7. Commit abc1234 (dirty, 3 files changed).")
    assert "| warm | 3 | 3, 3 | 0.250 |" in md and "Warm / cold: p50 0.21" in md
    assert "| warm | 40 | 40, 40 | 5.00 | 8.00 | 4.80 |" in md and "4.00× the jobs/s" in md
    assert "| tiny job p50 ≤ 0.3 s | 0.250 s | met |" in md and "| ≥ 5 tiny jobs/s | 8.00 jobs/s | met |" in md
    assert "| small | 1,000 | 5 | python | 6.50 | +1.50 | 2.0 | kept |" in md
    assert "| small | 1,000 | 5 | api | 7.50 | +2.50 | 2.0 | BROKEN |" in md and "| 7.90 (BROKEN; POST 0.30) |" in md
    assert "| small | 1,000 | 5 | python | 6.50 | +1.50 | 2.0 | kept | time_limit | yes | 1 | — |" in md
    assert json.loads((tmp_path / "service.json").read_text()) == result


def test_the_promise_and_the_overrun_option() -> None:
    assert [allowed_overrun(t) for t in (5, 30, 60, 300)] == [2.0, 2.0, 3.0, 15.0]
    assert parse_overrun("small=5,10,30 medium=30,60") == {"small": (5.0, 10.0, 30.0), "medium": (30.0, 60.0)}
    assert parse_overrun("none") == {}
