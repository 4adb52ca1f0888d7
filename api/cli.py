"""The ``stockplan`` command line: solve, validate and evaluate problems."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stockplan.models.plan import Costs, Decisions, Plan, Status
from stockplan.models.problem import Problem
from stockplan.models.report import PlanReport
from stockplan.models.validation import FieldError, ProblemError, errors_from_pydantic, load_problem

if TYPE_CHECKING:  # imported where used: the solver is slow to import for the other commands
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.progress import Progress

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Backorder planning, solved to a proven gap.")
console = Console()
err_console = Console(stderr=True)

EXAMPLE_PREFIX = "example:"
EXIT_INPUT = 2  # bad input: unreadable file, invalid problem or plan
EXIT_NO_PLAN = 3  # the solver produced no plan


def example_names() -> list[str]:
    folder = resources.files("stockplan.api") / "examples"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def read_json(source: str) -> Any:
    """Read a JSON file, or a bundled example named ``example:NAME``; exit with a message on failure."""
    try:
        if source.startswith(EXAMPLE_PREFIX):
            name = source.removeprefix(EXAMPLE_PREFIX)
            if name not in example_names():
                fail(f"unknown example {name!r}; bundled: {', '.join(example_names())}")
            text = (resources.files("stockplan.api") / "examples" / f"{name}.json").read_text()
        else:
            text = Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{source}: cannot read ({exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc})")


def fail(message: str, code: int = EXIT_INPUT) -> Any:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def report_errors(source: str, errors: list[FieldError]) -> None:
    err_console.print(f"[bold red]{escape(source)}: {len(errors)} error(s)[/]", highlight=False)
    for e in errors:
        err_console.print(f"  {e.path}: {e.message}", highlight=False, markup=False)


def parse_problem(source: str) -> Problem:
    data = read_json(source)
    try:
        return load_problem(data)
    except ProblemError as exc:
        report_errors(source, exc.errors)
        raise typer.Exit(EXIT_INPUT) from None


@app.command()
def validate(problem: Annotated[str, typer.Argument(help="Problem JSON file, or example:NAME")]) -> None:
    """Check a problem; list every error with its JSON path, then warnings (safety stock) that are not errors."""
    from stockplan.solver.safety_stock import safety_stock_notes

    notes = safety_stock_notes(parse_problem(problem))
    more = f" [yellow]({len(notes)} warning(s))[/]" if notes else ""
    console.print(f"[green]{escape(problem)}: valid[/]{more}")
    for n in notes:
        console.print(f"  warning: {n.path}: {n.message}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def solve(
    problem: Annotated[str, typer.Argument(help="Problem JSON file, or example:NAME (bundled)")],
    out: Annotated[Path | None, typer.Option(help="Write the plan as JSON here")] = None,
    backend: Annotated[str, typer.Option(help="MIP backend (see `stockplan backends`)")] = "highs",
    time_limit: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds, enforced by stopping the solver [default: the problem's settings.time_limit, else 60]",
        show_default=False)] = None,
    gap: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Relative gap at which to stop [default: the problem's settings.gap, else 1e-6]",
        show_default=False)] = None,
    threads: Annotated[int, typer.Option(min=1)] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    warm_start: Annotated[bool, typer.Option(help="Start from the greedy plan")] = True,
    method: Annotated[str, typer.Option(help="auto, mip (one model) or decompose (for large problems)")] = "auto",
    workers: Annotated[int, typer.Option(min=0, help="Processes for decompose; 0: one per core")] = 0,
    explain: Annotated[bool, typer.Option(help="Report statuses, reasons, notices; price late lines on time")] = True,
) -> None:
    """Solve a problem (under its allocation policy) and print a summary.

    The whole solve, report included, runs in a child process that is stopped if it
    overruns the time limit by more than the promised grace; the greedy plan then.
    """
    # The time limit counts from the start of this process: start-up and reading the file come out of it.
    started = time.perf_counter() - process_age()
    from stockplan.solver.backends import BACKENDS
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.solve import METHODS, effective_options

    if backend not in BACKENDS:
        fail(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if method not in METHODS:
        fail(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    parsed = parse_problem(problem)
    options = effective_options(parsed, SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed,
                                                     workers=workers))
    answer = solve_within_deadline(parsed, options, backend, warm_start, method, explain, started, problem,
                                   with_json=out is not None)
    console.file.write(answer.summary)
    console.file.flush()
    if answer.no_plan:
        fail(f"no plan: {answer.message}", EXIT_NO_PLAN)
    if out is not None and answer.plan_json is not None:
        try:
            out.write_text(answer.plan_json)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        console.print(f"plan written to {out}")


# What the parent needs after stopping an overrunning solve (print the summary, write the
# plan, exit), on top of the fallback's own measured time; at most half the grace.
KILL_MARGIN_SECONDS = 0.5
# How often the live status line is redrawn while no progress arrives (elapsed time).
STATUS_REFRESH_SECONDS = 0.25


def process_age() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class SolveAnswer:
    """A finished solve as the terminal and ``--out`` get it, rendered where the plan is.

    A plan of 10,000 orders takes 2 s to pickle to another process and back, 0.3 s to
    render and serialize: the solve process sends this instead of the plan.
    """

    status: str
    message: str
    summary: str  # what print_summary prints on this console
    plan_json: str | None  # the plan as --out writes it, when asked for
    plan: Plan | None = None  # the plan itself, when rendered in this process (the greedy fallback)
    no_plan: bool = False  # nothing to act on (an error without decisions): exit 3


def render_answer(source: str, plan: Plan, with_json: bool, keep_plan: bool = False) -> SolveAnswer:
    """The summary of ``plan`` as :func:`print_summary` prints it on this console, and its JSON."""
    with console.capture() as captured:
        print_summary(source, plan)
    return SolveAnswer(str(plan.status), plan.message, captured.get(),
                       plan.model_dump_json(indent=1, exclude_none=True) if with_json else None,
                       plan if keep_plan else None, plan.has_no_plan)


def _solve_in_child(conn: Connection, parent_pid: int, problem: Problem, options: SolveOptions, backend: str,
                    warm_start: bool, method: str, explain: bool, source: str, with_json: bool) -> None:
    """The solve process: its answer (or error), and progress on the way, go back over ``conn``."""
    from stockplan.solver import progress
    from stockplan.solver.processes import die_with_parent, lead_process_group
    from stockplan.solver.solve import solve as run_solve

    die_with_parent(parent_pid)
    lead_process_group()  # the parent stops every process of the solve (the part pool too) with one killpg
    try:
        with progress.progress_sink(conn.send):
            plan = run_solve(problem, options, backend=backend, warm_start=warm_start, isolate=True, method=method,
                             explain=explain)
        # The console is the parent's (forked): the summary renders as the parent would print it.
        conn.send(("answer", render_answer(source, plan, with_json)))
    except Exception as exc:  # the parent answers with the greedy plan and says why
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def solve_within_deadline(problem: Problem, options: SolveOptions, backend: str, warm_start: bool, method: str,
                          explain: bool, started: float, source: str = "problem",
                          with_json: bool = True) -> SolveAnswer:
    """Solve and explain ``problem`` in a child process that cannot overrun ``options.time_limit`` + grace.

    Parameters
    ----------
    problem : Problem
        The parsed problem.
    options : SolveOptions
        Its time limit T counts from ``started``.
    backend, warm_start, method, explain
        As for :func:`stockplan.solver.solve.solve`.
    started : float
        ``time.perf_counter()`` when the command started.
    source : str
        The problem's name, as the summary shows it.
    with_json : bool
        Serialize the plan for ``--out``.

    Returns
    -------
    SolveAnswer
        The child's answer; if it overran T + grace (less what printing the answer
        takes) or failed, its whole process group is killed and the answer is the
        greedy plan, computed here meanwhile, with a message saying so.
    """
    import multiprocessing as mp
    import signal
    from dataclasses import replace

    from stockplan.solver.solve import deadline_grace, greedy_fallback

    limit = options.limit
    grace = deadline_grace(limit)
    child_options = replace(options, time_limit=max(0.1, started + limit - time.perf_counter()))
    ctx = mp.get_context("fork")  # single-threaded here: nothing has started a thread yet
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_solve_in_child, args=(sender, os.getpid(), problem, child_options, backend,
                                                      warm_start, method, explain, source, with_json))
    proc.start()
    sender.close()
    pid = proc.pid
    assert pid is not None  # set by start()
    with contextlib.suppress(OSError):  # the child does so too; whichever comes first closes the race
        os.setpgid(pid, pid)
    try:
        with SolveStatus(backend, limit, started) as status:
            fallback, fallback_seconds = greedy_fallback(problem.canonical(), backend, method, explain)
            kill_at = started + limit + grace - min(0.5 * grace, KILL_MARGIN_SECONDS + fallback_seconds)
            kind, payload = _wait_for_plan(receiver, kill_at, status)
    finally:
        # Every process of the solve, whatever happened here (Ctrl-C included); the group
        # exists until the child is reaped below, so its id cannot be anyone else's.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        proc.join(5.0)
        receiver.close()
    if kind == "answer":
        answer: SolveAnswer = payload
        return answer
    if kind == "overran":
        why = f"the solve overran its {limit:g} s limit (+{grace:g} s grace) and was stopped"
    elif kind == "error":
        why = f"the solve failed ({payload})"
    else:
        why = f"the solve process died (exit code {proc.exitcode})"
    seconds = time.perf_counter() - started
    if fallback is None:
        plan = Plan(status=Status.ERROR, cost=0.0, costs=Costs(), backend=backend, solve_seconds=seconds,
                    message=f"{why}; the greedy plan is infeasible")
    else:
        update: dict[str, Any] = {"message": f"{why}: returned the greedy plan", "solve_seconds": seconds}
        if kind != "overran":
            update["status"] = Status.FEASIBLE
        plan = fallback.model_copy(update=update)
    return render_answer(source, plan, with_json and not plan.has_no_plan, keep_plan=True)


def _wait_for_plan(receiver: Connection, kill_at: float, status: SolveStatus) -> tuple[str, Any]:
    """The child's answer, ``("plan", plan)`` or ``("error", text)``; ``("overran" | "died", None)`` otherwise."""
    from stockplan.solver.progress import Progress

    while True:
        left = kill_at - time.perf_counter()
        # Polled even when the time is up: an answer that is there already is taken.
        if not receiver.poll(max(0.0, min(left, STATUS_REFRESH_SECONDS))):
            if left <= 0:
                return "overran", None
            status.show()
            continue
        try:
            message = receiver.recv()
        except EOFError:
            return "died", None
        if isinstance(message, Progress):
            status.show(message)
            continue
        kind, payload = message
        return str(kind), payload


