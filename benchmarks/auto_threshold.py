"""Measure where ``method="auto"`` should stop using one monolithic MIP.

For problems of the ``small`` family with fewer orders (about 100 to 700 order
lines), every problem is solved with ``method="mip"`` and ``method="decompose"``
at each time limit, each solve in a fresh ``spawn`` process so no solver state
is shared between runs. A problem's reference cost is the best cost any of its
runs found; each run is reported as its cost in % above that reference. The
threshold is the largest line count at which ``mip`` is at least as good as
``decompose`` at every time limit, on average over the seeds; if there is none,
the smallest size where ``mip`` still won at some time limit (else 0).

Command line::

    python -m benchmarks.auto_threshold            # the full measurement (~15 min on 2 cores)
    python -m benchmarks.auto_threshold --sizes 100 --seeds 0 --time-limits 5
    python -m benchmarks.auto_threshold --resummarise benchmarks/results/auto_threshold.json

writes ``benchmarks/results/auto_threshold.md`` and ``auto_threshold.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .generator import generate
from .report import git_state, machine

FAMILY = "small"
#: Target numbers of order lines.
SIZES = (100, 200, 300, 400, 550, 700)
SEEDS = (0, 1)
TIME_LIMITS = (5.0, 20.0)
METHODS = ("mip", "decompose")
WORKERS = 2
#: Order lines per order in the generator's default line weights (1.77), for the first guess.
LINES_PER_ORDER = 1.77
#: Orders tried on either side of the first guess when matching a target line count.
ORDER_WINDOW = 12
#: Relative cost difference below which two runs count as equally good.
TIE = 1e-6
RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One solve of one problem: its size, the method, the time limit and what it found.

    Attributes
    ----------
    size : int
        The target number of order lines.
    seed : int
        The generator's seed.
    orders : int
        Orders in the problem.
    lines : int
        Order lines (``build_index(problem).n_lines``).
    method : str
        ``mip`` or ``decompose``.
    time_limit : float
        Seconds given to the solve.
    status : str
        The plan's status, or ``error`` when the child process gave no plan.
    cost : float or None
        The plan's cost (the evaluator's).
    bound : float or None
        The proven lower bound.
    gap : float or None
        The relative gap against that bound.
    wall_seconds : float
        Wall time of ``solve`` in the child (loading the problem excluded).
    load_before : float
        The machine's one-minute load average just before the run.
    message : str
        The plan's method and message.
    above_best : float or None
        Cost relative to the best cost of any run on this problem, minus one.
    """

    size: int
    seed: int
    orders: int
    lines: int
    method: str
    time_limit: float
    status: str
    cost: float | None
    bound: float | None
    gap: float | None
    wall_seconds: float
    load_before: float
    message: str = ""
    above_best: float | None = None


def count_lines(data: dict[str, Any]) -> int:
    """Order lines of a generated problem as the solver counts them.

    Parameters
    ----------
    data : dict
        A problem in the wire format.

    Returns
    -------
    int
        ``build_index(load_problem(data)).n_lines``.
    """
    from stockplan.models.validation import load_problem
    from stockplan.solver.indexing import build_index

    return int(build_index(load_problem(data)).n_lines)


def orders_for(lines: int, seed: int, family: str = FAMILY) -> tuple[int, int]:
    """The number of orders whose problem (``family``, ``seed``) has closest to ``lines`` order lines.

    Orders within :data:`ORDER_WINDOW` of ``lines / LINES_PER_ORDER`` are tried; ties go to
    fewer orders. Deterministic: the generator is a pure function of its arguments.

    Parameters
    ----------
    lines : int
        The target number of order lines.
    seed : int
        The generator's seed.
    family : str
        The generator's family.

    Returns
    -------
    tuple of int
        The number of orders and that problem's number of order lines.
    """
    guess = max(1, round(lines / LINES_PER_ORDER))
    best: tuple[int, int, int] | None = None  # (distance, orders, lines)
    for orders in range(max(1, guess - ORDER_WINDOW), guess + ORDER_WINDOW + 1):
        n = count_lines(generate(family, seed=seed, orders=orders))
        if best is None or abs(n - lines) < best[0]:
            best = (abs(n - lines), orders, n)
    assert best is not None
    return best[1], best[2]


def _measure(path: str, method: str, time_limit: float, queue: Any) -> None:
    """Child process: solve the problem in ``path`` with ``method`` and put the run's fields on ``queue``."""
    from stockplan.models.validation import load_problem
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.solve import solve

    problem = load_problem(json.loads(Path(path).read_text()))
    started = time.perf_counter()
    plan = solve(problem, SolveOptions(time_limit=time_limit, workers=WORKERS), isolate=True, method=method)
    wall = time.perf_counter() - started
    ok = str(plan.status) != "error"
    queue.put({"status": str(plan.status), "cost": plan.cost if ok else None, "bound": plan.bound,
               "gap": plan.gap, "wall_seconds": wall, "message": f"{plan.method}: {plan.message}"[:200]})


