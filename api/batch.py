"""Batch planning runs: many problems, or one base problem and its what-if variations, solved side by side.

``stockplan batch INPUT --out DIR`` reads a folder of problem files or a manifest,
solves them concurrently on an executor (:mod:`stockplan.api.executors`: local
processes, or Dask), and writes ``DIR/plans/<name>.json`` per problem plus
``DIR/summary.json`` and ``DIR/summary.md``. The run and its plans are also
recorded in the service's database (a job and a plan per problem, the problem's
name as scenario), so planners review them in the same place.

* **Resume.** ``DIR/run.json`` names the run; started again on the same ``DIR`` it
  solves only the problems without a plan file.
* **Lost workers.** A task whose local process dies is started again (twice at
  most); Dask re-runs a lost worker's tasks elsewhere by itself. A problem's plan
  is stored once per run whatever happens (a unique index on run and name).
* **Manifest.** ``{"problems": ["a.json", {"name": "eu", "path": "b.json"}],
  "base": "p.json", "variations": [{"name": "demand +20%", "demand": 1.2},
  {"name": "SUP-1 halved", "capacity": {"supplier": "SUP-1", "factor": 0.5}},
  {"name": "lead x2", "lead_time": {"factor": 2.0}}]}`` — paths relative to the
  manifest; the base is solved too, as ``base``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from stockplan.api.db import BatchRun, Job, JobState, PlanRow, make_engine, migrate, new_id, now, session_factory
from stockplan.api.executors import Executor, Handle, TaskFailed
from stockplan.api.review_index import index_plan
from stockplan.models.validation import load_problem

RETRIES = 2  # a task whose process dies is started again this many times


class BatchError(ValueError):
    """A batch input that cannot be read (the CLI prints it and exits 2)."""


@dataclass
class BatchItem:
    name: str
    problem: dict[str, Any]
    variation: str | None = None  # set for what-if variations of a base problem


# ---------------------------------------------------------------------------------------------- input


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchError(f"{path}: {exc}") from None


def load_batch(source: Path) -> list[BatchItem]:
    """The problems of a folder (every ``*.json``, by name) or of a manifest file."""
    if source.is_dir():
        files = sorted(source.glob("*.json"))
        if not files:
            raise BatchError(f"{source}: no *.json problem files")
        return [BatchItem(f.stem, _read(f)) for f in files]
    manifest = _read(source)
    if not isinstance(manifest, dict) or not ({"problems", "base"} & set(manifest)):
        raise BatchError(f"{source}: a manifest is an object with 'problems' and/or 'base' (+ 'variations')")
    unknown = set(manifest) - {"problems", "base", "variations"}
    if unknown:
        raise BatchError(f"{source}: unknown manifest field(s) {sorted(unknown)}")
    here = source.parent
    items: list[BatchItem] = []
    for k, entry in enumerate(manifest.get("problems", [])):
        if isinstance(entry, str):
            items.append(BatchItem(Path(entry).stem, _read(here / entry)))
        elif isinstance(entry, dict) and isinstance(entry.get("path"), str):
            items.append(BatchItem(str(entry.get("name") or Path(entry["path"]).stem), _read(here / entry["path"])))
        else:
            raise BatchError(f"{source}: problems[{k}] must be a path or {{name, path}}")
    if "base" in manifest:
        base = _read(here / manifest["base"])
        items.append(BatchItem("base", base, variation="base"))
        for k, v in enumerate(manifest.get("variations", [])):
            if not isinstance(v, dict) or not isinstance(v.get("name"), str):
                raise BatchError(f"{source}: variations[{k}] needs a name")
            try:
                items.append(BatchItem(v["name"], apply_variation(base, v), variation=v["name"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise BatchError(f"{source}: variations[{k}]: {exc}") from None
    names = [i.name for i in items]
    if len(set(names)) != len(names):
        raise BatchError(f"{source}: problem names must be unique")
    return items


def _matches(agreement: dict[str, Any], spec: dict[str, Any]) -> bool:
    return all(agreement.get(k) == spec[k] for k in ("supplier", "sku") if k in spec) and (
        "agreement" not in spec or agreement.get("id") == spec["agreement"])


def apply_variation(problem: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    """A what-if copy of ``problem``: ``demand`` (factor on order lines and forecast), ``capacity`` or
    ``lead_time`` (``{factor, supplier?, sku?, agreement?}`` on matching agreements; unlimited capacity stays so).
    """
    known = {"name", "demand", "capacity", "lead_time"}
    if set(v) - known:
        raise ValueError(f"unknown field(s) {sorted(set(v) - known)}; known: {sorted(known)}")
    p = json.loads(json.dumps(problem))
    if "demand" in v:
        f = float(v["demand"])
        for order in p.get("orders", []):
            for line in order.get("lines", []):
                line["quantity"] = max(1, round(line["quantity"] * f))
        for fc in p.get("forecast", []):
            fc["quantity"] = round(fc["quantity"] * f)
    if "capacity" in v:
        spec = dict(v["capacity"])
        f = float(spec["factor"])
        for a in p.get("agreements", []):
            if _matches(a, spec) and a.get("capacity_per_period") is not None:
                a["capacity_per_period"] = math.floor(a["capacity_per_period"] * f)
    if "lead_time" in v:
        spec = dict(v["lead_time"])
        f = float(spec["factor"])
        for a in p.get("agreements", []):
            if _matches(a, spec):
                a["lead_time_days"] = math.ceil(a["lead_time_days"] * f)
    return p


# ---------------------------------------------------------------------------------------------- the task


def solve_item(problem: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Solve one problem (runs on a worker); the plan as JSON-ready data.

    ``options["time_limit"]`` and ``["gap"]``, when given (not None), win over the
    problem's own settings; left out, the problem's settings apply, else 60 s and
    1e-6. ``options["max_time_limit"]`` caps the limit whichever it is.
    """
    from stockplan.models.validation import load_problem
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.solve import effective_options, solve

    parsed = load_problem(problem)
    given_limit, given_gap = options.get("time_limit"), options.get("gap")
    solve_options = effective_options(parsed, SolveOptions(
        time_limit=None if given_limit is None else float(given_limit),
        gap=None if given_gap is None else float(given_gap),
        threads=1, seed=int(options.get("seed", 0)), workers=1))
    cap = options.get("max_time_limit")
    if cap is not None and solve_options.limit > float(cap):
        solve_options = replace(solve_options, time_limit=float(cap))
    plan = solve(parsed, solve_options, method=options.get("method", "auto"),
                 explain=bool(options.get("explain", True)))
    data: dict[str, Any] = plan.model_dump(mode="json", exclude_none=True)
    return data


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    name: str
    plan: dict[str, Any] | None
    error: str | None = None
    resumed: bool = False


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _plan_file(out: Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)
    return out / "plans" / f"{safe}.json"