class SolveStatus:
    """The live status line of a solve on the terminal: phase, best cost, bound, gap and elapsed time.

    Draws nothing when standard output is not a terminal (a pipe, a test).
    """

    def __init__(self, backend: str, limit: float, started: float) -> None:
        self.backend, self.limit, self.started = backend, limit, started
        self.last: Progress | None = None
        self._status: Any = None

    def __enter__(self) -> SolveStatus:
        if console.is_terminal:
            self._status = console.status(self._text())
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def show(self, event: Progress | None = None) -> None:
        """Redraw, with ``event`` as the latest news."""
        if event is not None:
            self.last = event
        if self._status is not None:
            self._status.update(self._text())

    def _text(self) -> str:
        elapsed = time.perf_counter() - self.started
        parts = [f"solving with {escape(self.backend)}"]
        p = self.last
        if p is not None:
            parts = [f"[bold]{escape(p.phase)}[/]" + (f": {escape(p.detail)}" if p.detail else "")]
            if p.best_cost is not None:
                parts.append(f"best {p.best_cost:,.2f}")
            if p.bound is not None:
                parts.append(f"bound {p.bound:,.2f}")
            if p.gap is not None:
                parts.append(f"gap {p.gap:.2%}")
        parts.append(f"{elapsed:.0f} s of {self.limit:g}")
        return " · ".join(parts)


