"""Benchmarks of the service's doors: API latency and throughput, and wall-clock overrun per door.

Three measurements, reported and never asserted (the machines are shared and noisy):

* **Latency of tiny jobs** — a real ``stockplan serve`` (uvicorn, SQLite, 2 workers)
  on 127.0.0.1; ``tiny`` generated problems submitted one after another through
  ``POST /v1/jobs?wait=30`` with ``{"time_limit": 5}``. Per job: submit-to-finished
  wall time on the client. p50 and p95 after a few warm-up jobs, with warm worker
  processes (the default) and with a fresh process per job
  (``STOCKPLAN_WARM_WORKERS=false``, the baseline), in the same run.
* **Throughput** — many tiny jobs submitted at once (``httpx.AsyncClient``,
  ``asyncio.gather``), time until ``GET /v1/jobs`` shows all finished: jobs per second,
  warm and cold.
* **Wall-clock overrun** — generated ``small`` and ``medium`` problems at several time
  limits T, through each door: Python ``solve(problem, SolveOptions(time_limit=T),
  explain=True)`` (in a fresh process, the call timed), the CLI ``stockplan solve FILE
  --time-limit T --out plan.json`` (the subprocess's wall time) and the API (the job's
  ``finished_at - started_at``, and submit-to-finished on the client). The promise is a
  return within T + max(2 s, 5 % of T); each row says whether it was kept.

Every plan is checked by the evaluator (:func:`stockplan.solver.evaluator.evaluate`);
every loop has a count and a timeout; servers bind 127.0.0.1 only and are stopped,
with the worker processes they started, when a measurement ends.

Command line (about 10 minutes on 2 cores; writes ``service.md`` and ``service.json``)::

    python -m benchmarks.service --out benchmarks/results
    python -m benchmarks.service --latency-jobs 10 --throughput-jobs 10 --overrun small=5 --out /tmp/svc

The parts: :mod:`benchmarks.service_server` (the server process),
:mod:`benchmarks.service_measure` (the measurements) and :mod:`benchmarks.service_report`
(percentiles and the report writer); this module runs them and is the command line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .report import git_state, machine
from .service_measure import (
    DOORS,
    TINY_TIME_LIMIT,
    measure_concurrent_throughput,
    measure_overruns,
    measure_submit_to_finished_latency,
    tiny_problems,
)
from .service_report import percentiles, write_service_report
from .service_server import ServiceProcess

#: Seeds of the tiny problems: warm-up jobs, measured latency jobs and throughput jobs draw from disjoint ranges.
WARMUP_SEEDS_FROM, LATENCY_SEEDS_FROM, THROUGHPUT_SEEDS_FROM = 0, 100, 1_000
#: Family -> time limits (seconds) of the overrun measurement.
DEFAULT_OVERRUN: dict[str, tuple[float, ...]] = {"small": (5.0, 10.0, 30.0), "medium": (30.0, 60.0)}
MODES = ("warm", "cold")


# ---------------------------------------------------------------------------------------------- the run


def run_service_benchmarks(
    out: Path, latency_jobs: int = 40, warmup_jobs: int = 3, throughput_jobs: int = 40, workers: int = 2,
    modes: Sequence[str] = MODES, overrun: dict[str, Sequence[float]] | None = None, doors: Sequence[str] = DOORS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure latency and throughput per mode, then the overruns; write ``service.md`` and ``service.json``.

    Parameters
    ----------
    out : Path
        Directory of the two reports (created).
    latency_jobs, warmup_jobs : int
        Tiny jobs measured one after another, after this many warm-up jobs (per mode).
    throughput_jobs : int
        Tiny jobs submitted at once (per mode); 0 skips the throughput measurement.
    workers : int
        The servers' ``--workers``.
    modes : sequence of str
        ``warm`` (warm worker processes) and/or ``cold`` (``STOCKPLAN_WARM_WORKERS=false``).
    overrun : dict, optional
        Family -> time limits of the overrun measurement (default :data:`DEFAULT_OVERRUN`; empty: none).
    doors : sequence of str
        Doors of the overrun measurement: ``python``, ``cli``, ``api``.
    progress : callable, optional
        Called with a line saying what is measured next.

    Returns
    -------
    dict
        What ``service.json`` holds.
    """
    say = progress or (lambda _line: None)
    limits: dict[str, Sequence[float]] = dict(DEFAULT_OVERRUN if overrun is None else overrun)
    repo = Path(__file__).resolve().parents[1]
    result: dict[str, Any] = {
        "machine": machine(), "git": git_state(repo),
        "settings": {"workers": workers, "latency_jobs": latency_jobs, "warmup_jobs": warmup_jobs,
                     "throughput_jobs": throughput_jobs, "tiny_time_limit": TINY_TIME_LIMIT,
                     "overrun": {k: list(v) for k, v in limits.items()}, "doors": list(doors)},
        "latency": {}, "throughput": {}, "overrun": [],
    }
    warmup = tiny_problems(WARMUP_SEEDS_FROM, warmup_jobs)
    measured = tiny_problems(LATENCY_SEEDS_FROM, latency_jobs)
    concurrent = tiny_problems(THROUGHPUT_SEEDS_FROM, throughput_jobs)
    with tempfile.TemporaryDirectory(prefix="stockplan-service-bench-") as tmp:
        for mode in modes if latency_jobs or throughput_jobs else ():
            workdir = Path(tmp) / mode
            workdir.mkdir()
            with ServiceProcess(workdir, warm=mode == "warm", workers=workers) as server:
                if latency_jobs:
                    say(f"latency: {latency_jobs} tiny jobs one after another, {mode} workers")
                    samples = measure_submit_to_finished_latency(server, measured, warmup)
                    result["latency"][mode] = {
                        "client": percentiles([s.seconds for s in samples]),
                        "server_run": percentiles([s.run_seconds for s in samples if s.run_seconds is not None]),
                        "server_queue": percentiles([s.queued_seconds for s in samples
                                                     if s.queued_seconds is not None]),
                        "succeeded": sum(s.state == "succeeded" for s in samples),
                        "feasible": sum(bool(s.feasible) for s in samples),
                        "samples": [asdict(s) for s in samples],
                    }
                if throughput_jobs:
                    say(f"throughput: {throughput_jobs} tiny jobs at once, {mode} workers")
                    tp = measure_concurrent_throughput(server, concurrent)
                    result["throughput"][mode] = {
                        "jobs": tp.jobs, "seconds": tp.seconds, "server_seconds": tp.server_seconds,
                        "jobs_per_second": tp.jobs_per_second,
                        "succeeded": sum(s.state == "succeeded" for s in tp.samples),
                        "feasible": sum(bool(s.feasible) for s in tp.samples),
                        "samples": [asdict(s) for s in tp.samples],
                    }
        if limits and doors:
            overrun_dir = Path(tmp) / "overrun"
            overrun_dir.mkdir()
            records = measure_overruns(limits, doors, overrun_dir, workers=workers, progress=say)
            result["overrun"] = [asdict(r) | {"overrun": r.overrun, "allowed": r.allowed, "kept": r.kept,
                                              "client_kept": r.client_kept} for r in records]
    write_service_report(result, out)
    return result