def measure(path: Path, method: str, time_limit: float) -> dict[str, Any]:
    """Solve the problem in ``path`` in a fresh ``spawn`` process.

    Parameters
    ----------
    path : Path
        A problem in the wire format (JSON).
    method : str
        ``mip`` or ``decompose``.
    time_limit : float
        Seconds given to the solve.

    Returns
    -------
    dict
        ``status``, ``cost``, ``bound``, ``gap``, ``wall_seconds`` and ``message``;
        status ``error`` when the child hung or died without a result.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(str(path), method, time_limit, queue))
    started = time.perf_counter()
    proc.start()
    guard = time_limit * 2 + 120  # the solve stops itself at its deadline; this guards a hung child
    proc.join(guard)
    failed = {"status": "error", "cost": None, "bound": None, "gap": None,
              "wall_seconds": time.perf_counter() - started}
    if proc.is_alive():
        proc.kill()
        proc.join()
        return failed | {"message": "killed: hung"}
    if queue.empty():
        return failed | {"message": f"process exited with {proc.exitcode}"}
    result: dict[str, Any] = queue.get()
    return result


def compare(runs: list[Run]) -> None:
    """Set each run's ``above_best``: its cost against the best cost found on its problem.

    Parameters
    ----------
    runs : list of Run
        Runs of any problems; grouped by (size, seed).
    """
    best: dict[tuple[int, int], float] = {}
    for r in runs:
        if r.cost is not None:
            key = (r.size, r.seed)
            best[key] = min(best.get(key, r.cost), r.cost)
    for r in runs:
        ref = best.get((r.size, r.seed))
        if r.cost is not None and ref is not None:
            r.above_best = (r.cost - ref) / max(abs(ref), 1e-9)


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    """Per size: mean line count and, per time limit, each method's mean % above the best and the winner.

    A run without a plan counts as infinitely worse; a method wins when its mean is lower
    by more than :data:`TIE` (else ``tie``, which counts for ``mip``).

    Parameters
    ----------
    runs : list of Run
        Runs with ``above_best`` set (:func:`compare`).

    Returns
    -------
    list of dict
        One row per size, smallest first: ``size``, ``lines`` (per seed), ``max_lines``,
        ``mean_lines`` and ``by_limit`` ({time limit: {``mip``, ``decompose``, ``winner``}}).
    """
    rows = []
    for size in sorted({r.size for r in runs}):
        of_size = [r for r in runs if r.size == size]
        lines = {r.seed: r.lines for r in of_size}
        by_limit: dict[float, dict[str, Any]] = {}
        for limit in sorted({r.time_limit for r in of_size}):
            means: dict[str, float] = {}
            for method in METHODS:
                values = [r.above_best for r in of_size if r.method == method and r.time_limit == limit]
                means[method] = (float("inf") if not values or any(v is None for v in values)
                                 else sum(v for v in values if v is not None) / len(values))
            diff = means["mip"] - means["decompose"]
            winner = "tie" if abs(diff) <= TIE or means["mip"] == means["decompose"] else (
                "mip" if diff < 0 else "decompose")
            by_limit[limit] = {"mip": means["mip"], "decompose": means["decompose"], "winner": winner}
        rows.append({"size": size, "lines": lines, "max_lines": max(lines.values()),
                     "mean_lines": sum(lines.values()) / len(lines), "by_limit": by_limit})
    return rows


def mip_holds(row: dict[str, Any]) -> bool:
    """Whether ``mip`` is at least as good as ``decompose`` at every time limit of a summary row."""
    return all(v["winner"] in ("mip", "tie") for v in row["by_limit"].values())


def mip_wins_somewhere(row: dict[str, Any]) -> bool:
    """Whether ``mip`` is at least as good as ``decompose`` at some time limit of a summary row."""
    return any(v["winner"] in ("mip", "tie") for v in row["by_limit"].values())


def choose_threshold(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest line count at which ``mip`` is at least as good as ``decompose`` at every time limit.

    When ``mip`` holds at no size at every limit (``decompose`` wins everywhere), the
    fallback: the smallest size where ``mip`` still won (or tied) at some time limit,
    else 0.

    Parameters
    ----------
    rows : list of dict
        :func:`summarise`'s rows.

    Returns
    -------
    dict
        ``threshold`` (the largest line count among the chosen size's problems, so each of
        them would get ``mip``; 0 when ``mip`` never won), ``size`` (the target size or None),
        ``rule`` (``every limit``, ``fallback`` or ``never``), ``mip_sizes`` (every size where
        ``mip`` holds at every limit), ``some_limit_sizes`` (where it won at some limit) and
        ``contiguous`` (whether ``mip_sizes`` are exactly the smallest sizes: a clean cut).
    """
    holds = [row["size"] for row in rows if mip_holds(row)]
    somewhere = [row["size"] for row in rows if mip_wins_somewhere(row)]
    common = {"mip_sizes": holds, "some_limit_sizes": somewhere,
              "contiguous": holds == [r["size"] for r in rows][: len(holds)]}
    if holds:
        size, rule = max(holds), "every limit"
    elif somewhere:
        size, rule = min(somewhere), "fallback"
    else:
        return {"threshold": 0, "size": None, "rule": "never"} | common
    row = next(r for r in rows if r["size"] == size)
    return {"threshold": int(row["max_lines"]), "size": size, "rule": rule} | common


