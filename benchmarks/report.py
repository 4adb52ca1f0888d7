"""``stockplan bench``: one run, every method, one report (markdown, JSON, PNG plots).

Each measurement runs in a fresh process (``spawn``) that loads the problem from
a file, so peak memory (``ru_maxrss``) is that run's alone and no solver state
leaks between runs. Methods:

* ``greedy``: the rule-based baseline (how rule-based systems allocate)
* ``stockplan``: the default solve (``method=auto``: one MIP for small problems,
  decomposition for large ones), HiGHS
* ``mip-<backend>``: one monolithic MIP through a backend, warm-started
* ``pulp-cbc-plain`` (or ``<backend>-plain``): a plain monolith through the
  backend without warm start — what a Python developer writes first (PuLP + CBC).
  It reports the backend's own solution (status from the backend, cost by the
  evaluator) and ``no solution`` when the backend has none: never the greedy plan

Gaps are reported twice: against the method's own bound (``gap``) and against
the best bound any method proved in the same run (``gap_best``), so methods
without a bound (CBC through PuLP) are still compared honestly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import platform
import resource
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .generator import FAMILIES, generate

DEFAULT_METHODS = ("greedy", "stockplan", "mip-highs", "pulp-cbc-plain")
# Instances with a best known plan and a proven lower bound (benchmarks/reference/README.md): (plan, bound).
BEST_KNOWN: dict[tuple[str, int], tuple[float, float]] = {
    ("small", 0): (101_516.24, 100_450.0),
    ("medium", 0): (1_370_428.13, 1_276_780.0),
}
# The strengthenings' LP values are measured up to this many order lines (the flows' LP of
# 10,000 orders alone would take minutes).
LP_TABLE_MAX_LINES = 3_000


@dataclass(frozen=True)
class Case:
    """One part of a benchmark run: these seeds of a family, at one time limit, with these methods."""

    family: str
    seeds: tuple[int, ...]
    time_limit: float
    methods: tuple[str, ...] = DEFAULT_METHODS


def parse_cases(text: str) -> list[Case]:
    """``family/seeds/limit/methods,...``: seeds ``0`` or ``1-4`` or ``0+3``; methods ``all`` or ``a+b``.

    >>> parse_cases("small/1-2/60/greedy+stockplan")
    [Case(family='small', seeds=(1, 2), time_limit=60.0, methods=('greedy', 'stockplan'))]
    """
    cases = []
    for item in (p.strip() for p in text.split(",") if p.strip()):
        family, seeds, limit, methods = item.split("/")
        if "-" in seeds:
            lo, hi = seeds.split("-")
            seed_list = tuple(range(int(lo), int(hi) + 1))
        else:
            seed_list = tuple(int(x) for x in seeds.split("+"))
        cases.append(Case(family, seed_list, float(limit),
                          DEFAULT_METHODS if methods == "all" else tuple(methods.split("+"))))
    return cases


@dataclass
class Record:
    family: str
    seed: int
    orders: int
    lines: int
    method: str
    status: str
    cost: float | None
    bound: float | None
    gap: float | None
    build_seconds: float
    solve_seconds: float
    peak_mb: float
    message: str = ""
    gap_best: float | None = None
    vs_greedy: float | None = None
    time_limit: float = 0.0


def _measure(path: str, method: str, time_limit: float, queue: Any) -> None:
    """Child process: solve ``path`` with ``method`` and report one record's fields."""
    import json as _json

    from stockplan.models.validation import load_problem
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.evaluator import evaluate
    from stockplan.solver.greedy import greedy_plan
    from stockplan.solver.indexing import build_index
    from stockplan.solver.solve import solve

    problem = load_problem(_json.loads(Path(path).read_text()))
    started = time.perf_counter()
    out: dict[str, Any] = {"message": ""}
    if method == "greedy":
        plan = greedy_plan(build_index(problem))
        ev = evaluate(problem, plan)
        out.update(status="feasible" if ev.feasible else "infeasible", cost=ev.cost, bound=None, gap=None,
                   build_seconds=0.0, solve_seconds=time.perf_counter() - started)
    else:
        options = SolveOptions(time_limit=time_limit, gap=1e-4)
        if method == "stockplan":
            result = solve(problem, options, isolate=True)
        elif method.endswith("-plain"):
            out.update(plain_solve(problem, options, method.removesuffix("-plain")))
            out["solve_seconds"] = time.perf_counter() - started - out["build_seconds"]
            queue.put(_with_peak(out))
            return
        else:
            result = solve(problem, options, backend=method.removeprefix("mip-"), isolate=True, method="mip")
        out.update(status=str(result.status), cost=result.cost, bound=result.bound, gap=result.gap,
                   build_seconds=result.build_seconds, solve_seconds=result.solve_seconds,
                   message=f"{result.method}: {result.message}"[:200])
    queue.put(_with_peak(out))


