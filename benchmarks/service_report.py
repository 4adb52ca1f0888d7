"""The report of the service benchmarks: percentiles, the git state, ``service.md`` and ``service.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The issue's targets for tiny jobs with warm workers.
TARGET_P50_SECONDS = 0.3
TARGET_JOBS_PER_SECOND = 5.0


def percentiles(values: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95 (linear interpolation), mean and max of ``values`` (seconds)."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "mean": float(a.mean()), "max": float(a.max())}


def _s(value: float | None, pattern: str = ".3f") -> str:
    return "—" if value is None or value != value else format(value, pattern)


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}"


def machine_line(result: dict[str, Any]) -> str:
    """Cores, platform, Python, commit (dirty or clean) and when: the report's first line."""
    m, g = result["machine"], result["git"]
    tree = f"dirty, {g['changed_files']} files changed" if g["dirty"] else "clean"
    return (f"Machine: {m['cpus']} cores, {m['platform']}, Python {m['python']}. "
            f"Commit {g['commit']} ({tree}). {m['when']}.")


def write_service_report(result: dict[str, Any], out: Path) -> None:
    """Write ``service.json`` (everything, samples included) and ``service.md`` (the tables) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "service.json").write_text(json.dumps(result, indent=1) + "\n")
    st = result["settings"]
    lat, tp = result["latency"], result["throughput"]
    lines = [machine_line(result), ""]
    if lat or tp:
        lines += [f"Server: `stockplan serve`, SQLite, {st['workers']} workers, 127.0.0.1; tiny jobs (10 orders) "
                  f"with time_limit {st['tiny_time_limit']:g} s; warm = warm worker processes (default), cold = "
                  "`STOCKPLAN_WARM_WORKERS=false` (a fresh process per job).", ""]
    if lat:
        lines += [f"Latency: `POST /v1/jobs?wait=30`, one job after another, submit to finished on the client "
                  f"({st['warmup_jobs']} warm-up jobs first; the server checks a waited-for job every 0.05 s, so "
                  "latencies come in steps of about 0.05 s). Server run: the job's started_at to finished_at. "
                  "Seconds.", "",
                  "| workers | jobs | succeeded, feasible | p50 | p95 | mean | max | server run p50 | "
                  "server queue p50 |", "|---|---|---|---|---|---|---|---|---|"]
        for mode, m in lat.items():
            c = m["client"]
            lines.append(f"| {mode} | {c['n']} | {m['succeeded']}, {m['feasible']} | {_s(c.get('p50'))} | "
                         f"{_s(c.get('p95'))} | {_s(c.get('mean'))} | {_s(c.get('max'))} | "
                         f"{_s(m['server_run'].get('p50'))} | {_s(m['server_queue'].get('p50'))} |")
        if "warm" in lat and "cold" in lat:
            w, c = lat["warm"]["client"], lat["cold"]["client"]
            lines += ["", f"Warm / cold: p50 {_ratio(w.get('p50'), c.get('p50'))}, "
                          f"p95 {_ratio(w.get('p95'), c.get('p95'))}."]
        lines.append("")
    if tp:
        lines += ["Throughput: jobs submitted at once (`httpx.AsyncClient`, `asyncio.gather`), until "
                  "`GET /v1/jobs?limit=500` shows all finished.", "",
                  "| workers | jobs | succeeded, feasible | seconds | jobs/s | server seconds (first created to last "
                  "finished) |", "|---|---|---|---|---|---|"]
        for mode, m in tp.items():
            lines.append(f"| {mode} | {m['jobs']} | {m['succeeded']}, {m['feasible']} | {_s(m['seconds'], '.2f')} | "
                         f"{_s(m['jobs_per_second'], '.2f')} | {_s(m['server_seconds'], '.2f')} |")
        if "warm" in tp and "cold" in tp:
            lines += ["", "Warm / cold: "
                          f"{_ratio(tp['warm']['jobs_per_second'], tp['cold']['jobs_per_second'])}× the jobs/s."]
        lines.append("")
    if "warm" in lat or "warm" in tp:
        lines += ["| target (warm workers) | measured | |", "|---|---|---|"]
        if "warm" in lat:
            p50 = lat["warm"]["client"].get("p50")
            met = p50 is not None and p50 <= TARGET_P50_SECONDS
            lines.append(f"| tiny job p50 ≤ {TARGET_P50_SECONDS:g} s | {_s(p50)} s | {'met' if met else 'not met'} |")
        if "warm" in tp:
            jps = tp["warm"]["jobs_per_second"]
            met = jps >= TARGET_JOBS_PER_SECOND
            lines.append(f"| ≥ {TARGET_JOBS_PER_SECOND:g} tiny jobs/s | {_s(jps, '.2f')} jobs/s | "
                         f"{'met' if met else 'not met'} |")
        lines.append("")
    if result["overrun"]:
        lines += ["Wall-clock overrun: returned minus the time limit T, against the promise T + max(2 s, 5 % of T). "
                  "python: the `solve(..., explain=True)` call; cli: `stockplan solve FILE --time-limit T --out "
                  "plan.json` as a subprocess (interpreter start-up included); api: the job's finished_at − "
                  "started_at (client: submit to finished).", "",
                  "| family | orders | T s | door | returned s | overrun s | allowed s | promise | status | "
                  "feasible | cost | api: submit to finished s (promise; the POST's own s) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in result["overrun"]:
            feasible = "—" if r["feasible"] is None else ("yes" if r["feasible"] else "NO")
            client = _s(r["client_seconds"], ".2f")
            if r.get("client_kept") is not None:
                post = f"; POST {r['accept_seconds']:.2f}" if r.get("accept_seconds") is not None else ""
                client += f" ({'kept' if r['client_kept'] else 'BROKEN'}{post})"
            lines.append(
                f"| {r['family']} | {r['orders']:,} | {r['time_limit']:g} | {r['door']} | {_s(r['seconds'], '.2f')} | "
                f"{_s(r['overrun'], '+.2f')} | {r['allowed']:.1f} | {'kept' if r['kept'] else 'BROKEN'} | "
                f"{r['status']} | {feasible} | {_s(r['cost'], ',.0f')} | {client} |")
        lines.append("")
    (out / "service.md").write_text("\n".join(lines))