def _pct(value: float) -> str:
    return "no plan" if value == float("inf") else f"{100 * value:.2f}"


def markdown(runs: list[Run], rows: list[dict[str, Any]], choice: dict[str, Any], header: dict[str, Any]) -> str:
    """The report: a header line (commit, machine), the summary table, the choice and every run.

    Parameters
    ----------
    runs : list of Run
        Every run.
    rows : list of dict
        :func:`summarise`'s rows.
    choice : dict
        :func:`choose_threshold`'s answer.
    header : dict
        ``machine`` and ``git`` (:func:`benchmarks.report.machine`, :func:`benchmarks.report.git_state`),
        ``seeds`` and ``time_limits``.

    Returns
    -------
    str
        Markdown.
    """
    m, g = header["machine"], header["git"]
    tree = f"{g['changed_files']} files changed" if g["dirty"] else "clean tree"
    limits = [float(t) for t in header["time_limits"]]
    out = [
        f"Commit {g['commit']} ({tree}); machine: {m['cpus']} cores, {m['platform']}, Python {m['python']}; "
        f"{m['when']}. Family `{FAMILY}` with fewer orders, seeds {', '.join(map(str, header['seeds']))}, "
        f"`SolveOptions(time_limit=T, workers={WORKERS})`, each solve in a fresh process, one at a time. "
        "Costs in % above the best cost any run found on the same problem, mean over seeds."
        + (f" Summary re-derived from the stored runs by commit {header['summarised_by']['commit']}."
           if "summarised_by" in header else ""),
        "",
        "| lines | " + " | ".join(f"mip T={t:g} s | decompose T={t:g} s | winner T={t:g} s" for t in limits) + " |",
        "|---|" + "---|---|---|" * len(limits),
    ]
    for row in rows:
        lines = "/".join(str(row["lines"][s]) for s in sorted(row["lines"]))
        cells = []
        for t in limits:
            v = row["by_limit"][t]
            cells += [_pct(v["mip"]), _pct(v["decompose"]), v["winner"]]
        out.append(f"| {lines} | " + " | ".join(cells) + " |")
    out.append("")
    if choice["rule"] == "never":
        out.append("`mip` is at least as good as `decompose` at no size and no time limit: threshold 0.")
    else:
        lines_of = "/".join(str(n) for n in rows_by_size(rows)[choice["size"]])
        if choice["rule"] == "every limit":
            cut = "" if choice["contiguous"] else f" Not a clean cut: `mip` holds at sizes {choice['mip_sizes']} only."
            out.append(f"Largest size where `mip` is at least as good at every time limit: ~{choice['size']} lines "
                       f"(problems of {lines_of} lines): threshold {choice['threshold']}.{cut}")
        else:
            out.append(f"`mip` is at least as good as `decompose` at every time limit at no size: the threshold is "
                       f"below {rows[0]['size']} lines. Fallback: the smallest size where `mip` still won at some "
                       f"time limit, ~{choice['size']} lines (problems of {lines_of} lines; it won at some limit at "
                       f"sizes {choice['some_limit_sizes']}): threshold {choice['threshold']}.")
    out += [
        "",
        "Every run (cost from the evaluator, wall seconds of `solve`, one-minute load average before the run):",
        "",
        "| target | seed | orders | lines | method | T s | status | cost | % above best | bound | gap % | wall s "
        "| load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        out.append(
            f"| {r.size} | {r.seed} | {r.orders} | {r.lines} | {r.method} | {r.time_limit:g} | {r.status} | "
            f"{'—' if r.cost is None else format(r.cost, ',.2f')} | "
            f"{'—' if r.above_best is None else format(100 * r.above_best, '.2f')} | "
            f"{'—' if r.bound is None else format(r.bound, ',.2f')} | "
            f"{'—' if r.gap is None else format(100 * r.gap, '.2f')} | {r.wall_seconds:.1f} | {r.load_before:.2f} |"
        )
    return "\n".join(out) + "\n"