def _with_peak(out: dict[str, Any]) -> dict[str, Any]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_mb"] = max(own, kids) / 1024.0  # Linux reports KiB
    return out


def plain_solve(problem: Any, options: Any, backend: str) -> dict[str, Any]:
    """One monolithic MIP through ``backend``, no warm start, no greedy fallback: its own result.

    Returns the record's fields: ``status`` (what the backend did with its solution, as
    :func:`stockplan.solver.solve.solve` would say it, or ``no solution``), the
    evaluator's ``cost`` of the backend's plan (None without one), ``bound``, ``gap``,
    ``build_seconds`` and ``message``.
    """
    from stockplan.solver.builder import build_model
    from stockplan.solver.decode import decode_plan, integral_flows
    from stockplan.solver.evaluator import evaluate
    from stockplan.solver.indexing import build_index
    from stockplan.solver.reconcile import bound_warnings
    from stockplan.solver.solve import _status, deadline_grace, effective_options, relative_gap, run_backend

    started = time.perf_counter()
    problem = problem.canonical()
    options = effective_options(problem, options)
    ix = build_index(problem)
    model, mapping = build_model(ix, all_integer="cpsat" in backend)
    build_seconds = time.perf_counter() - started
    remaining = max(0.1, options.limit - build_seconds)
    result = run_backend(backend, model, replace(options, time_limit=remaining), None, isolate=True,
                         kill_after=0.5 * deadline_grace(options.limit))
    said = f"{backend} {result.outcome}" + (f": {result.message}" if result.message else "")
    x = integral_flows(model, result.x, options) if result.x is not None else None
    none: dict[str, Any] = {"status": "no solution", "cost": None, "bound": result.bound, "gap": None,
                            "build_seconds": build_seconds}
    if x is None:
        return none | {"message": said[:200]}
    ev = evaluate(problem, decode_plan(ix, model, mapping, x))
    if not ev.feasible:
        return none | {"message": f"{said}; its plan is rejected by the evaluator: {ev.violations[0].message}"[:200]}
    problems = bound_warnings(result.bound, ev)
    gap = None if problems else relative_gap(ev.objective, result.bound)
    return {"status": str(_status(result.outcome, gap)), "cost": ev.cost, "bound": result.bound, "gap": gap,
            "build_seconds": build_seconds, "message": "; ".join([said, *problems])[:200]}