@app.command()
def evaluate(
    problem: Annotated[str, typer.Argument(help="Problem JSON file, or example:NAME")],
    plan: Annotated[str, typer.Argument(help="Plan JSON file: shipments, forecast_fills, purchase_orders, "
                                             "or a whole plan as solve --out writes it")],
) -> None:
    """Check a plan against a problem: every broken rule, and its cost (exit 2 if the plan is not a plan)."""

    from stockplan.solver.evaluator import evaluate as run_evaluate

    parsed = parse_problem(problem)
    decisions = parse_plan(plan)
    result = run_evaluate(parsed, decisions)
    table = Table(title="cost", show_header=False)
    for part, value in result.costs.model_dump().items():
        table.add_row(part, f"{value:,.2f}")
    table.add_row("[bold]total", f"[bold]{result.cost:,.2f}")
    if result.promise_slip:
        table.add_row("promise slip (penalty, not a cost part)", f"{result.promise_slip:,.2f}")
    if result.shipment_fees:
        table.add_row("shipment fees (not a cost part)", f"{result.shipment_fees:,.2f}")
    if result.promise_slip or result.shipment_fees:
        table.add_row("objective", f"{result.objective:,.2f}")
    console.print(table)
    if result.feasible:
        console.print("[green]feasible: the plan obeys every rule[/]")
        return
    console.print(f"[red]infeasible: {len(result.violations)} violation(s)[/]")
    for v in result.violations:
        console.print(f"  [{v.rule}] {v.message}", highlight=False, markup=False)
    raise typer.Exit(1)