# ---------------------------------------------------------------------------------------------- command line


def parse_overrun(text: str) -> dict[str, tuple[float, ...]]:
    """``"small=5,10,30 medium=30,60"`` (or ``none``) -> {family: time limits}."""
    if text.strip().lower() in ("", "none"):
        return {}
    limits = {}
    for part in text.replace(";", " ").split():
        family, _, values = part.partition("=")
        if not values:
            raise argparse.ArgumentTypeError(f"expected family=seconds,...; got {part!r}")
        limits[family.strip()] = tuple(float(v) for v in values.split(","))
    return limits


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="directory of the reports")
    parser.add_argument("--latency-jobs", type=int, default=40, help="tiny jobs one after another (per mode)")
    parser.add_argument("--warmup-jobs", type=int, default=3, help="unmeasured jobs first (per mode)")
    parser.add_argument("--throughput-jobs", type=int, default=40, help="tiny jobs at once (per mode); 0: none")
    parser.add_argument("--workers", type=int, default=2, help="the servers' --workers")
    parser.add_argument("--modes", default="warm,cold", help="warm and/or cold (STOCKPLAN_WARM_WORKERS=false)")
    parser.add_argument("--overrun", type=parse_overrun, default=DEFAULT_OVERRUN,
                        help="family=T,T,... per family, space-separated, or none "
                             "(default: small=5,10,30 medium=30,60)")
    parser.add_argument("--doors", default=",".join(DOORS), help="doors of the overrun: python,cli,api")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    doors = [d for d in args.doors.split(",") if d]
    if not set(modes) <= set(MODES) or not set(doors) <= set(DOORS):
        parser.error(f"--modes takes {','.join(MODES)}, --doors {','.join(DOORS)}")
    if not 0 <= args.throughput_jobs <= 500 or args.latency_jobs < 0 or args.warmup_jobs < 0:
        parser.error("job counts: latency and warm-up ≥ 0, throughput 0 to 500")
    began = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {line}", flush=True)

    run_service_benchmarks(args.out, latency_jobs=args.latency_jobs, warmup_jobs=args.warmup_jobs,
                           throughput_jobs=args.throughput_jobs, workers=args.workers, modes=modes,
                           overrun=args.overrun, doors=doors, progress=say)
    print((args.out / "service.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