def in_child(target: Any, args: tuple[Any, ...], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Run ``target(*args, queue)`` in a fresh (spawned) process: what it put on the queue, or None and why."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None, "killed: hung"
    if queue.empty():
        return None, f"process exited with {proc.exitcode}"
    result: dict[str, Any] = queue.get()
    return result, ""


def measure(path: Path, method: str, time_limit: float) -> dict[str, Any]:
    # Solvers are stopped by the solve's own deadline; the timeout only guards a hung child.
    timeout = time_limit * 2 + 120
    result, why = in_child(_measure, (str(path), method, time_limit), timeout)
    if result is None:
        return {"status": "error", "cost": None, "bound": None, "gap": None, "build_seconds": 0.0,
                "solve_seconds": timeout if why.startswith("killed") else 0.0, "peak_mb": 0.0, "message": why}
    return result


def run(
    families: list[str], seeds: list[int], methods: list[str], time_limits: dict[str, float], out: Path,
    orders: int | None = None, progress: Any = None,
) -> list[Record]:
    """Measure every (family, seed, method) and write ``report.md``, ``report.json`` and plots to ``out``."""
    cases = [Case(f, tuple(seeds), time_limits.get(f, 60.0), tuple(methods)) for f in families]
    return run_cases(cases, out, orders, progress)


def run_cases(cases: list[Case], out: Path, orders: int | None = None, progress: Any = None,
              lp_table: bool = True) -> list[Record]:
    """Measure every case and write ``report.md``, ``report.json`` and plots to ``out``.

    With ``lp_table``, each generated problem up to :data:`LP_TABLE_MAX_LINES` lines
    also gets the LP value of the model under each strengthening (one child process).
    """
    out.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    lps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        measured: set[tuple[str, int]] = set()
        for case in cases:
            for seed in case.seeds:
                data = generate(case.family, seed=seed, **({"orders": orders} if orders else {}))
                path = Path(tmp) / f"{case.family}-{seed}.json"
                path.write_text(json.dumps(data))
                n_lines = sum(len(o["lines"]) for o in data["orders"])
                if lp_table and n_lines <= LP_TABLE_MAX_LINES and (case.family, seed) not in measured:
                    if progress:
                        progress(f"{case.family} seed {seed}: LP values")
                    lps.append({"family": case.family, "seed": seed, **measure_lps(path)})
                measured.add((case.family, seed))
                group: list[Record] = []
                for method in case.methods:
                    if progress:
                        progress(f"{case.family} seed {seed}, {case.time_limit:g} s: {method}")
                    r = measure(path, method, case.time_limit)
                    group.append(Record(family=case.family, seed=seed, orders=len(data["orders"]), lines=n_lines,
                                        method=method, time_limit=case.time_limit, **r))
                _compare(group)
                records.extend(group)
    write_report(records, out, {c.family: c.time_limit for c in cases}, lps)
    return records


# What each row of the LP table builds (solver/model/strengthen.py).
LP_ROWS = (
    ("plain model", (False, False, False)),
    ("+ R1 tight segment bounds", (True, False, False)),
    ("+ R3 dropship links", (True, True, False)),
    ("+ R5 per-segment flows", (True, True, True)),
)


def _measure_lps(path: str, queue: Any) -> None:
    """Child process: the LP relaxation's value under each strengthening, and its seconds."""
    import json as _json

    import numpy as np

    from stockplan.models.validation import load_problem
    from stockplan.solver.backends import get_backend
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.builder import build_model
    from stockplan.solver.indexing import build_index
    from stockplan.solver.model.strengthen import Strengthening

    ix = build_index(load_problem(_json.loads(Path(path).read_text())).canonical())
    out: dict[str, Any] = {}
    for name, flags in LP_ROWS:
        model, _ = build_model(ix, strengthen=Strengthening(*flags))
        started = time.perf_counter()
        relaxed = replace(model, integrality=np.zeros_like(model.integrality))
        lp = get_backend("highs").solve(relaxed, SolveOptions(time_limit=300, gap=0.0))
        out[name] = {"lp": lp.objective if lp.outcome == "optimal" else None,
                     "seconds": time.perf_counter() - started, "columns": model.num_cols, "rows": model.num_rows}
    queue.put(out)


def measure_lps(path: Path) -> dict[str, Any]:
    return in_child(_measure_lps, (str(path),), 1500)[0] or {}


def _compare(group: list[Record]) -> None:
    bounds = [r.bound for r in group if r.bound is not None]
    best = max(bounds) if bounds else None
    greedy = next((r.cost for r in group if r.method == "greedy" and r.cost is not None), None)
    for r in group:
        if r.cost is None:
            continue
        if best is not None:
            r.gap_best = max(0.0, r.cost - best) / max(abs(r.cost), 1e-9)
        if greedy:
            r.vs_greedy = r.cost / greedy - 1.0


def _fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def write_report(records: list[Record], out: Path, time_limits: dict[str, float],
                 lps: list[dict[str, Any]] | None = None) -> None:
    lps = lps or []
    g = git_state(Path(__file__).resolve().parent.parent)
    (out / "report.json").write_text(json.dumps(
        {"machine": machine(), "git": g, "time_limits": time_limits,
         "records": [asdict(r) for r in records], "lp_values": lps, "best_known": [
             {"family": f, "seed": s, "plan": p, "bound": b} for (f, s), (p, b) in BEST_KNOWN.items()]}, indent=1))
    lines = [
        "| family | orders | limit s | method | status | cost | vs greedy | bound | gap | gap to best bound | "
        "build s | solve s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        vs = "—" if r.vs_greedy is None else f"{100 * r.vs_greedy:+.1f} %"
        seed = "" if r.seed == 0 else f" (seed {r.seed})"
        lines.append(
            f"| {r.family}{seed} | {r.orders:,} | {r.time_limit:g} | {r.method} | {r.status} | "
            f"{_fmt(r.cost, ',.0f')} | {vs} | "
            f"{_fmt(r.bound, ',.0f')} | {_fmt(None if r.gap is None else 100 * r.gap, '.2f')} | "
            f"{_fmt(None if r.gap_best is None else 100 * r.gap_best, '.2f')} | {r.build_seconds:.2f} | "
            f"{r.solve_seconds:.1f} | {r.peak_mb:,.0f} |"
        )
    m = machine()
    tree = f"{g['changed_files']} files changed" if g["dirty"] else "clean tree"
    header = (f"Machine: {m['cpus']} cores, {m['platform']}, Python {m['python']}; commit {g['commit']} ({tree}). "
              "Time limits per row (limit s). Gaps in %.\n\n")
    text = header + "\n".join(lines) + "\n" + known_table(records) + lp_values_table(lps)
    (out / "report.md").write_text(text)
    plot(records, out)


def known_table(records: list[Record]) -> str:
    """Each measured plan of an instance with a best known plan: how far above it, and its bound how far below."""
    rows = [r for r in records if (r.family, r.seed) in BEST_KNOWN and r.cost is not None]
    if not rows:
        return ""
    lines = [
        "",
        "Against the best known plans and bounds (benchmarks/reference/README.md):",
        "",
        "| family | seed | limit s | method | cost | best known plan | above it | bound | best known bound | "
        "bound below it |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        plan, bound = BEST_KNOWN[r.family, r.seed]
        cost = r.cost or 0.0
        below = "—" if r.bound is None else f"{100 * (bound - r.bound) / bound:.2f} %"
        lines.append(f"| {r.family} | {r.seed} | {r.time_limit:g} | {r.method} | {cost:,.0f} | {plan:,.2f} | "
                     f"{100 * (cost - plan) / plan:+.2f} % | {_fmt(r.bound, ',.0f')} | {bound:,.0f} | {below} |")
    return "\n".join(lines) + "\n"


def lp_values_table(lps: list[dict[str, Any]]) -> str:
    """The LP relaxation's value of each generated problem under each strengthening, cumulatively."""
    if not lps:
        return ""
    lines = ["", "LP relaxation of the whole problem under each strengthening (cumulative; "
             "solver/model/strengthen.py):", "",
             "| family | seed | model | columns | rows | LP value | adds | LP s |", "|---|---|---|---|---|---|---|---|"]
    for entry in lps:
        previous = None
        for name, _ in LP_ROWS:
            v = entry.get(name)
            if v is None:
                continue
            adds = "—" if previous is None or v["lp"] is None else f"{v['lp'] - previous:+,.1f}"
            lines.append(f"| {entry['family']} | {entry['seed']} | {name} | {v['columns']:,} | {v['rows']:,} | "
                         f"{_fmt(v['lp'], ',.1f')} | {adds} | {v['seconds']:.2f} |")
            previous = v["lp"] if v["lp"] is not None else previous
    return "\n".join(lines) + "\n"


def plot(records: list[Record], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({r.method for r in records})
    fig, (ax_t, ax_g) = plt.subplots(1, 2, figsize=(11, 4))
    for method in methods:
        rs = sorted((r for r in records if r.method == method and r.cost is not None), key=lambda r: r.orders)
        if not rs:
            continue
        ax_t.plot([r.orders for r in rs], [r.build_seconds + r.solve_seconds for r in rs], "o-", label=method)
        gs = [r for r in rs if r.gap_best is not None]
        ax_g.plot([r.orders for r in gs], [100 * (r.gap_best or 0.0) for r in gs], "o-", label=method)
    for ax, title in ((ax_t, "seconds (build + solve)"), (ax_g, "gap to the best bound, %")):
        ax.set_xscale("log")
        ax.set_xlabel("orders")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "time_and_gap.png", dpi=110)
    plt.close(fig)


def git_state(repo: Path) -> dict[str, Any]:
    """``git rev-parse --short HEAD`` of ``repo`` and whether its tree had uncommitted changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "dirty": bool(changed),
            "changed_files": len(changed)}


def machine() -> dict[str, Any]:
    import os

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%d %H:%M")}


FAMILY_NAMES = tuple(FAMILIES)