def parse_plan(source: str) -> Decisions:
    """The plan in ``source``: decisions only, or a whole plan as ``solve --out`` writes it.

    Unknown fields, a problem given as the plan, or a plan record of the API (the plan
    under ``plan``) exit 2 with every error by its path.
    """
    from stockplan.models.plan import load_plan

    data = read_json(source)
    try:
        return load_plan(data)
    except ProblemError as exc:
        report_errors(source, exc.errors)
        raise typer.Exit(EXIT_INPUT) from None


@app.command()
def promise(
    problem: Annotated[str, typer.Argument(help="Problem JSON file, or example:NAME")],
    plan: Annotated[str, typer.Argument(help="The plan to quote against (JSON, e.g. from solve --out)")],
    sku: Annotated[str, typer.Option(help="SKU of the prospective order")],
    quantity: Annotated[int, typer.Option(min=1, help="Units wanted, delivered in full")],
    location: Annotated[list[str] | None, typer.Option(help="A warehouse it may ship from (repeat); default: any")] = (
        None),
    earliest: Annotated[str | None, typer.Option(help="Not before this date (YYYY-MM-DD)")] = None,
    dropship: Annotated[bool, typer.Option(help="Allow dropship")] = True,
) -> None:
    """Quote the earliest delivery date of a prospective order against a plan (no re-solve)."""
    from pydantic import ValidationError

    from stockplan.models.promise import PromiseRequest
    from stockplan.solver.promise import PromiseError
    from stockplan.solver.promise import promise as run_promise

    parsed = parse_problem(problem)
    decisions = parse_plan(plan)
    try:
        request = PromiseRequest.model_validate(
            {"sku": sku, "quantity": quantity, "locations": location or None, "earliest": earliest,
             "allow_dropship": dropship})
        quote = run_promise(parsed, decisions, request)
    except ValidationError as exc:
        report_errors("request", errors_from_pydantic(exc))
        raise typer.Exit(EXIT_INPUT) from None
    except PromiseError as exc:
        fail(str(exc))
    table = Table(title=f"promise: {quantity} x {escape(sku)}", show_header=False)
    table.add_row("answer", f"[bold]{escape(quote.message)}[/]")
    if quote.feasible:
        table.add_row("date", f"{quote.date} (period {quote.period})")
        table.add_row("from", f"{quote.source}" + "".join(
            f", {k} {escape(str(v))}" for k, v in (("location", quote.location), ("agreement", quote.agreement),
                                                    ("placed in period", quote.purchase_period)) if v is not None))
        table.add_row("extra cost", "—" if quote.estimated_cost is None else f"{quote.estimated_cost:,.2f}")
    for alt in quote.alternatives:
        table.add_row("alternative", escape(alt.message))
    console.print(table)
    if not quote.feasible:
        raise typer.Exit(1)