def run_batch(
    items: list[BatchItem],
    out: Path,
    executor: Executor,
    executor_name: str,
    window: int,
    options: dict[str, Any],
    database_url: str | None,
    source: str = "",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Solve ``items`` (at most ``window`` at once), write plans and the summary; return the summary."""
    (out / "plans").mkdir(parents=True, exist_ok=True)
    run_file = out / "run.json"
    run_id = json.loads(run_file.read_text())["id"] if run_file.exists() else new_id()
    _write_atomic(run_file, json.dumps({"id": run_id, "source": source, "executor": executor_name}))
    sessions = None
    if database_url:
        engine = make_engine(database_url)
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as s, s.begin():
            if s.get(BatchRun, run_id) is None:
                s.add(BatchRun(id=run_id, source=source, executor=executor_name))

    started = time.perf_counter()
    outcomes: dict[str, Outcome] = {}
    todo: list[BatchItem] = []
    for item in items:
        path = _plan_file(out, item.name)
        if path.exists():
            try:
                plan = json.loads(path.read_text())
            except json.JSONDecodeError:
                plan = None  # a torn file: solve it again
            if plan is not None:
                outcomes[item.name] = Outcome(item.name, plan, resumed=True)
                if sessions is not None:  # stored already, unless the interrupt fell in between
                    store_plan(sessions, run_id, item, options, plan)
                continue
        todo.append(item)
    done = len(outcomes)
    if progress:
        progress("resumed" if done else "start", done, len(items))

    running: dict[str, tuple[BatchItem, Handle, int]] = {}
    queue = list(todo)
    while queue or running:
        while queue and len(running) < window:
            item = queue.pop(0)
            running[item.name] = (item, executor.start(solve_item, item.problem, options), 0)
        time.sleep(0.05)
        for name, (item, handle, tries) in list(running.items()):
            if handle.alive():
                continue
            del running[name]
            try:
                plan = handle.result()
            except TaskFailed as exc:
                if "died" in str(exc) and tries < RETRIES:  # a lost process: run it again
                    running[name] = (item, executor.start(solve_item, item.problem, options), tries + 1)
                    continue
                outcomes[name] = Outcome(name, None, str(exc).splitlines()[0])
            else:
                # Store first: a plan file then always means a stored plan (resume relies on the files).
                if sessions is not None:
                    store_plan(sessions, run_id, item, options, plan)
                _write_atomic(_plan_file(out, name), json.dumps(plan, indent=1))
                outcomes[name] = Outcome(name, plan)
            done += 1
            if progress:
                progress(name, done, len(items))

    summary = summarize(items, outcomes, time.perf_counter() - started, run_id, executor_name)
    _write_atomic(out / "summary.json", json.dumps(summary, indent=1))
    _write_atomic(out / "summary.md", summary_markdown(summary))
    if sessions is not None:
        with sessions() as s, s.begin():
            run = s.get(BatchRun, run_id)
            if run is not None:
                run.summary, run.finished_at = summary, now()
    return summary


def store_plan(sessions: Any, run_id: str, item: BatchItem, options: dict[str, Any], plan: dict[str, Any]) -> bool:
    """Record a problem's plan and its review index in the service's store, once per run (False: it was there
    already)."""
    try:
        with sessions() as s, s.begin():
            job = Job(id=new_id(), state=JobState.SUCCEEDED, scenario=item.name, problem=item.problem,
                      options=options, created_by=f"batch:{run_id}", batch_id=run_id, started_at=now(),
                      finished_at=now(), attempts=1, outcome=plan["status"], solve_seconds=plan.get("solve_seconds"))
            s.add(job)
            s.flush()  # the unique (batch_id, scenario) index refuses a second copy here
            row = PlanRow(id=new_id(), job_id=job.id, scenario=item.name, outcome=plan["status"], cost=plan["cost"],
                          bound=plan.get("bound"), gap=plan.get("gap"), plan=plan)
            s.add(row)
            s.flush()
            index_plan(s, row, load_problem(item.problem))
            from sqlalchemy import update

            s.execute(update(PlanRow).where(PlanRow.scenario == item.name, PlanRow.id != row.id,
                                            PlanRow.superseded_by.is_(None)).values(superseded_by=row.id))
            job.plan_id = row.id
        return True
    except IntegrityError:
        return False


def _service(plan: dict[str, Any]) -> dict[str, Any]:
    k = (plan.get("report") or {}).get("kpis") or {}
    return {"fill_rate": k.get("fill_rate"), "on_time_fill_rate": k.get("on_time_fill_rate"),
            "lines_on_time": k.get("lines_on_time"), "lines_total": k.get("lines_total"),
            "units_lost": k.get("units_lost")}


def summarize(items: list[BatchItem], outcomes: dict[str, Outcome], seconds: float, run_id: str,
              executor: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for item in items:
        o = outcomes.get(item.name)
        plan = o.plan if o is not None else None
        rows.append({
            "name": item.name,
            "variation": item.variation,
            "status": plan["status"] if plan else "failed",
            "error": o.error if o is not None else "not run",
            "cost": plan["cost"] if plan else None,
            "costs": plan["costs"] if plan else None,
            "bound": plan.get("bound") if plan else None,
            "gap": plan.get("gap") if plan else None,
            "seconds": plan.get("solve_seconds") if plan else None,
            "resumed": bool(o and o.resumed),
            "service": _service(plan) if plan else None,
        })
    solved = [r for r in rows if r["cost"] is not None]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    summary: dict[str, Any] = {
        "run": run_id, "executor": executor, "problems": len(rows), "by_status": by_status,
        "total_cost": sum(r["cost"] for r in solved), "solve_seconds": sum(r["seconds"] or 0 for r in solved),
        "wall_seconds": seconds, "resumed": sum(r["resumed"] for r in rows), "rows": rows,
    }
    base = next((r for r in rows if r["variation"] == "base" and r["cost"] is not None), None)
    if base is not None:
        summary["what_if"] = [
            {"name": r["name"], "cost": r["cost"], "cost_delta": r["cost"] - base["cost"],
             "parts_delta": {k: r["costs"][k] - base["costs"][k] for k in base["costs"]},
             "service": r["service"]}
            for r in rows if r["variation"] and r["cost"] is not None
        ]
    return summary


def summary_markdown(summary: dict[str, Any]) -> str:
    def num(x: Any, fmt: str = ",.2f") -> str:
        return "—" if x is None else format(x, fmt)

    statuses = ", ".join(f"{n} {k}" for k, n in sorted(summary["by_status"].items()))
    lines = [f"# Batch run {summary['run']} ({summary['executor']})", "",
             f"{summary['problems']} problems: {statuses}"
             + f"; total cost {num(summary['total_cost'])}; {num(summary['solve_seconds'], '.1f')} solve seconds, "
             f"{num(summary['wall_seconds'], '.1f')} s wall; {summary['resumed']} resumed", "",
             "| problem | status | cost | gap | seconds | fill rate |", "|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        fill = (r["service"] or {}).get("fill_rate")
        lines.append(f"| {r['name']} | {r['status']} | {num(r['cost'])} | {num(r['gap'], '.2%')} | "
                     f"{num(r['seconds'], '.1f')} | {num(fill, '.1%')} |")
    if "what_if" in summary:
        parts = list(summary["what_if"][0]["parts_delta"]) if summary["what_if"] else []
        lines += ["", "## What if (against the base)", "",
                  "| scenario | cost | Δ cost | " + " | ".join(f"Δ {p}" for p in parts) + " | fill rate | on time |",
                  "|---" * (4 + len(parts)) + "|"]
        for w in summary["what_if"]:
            s = w["service"] or {}
            lines.append(f"| {w['name']} | {num(w['cost'])} | {num(w['cost_delta'], '+,.2f')} | "
                         + " | ".join(num(w["parts_delta"][p], "+,.2f") for p in parts)
                         + f" | {num(s.get('fill_rate'), '.1%')} | {num(s.get('on_time_fill_rate'), '.1%')} |")
    return "\n".join(lines) + "\n"