def rows_by_size(rows: list[dict[str, Any]]) -> dict[int, list[int]]:
    """Each size's problems' line counts, by seed."""
    return {row["size"]: [row["lines"][s] for s in sorted(row["lines"])] for row in rows}


def run(
    sizes: Sequence[int] = SIZES, seeds: Sequence[int] = SEEDS, time_limits: Sequence[float] = TIME_LIMITS,
    out: Path = RESULTS, progress: Any = print,
) -> dict[str, Any]:
    """Measure every (size, seed, time limit, method), one solve at a time, and write the report.

    Parameters
    ----------
    sizes : sequence of int
        Target numbers of order lines.
    seeds : sequence of int
        Generator seeds per size.
    time_limits : sequence of float
        Seconds per solve.
    out : Path
        Directory for ``auto_threshold.md`` and ``auto_threshold.json``.
    progress : callable or None
        Called with a line of text before each run.

    Returns
    -------
    dict
        What ``auto_threshold.json`` holds: ``machine``, ``git``, ``seeds``, ``time_limits``,
        ``runs``, ``summary`` and ``choice``.
    """
    header = {"machine": machine(), "git": git_state(REPO), "seeds": list(seeds),
              "time_limits": [float(t) for t in time_limits]}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            for seed in seeds:
                orders, n_lines = orders_for(size, seed)
                path = Path(tmp) / f"{FAMILY}-{seed}-{orders}.json"
                path.write_text(json.dumps(generate(FAMILY, seed=seed, orders=orders)))
                for limit in time_limits:
                    for method in METHODS:
                        if progress:
                            progress(f"{size} lines, seed {seed} ({orders} orders, {n_lines} lines): "
                                     f"{method}, T={limit:g} s")
                        load = os.getloadavg()[0]
                        r = measure(path, method, float(limit))
                        runs.append(Run(size=size, seed=seed, orders=orders, lines=n_lines, method=method,
                                        time_limit=float(limit), load_before=load, **r))
    return write(runs, header, out)


def write(runs: list[Run], header: dict[str, Any], out: Path) -> dict[str, Any]:
    """Compare, summarise and choose, then write ``auto_threshold.md`` and ``auto_threshold.json`` to ``out``.

    Parameters
    ----------
    runs : list of Run
        Every run.
    header : dict
        ``machine`` and ``git`` of the measurement, ``seeds``, ``time_limits`` and optionally
        ``summarised_by`` (the git state of a later re-summary).
    out : Path
        The directory.

    Returns
    -------
    dict
        What ``auto_threshold.json`` holds.
    """
    compare(runs)
    rows = summarise(runs)
    choice = choose_threshold(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "auto_threshold.md").write_text(markdown(runs, rows, choice, header))
    summary = [row | {"by_limit": {f"{t:g}": {k: _finite(x) for k, x in v.items()} for t, v in row["by_limit"].items()}}
               for row in rows]
    result = header | {"runs": [asdict(r) for r in runs], "summary": summary, "choice": choice}
    (out / "auto_threshold.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    return result


def resummarise(path: Path, out: Path) -> dict[str, Any]:
    """Re-derive the summary and the choice from the runs stored in ``path``, without solving.

    The header keeps the measurement's commit and machine and adds ``summarised_by``.

    Parameters
    ----------
    path : Path
        An ``auto_threshold.json``.
    out : Path
        The directory to write to.

    Returns
    -------
    dict
        What ``auto_threshold.json`` now holds.
    """
    stored = json.loads(path.read_text())
    fields = set(Run.__dataclass_fields__)
    runs = [Run(**{k: v for k, v in r.items() if k in fields and k != "above_best"}) for r in stored["runs"]]
    header = {k: stored[k] for k in ("machine", "git", "seeds", "time_limits")} | {"summarised_by": git_state(REPO)}
    return write(runs, header, out)


def _finite(value: Any) -> Any:
    """``value``, with an infinite mean (a method without a plan) as None: JSON has no infinity."""
    return None if value == float("inf") else value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the measurement and print the chosen threshold.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code, 0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auto_threshold",
                                     description="Measure mip against decompose to choose method=auto's threshold.")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="target order lines")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--time-limits", type=float, nargs="+", default=list(TIME_LIMITS), help="seconds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument("--resummarise", type=Path, metavar="JSON",
                        help="re-derive the report from the runs stored in an auto_threshold.json, without solving")
    args = parser.parse_args(argv)
    if args.resummarise:
        result = resummarise(args.resummarise, args.out)
    else:
        result = run(args.sizes, args.seeds, args.time_limits, args.out)
    choice = result["choice"]
    print(f"threshold: {choice['threshold']} lines ({choice['rule']}: size {choice['size']}; mip holds at every "
          f"limit at {choice['mip_sizes']}, at some limit at {choice['some_limit_sizes']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