@app.command()
def bench(
    families: Annotated[str, typer.Option(help="Comma-separated: tiny, small, medium, large")] = "small,medium",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds")] = "0",
    methods: Annotated[str, typer.Option(help="Comma-separated: greedy, stockplan, mip-<backend>, pulp-cbc-plain")] = (
        "greedy,stockplan,mip-highs,pulp-cbc-plain"),
    time_limit: Annotated[str, typer.Option(help="Seconds per solve: one number or family=seconds,...")] = (
        "small=5,medium=60,large=300"),
    orders: Annotated[int | None, typer.Option(help="Override the families' order count")] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and time_and_gap.png")] = Path(
        "bench-report"),
    cases: Annotated[str | None, typer.Option(help=(
        "Instead of the options above: family/seeds/limit/methods,... e.g. small/0/5/all,small/1-4/60/"
        "greedy+stockplan"))] = None,
    ui: Annotated[bool, typer.Option("--ui", help=(
        "Instead: the review pages' size and speed (and the plan page in Chromium) on plans of --families "
        "(small, medium); writes ui.md and ui.json into --out"))] = False,
) -> None:
    """Benchmark every method on generated families in one run and write a report."""
    from stockplan.benchmarks.report import FAMILY_NAMES, parse_cases, run, run_cases

    if ui:
        bench_ui(families, out)
        return
    if cases is not None:
        try:
            case_list = parse_cases(cases)
        except ValueError:
            fail("--cases takes family/seeds/limit/methods entries, e.g. small/0/5/all,small/1-4/60/stockplan")
        bad = [c.family for c in case_list if c.family not in FAMILY_NAMES]
        if bad:
            fail(f"unknown family {bad[0]!r}; known: {', '.join(FAMILY_NAMES)}")
        with console.status("benchmarking") as status:
            records = run_cases(case_list, out, orders, progress=lambda msg: status.update(f"benchmarking: {msg}"))
        console.print((out / "report.md").read_text(), markup=False, highlight=False)
        console.print(f"{len(records)} measurements; report in {out}/")
        return
    fams = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in fams if f not in FAMILY_NAMES]
    if unknown:
        fail(f"unknown family {unknown[0]!r}; known: {', '.join(FAMILY_NAMES)}")
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        if "=" in time_limit:
            limits = {k.strip(): float(v) for k, v in (p.split("=") for p in time_limit.split(","))}
        else:
            limits = dict.fromkeys(fams, float(time_limit))
    except ValueError:
        fail("--seeds takes integers and --time-limit seconds (or family=seconds,...)")
    with console.status("benchmarking") as status:
        records = run(fams, seed_list, [m.strip() for m in methods.split(",")], limits, out, orders,
                      progress=lambda msg: status.update(f"benchmarking: {msg}"))
    console.print((out / "report.md").read_text(), markup=False, highlight=False)
    console.print(f"{len(records)} measurements; report in {out}/")


def bench_ui(families: str, out: Path) -> None:
    """``stockplan bench --ui``: :mod:`stockplan.benchmarks.ui_pages` on ``families``, the report printed."""
    from stockplan.benchmarks.ui_pages import TIME_LIMITS, run_ui_benchmark

    fams = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in fams if f not in TIME_LIMITS]
    if unknown:
        fail(f"unknown family {unknown[0]!r} for --ui; known: {', '.join(TIME_LIMITS)}")
    with console.status("benchmarking the review pages") as status:
        run_ui_benchmark(out, fams, progress=lambda msg: status.update(f"benchmarking: {msg}"))
    console.print((out / "ui.md").read_text(), markup=False, highlight=False)
    console.print(f"report in {out}/ui.md and {out}/ui.json")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Solver processes at once (default 2)")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default sqlite:///stockplan.db)")] = None,
    example: Annotated[str | None, typer.Option(help="Submit this bundled example as a job at start")] = None,
) -> None:
    """Run the HTTP API (uvicorn); settings also come from STOCKPLAN_* environment variables."""
    import os

    import uvicorn

    from stockplan.api import auth
    from stockplan.api.app import create_app
    from stockplan.api.db import make_engine, migrate, session_factory
    from stockplan.api.settings import ServiceSettings

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers,
                                    "database_url": database_url}.items() if v is not None}
    try:
        settings = ServiceSettings(**overrides)
    except Exception as exc:  # pydantic's ValidationError: a bad STOCKPLAN_* variable or option
        fail(f"bad setting: {exc}")
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    except Exception as exc:  # unreachable database, bad URL
        fail(f"cannot open the database {settings.database_url}: {type(exc).__name__}: {exc}")
    sessions = session_factory(engine)
    with sessions() as s:
        keys = auth.keys_configured(s)
    if not keys and not auth.is_loopback(settings.host):
        fail(f"no API keys are configured: local development mode binds to loopback only, not {settings.host}. "
             "Create a key first: stockplan keys create --owner NAME")
    base = f"http://{settings.host}:{settings.port}"
    if example is not None:
        with console.status(f"solving the bundled example {escape(example)}"):
            job_id, plan_id = _solve_example(sessions, settings, example)
        if plan_id is None:
            console.print(f"example {escape(example)}: job {job_id} did not solve; see {base}/v1/jobs/{job_id}")
        else:
            console.print(f"example {escape(example)} solved (job {job_id})")
            console.print(f"[bold]review page: {base}/ui/plans/{plan_id}[/]  (all plans: {base}/ui)")
    engine.dispose()
    mode = "API keys required for writes" if keys else "[yellow]local development mode: no API keys, loopback only[/]"
    console.print(f"stockplan API on {base} (docs {base}/docs), database {escape(settings.database_url)}; {mode}")
    os.environ.update({f"STOCKPLAN_{k.upper()}": str(v) for k, v in overrides.items()})
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def _solve_example(sessions: Any, settings: Any, name: str) -> tuple[str, str | None]:
    """Submit a bundled example as a job and solve it here, before the service starts: (job, plan)."""
    from sqlalchemy import update

    from stockplan.api import services
    from stockplan.api.db import Job, JobState, new_id, now
    from stockplan.api.jobs import _solve_and_store
    from stockplan.api.schemas import JobRequest

    data = read_json(EXAMPLE_PREFIX + name)
    body = {"problem": data, "scenario": f"example:{name}"}
    with sessions() as s:
        job, _ = services.submit_job(s, JobRequest.model_validate(body), body, settings, "local-dev", None)
        job_id = job.id
    token = new_id()
    with sessions() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED).values(
            state=JobState.RUNNING, run_token=token, started_at=now(), attempts=Job.attempts + 1))
    _solve_and_store(sessions, job_id, token)
    with sessions() as s:
        done = s.get(Job, job_id)
        return job_id, done.plan_id if done is not None else None


@app.command()
def batch(
    source: Annotated[Path, typer.Argument(help="A folder of problem JSON files, or a manifest JSON")],
    out: Annotated[Path, typer.Option(help="Folder for plans/, summary.json and summary.md (a rerun resumes)")],
    executor: Annotated[str, typer.Option(help="local (processes) or dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://HOST:PORT (default: a LocalCluster)")]
    = None,
    workers: Annotated[int, typer.Option(min=1, help="Solves at once (local) / LocalCluster workers (dask)")] = 2,
    time_limit: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds per problem [default: each problem's settings.time_limit, else 60]")] = None,
    gap: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="[default: each problem's settings.gap, else 1e-6]")] = None,
    explain: Annotated[bool, typer.Option(help="Attach the planner's report to each plan")] = True,
    database_url: Annotated[str | None, typer.Option(help="Store of the service (default: STOCKPLAN_DATABASE_URL "
                                                          "or sqlite:///stockplan.db)")] = None,
    store: Annotated[bool, typer.Option(help="Record the run and its plans in that store")] = True,
) -> None:
    """Solve many problems (or what-if variations of one) concurrently; resumable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stockplan.api.batch import BatchError, load_batch, run_batch
    from stockplan.api.executors import make_executor
    from stockplan.api.settings import ServiceSettings

    if executor not in ("local", "dask"):
        fail(f"unknown executor {executor!r}: local or dask")
    try:
        items = load_batch(source)
    except BatchError as exc:
        fail(str(exc))
    url = (database_url or ServiceSettings().database_url) if store else None
    try:
        runner = make_executor(executor, scheduler, workers, pool=True)
    except OSError as exc:  # a scheduler that cannot be reached
        fail(f"cannot reach the Dask scheduler {scheduler}: {exc}")
    options = {"time_limit": time_limit, "gap": gap, "explain": explain}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("solving", total=len(items))

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, description=f"solving ({escape(name)})")

            summary = run_batch(items, out, runner, executor, workers if executor == "local" else len(items),
                                options, url, str(source), progress)
    finally:
        runner.close()
    console.print((out / "summary.md").read_text(), markup=False, highlight=False)
    failed = summary["by_status"].get("failed", 0)
    console.print(f"{summary['problems']} problems, {failed} failed; plans in {out}/plans"
                  + (f"; run {summary['run']} recorded in {escape(url)}" if url else ""))
    if failed:
        raise typer.Exit(EXIT_NO_PLAN)


keys_app = typer.Typer(help="API keys: with one configured, every write needs Authorization: Bearer <key>.")
app.add_typer(keys_app, name="keys")


def _key_sessions(database_url: str | None) -> Any:
    from stockplan.api.db import make_engine, migrate, session_factory
    from stockplan.api.settings import ServiceSettings

    url = database_url or ServiceSettings().database_url
    engine = make_engine(url)
    try:
        migrate(engine)
    except Exception as exc:  # unreachable database, bad URL
        fail(f"cannot open the database {url}: {type(exc).__name__}: {exc}")
    return session_factory(engine)


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option(help="Who uses the key (recorded as the actor of decisions)")],
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default from STOCKPLAN_DATABASE_URL)")]
    = None,
) -> None:
    """Create a key; it is printed once and stored only as a digest."""
    from stockplan.api import auth

    with _key_sessions(database_url)() as s:
        key = auth.create_key(s, owner)
    console.print(key, markup=False, highlight=False)


@keys_app.command("list")
def keys_list(
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL")] = None,
) -> None:
    """List keys by prefix and owner (never the key)."""
    from sqlalchemy import select

    from stockplan.api.db import ApiKey

    with _key_sessions(database_url)() as s:
        for k in s.scalars(select(ApiKey).order_by(ApiKey.id)).all():
            revoked = "  revoked" if k.revoked else ""
            console.print(f"{k.prefix}…  {escape(k.owner)}  {k.created_at:%Y-%m-%d}{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's first 10 characters, as `keys list` shows")],
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL")] = None,
) -> None:
    """Revoke a key."""
    from stockplan.api import auth

    with _key_sessions(database_url)() as s:
        n = auth.revoke_key(s, prefix)
    if not n:
        fail(f"no active key starts with {prefix!r}")
    console.print(f"revoked {n} key(s)")


@app.command()
def backends() -> None:
    """List the MIP backends."""
    from stockplan.solver.backends import BACKENDS

    for name in BACKENDS:
        console.print(name)


@app.command()
def examples() -> None:
    """List the bundled example problems (use them as example:NAME)."""
    for name in example_names():
        console.print(f"{EXAMPLE_PREFIX}{name}")


def print_summary(source: str, plan: Plan) -> None:
    head = Table(title=escape(source), show_header=False)
    head.add_row("status", f"[bold]{plan.status}[/]")
    head.add_row("cost", f"{plan.cost:,.3f}")
    head.add_row("bound", "—" if plan.bound is None else f"{plan.bound:,.3f}")
    head.add_row("gap", "—" if plan.gap is None else f"{plan.gap:.4%}")
    head.add_row("backend", f"{plan.backend} ({plan.method})")
    head.add_row("seconds", f"{plan.solve_seconds:.2f} (model built in {plan.build_seconds:.2f})")
    head.add_row("decisions", f"{len(plan.shipments)} shipments, {len(plan.purchase_orders)} purchase orders, "
                              f"{len(plan.forecast_fills)} forecast fills")
    if plan.message:
        head.add_row("note", plan.message)
    console.print(head)
    costs = Table(title="cost parts", show_header=False)
    for part, value in plan.costs.model_dump().items():
        costs.add_row(part, f"{value:,.2f}")
    if plan.promise_slip:
        costs.add_row("promise slip (penalty, not a cost part)", f"{plan.promise_slip:,.2f}")
    if plan.shipment_fees:
        costs.add_row("shipment fees (not a cost part)", f"{plan.shipment_fees:,.2f}")
    console.print(costs)
    console.print(f"policy: {plan.policy}" + (
        "" if not plan.policy_violations else f" — [red]{len(plan.policy_violations)} place(s) not followed[/]"))
    for v in plan.policy_violations[:5]:
        console.print(f"  [{v.rule}] {v.message}", highlight=False, markup=False)
    if plan.report is not None:
        print_report(plan.report)


SHOWN = 10  # rows of each table on the terminal; the JSON plan has them all


def print_report(report: PlanReport) -> None:
    k = report.kpis

    def share(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    kpis = Table(title="service", show_header=False)
    kpis.add_row("orders on time", f"{k.orders_on_time} of {k.orders_total} ({share(k.orders_on_time_share)})")
    kpis.add_row("lines on time", f"{k.lines_on_time} of {k.lines_total} ({share(k.lines_on_time_share)}); "
                                  f"{k.lines_backordered} backordered, {k.lines_partially_lost} partly lost, "
                                  f"{k.lines_lost} lost")
    kpis.add_row("fill rate", f"{share(k.fill_rate)} (on time {share(k.on_time_fill_rate)}), {k.units_lost} units lost")
    kpis.add_row("order variance", f"{k.total_order_variance:,.1f} (demand {k.total_demand_variance:,.1f}"
                                   + ("" if k.bullwhip_ratio is None else f", ratio {k.bullwhip_ratio:.2f}") + ")")
    console.print(kpis)
    late = [ln for ln in report.lines if ln.status != "on_time"]
    if late:
        table = Table(title=f"late and lost lines ({len(late)})")
        for col in ("order", "line", "sku", "status", "promised", "reason", "extra cost on time"):
            table.add_column(col)
        for ln in late[:SHOWN]:
            price = f"{ln.extra_cost:,.2f} ({ln.pricing})" if ln.extra_cost is not None else ln.pricing or "—"
            table.add_row(escape(ln.order), str(ln.line), escape(ln.sku), str(ln.status),
                          "—" if ln.promised_date is None else ln.promised_date.isoformat(),
                          escape(ln.reason or ""), escape(price))
        console.print(table)
    if report.purchase_orders:
        table = Table(title=f"purchase orders ({len(report.purchase_orders)})")
        for col in ("agreement", "role", "placed", "arrives", "qty", "serves", "why"):
            table.add_column(col)
        for po in report.purchase_orders[:SHOWN]:
            serves = f"{len(po.serves)} line(s)" + (f", {po.to_safety_stock} to safety stock" if po.to_safety_stock
                                                    else "")
            table.add_row(escape(po.agreement), po.role, po.placed_date.isoformat(), po.arrival_date.isoformat(),
                          str(po.quantity), serves, escape(po.reason))
        console.print(table)
    print_safety_stock(report)
    if report.notices:
        table = Table(title=f"customer notices ({len(report.notices)})")
        for col in ("order", "customer", "kind", "new date", "message"):
            table.add_column(col)
        for n in report.notices[:SHOWN]:
            table.add_row(escape(n.order), escape(n.customer), str(n.kind),
                          "—" if n.new_date is None else n.new_date.isoformat(), escape(n.message))
        console.print(table)


SAFETY_SHOWN = 20  # rows of the safety stock table on the terminal


def print_safety_stock(report: PlanReport) -> None:
    """Safety stock and reorder point of each SKU-location that has them, then the notes about them."""
    rows = [r for r in report.reorder_points if r.safety_stock > 0 or r.reorder_point is not None]
    if rows:
        table = Table(title=f"safety stock and reorder points ({len(rows)})")
        for col in ("sku", "location", "safety stock", "reorder point", "from", "cost per unit short"):
            table.add_column(col)
        for r in rows[:SAFETY_SHOWN]:
            terms = [f"L {r.lead_periods}"] + ([f"R {r.review_periods}"] if r.review_periods else [])
            terms += ["no demand rate"] if r.demand_per_period is None else []
            cost = f"{r.safety_stock_cost:g}" + (" (ignored)" if r.safety_stock_cost == 0 and r.safety_stock else "")
            table.add_row(escape(r.sku), escape(r.location), str(r.safety_stock),
                          "—" if r.reorder_point is None else str(r.reorder_point),
                          f"{r.basis} ({', '.join(terms)})", cost)
        if len(rows) > SAFETY_SHOWN:
            table.caption = f"and {len(rows) - SAFETY_SHOWN} more (the JSON plan has them all)"
        console.print(table)
    notes = report.safety_stock_notes
    for n in notes[:SAFETY_SHOWN]:
        console.print(f"warning: {n.path}: {n.message}", highlight=False, markup=False, soft_wrap=True)
    if len(notes) > SAFETY_SHOWN:
        console.print(f"and {len(notes) - SAFETY_SHOWN} more safety stock warnings (report.safety_stock_notes)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
