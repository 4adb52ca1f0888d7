"""Benchmark of the review pages (``/ui``): each page's server time and HTML size, and the plan page in Chromium.

The targets (GitHub issue 15, item 5), on generated 1,000- and 10,000-order plans:

* each page answers in ≤ 300 ms on the server (the median of warm requests) with ≤ 300 KB of HTML;
* the plan page's first screen renders in under 1 s in Chromium (first contentful paint).

How it measures, per family (``small`` = 1,000 orders, ``medium`` = 10,000; seed 0):

* **Plans.** The generated problem is solved twice (two time limits, the service's own
  :func:`stockplan.api.batch.solve_item`), the plans cached under ``benchmarks/.cache/ui/`` (keyed by the
  family, seed, limit and a digest of the solver's and models' sources, so a code change solves again).
  Both go into a fresh SQLite database as ``stockplan batch`` stores them
  (:func:`stockplan.api.batch.store_plan`, one ``BatchRun`` each, one scenario): the second supersedes the
  first, so there is a pair to compare.
* **Pages.** The app (:func:`stockplan.api.app.create_app`) is driven in-process by FastAPI's ``TestClient``.
  Every address of :data:`PAGES` is requested once cold (timed and reported on its own), then ``repeats``
  times warm: status, bytes of HTML, and the median and max of the warm requests' wall time. An address
  answering 404 is reported as *missing* (the page is not built yet), never an error of the run.
* **Bulk decision.** ``POST`` :data:`BULK` (approve :data:`BULK_BATCH` purchase orders at once, a disjoint
  slice each time) if the route exists, else *missing*; redirects are not followed, so the POST alone is timed.
* **Browser.** A real ``stockplan serve`` on the same database; headless Chromium (Debian's
  ``/usr/bin/chromium`` driven by Playwright's sync API, never a Playwright download) opens the plan page
  at 1280×800 ``loads`` times, each in a fresh browser context (nothing cached): first contentful paint and
  ``DOMContentLoaded`` from the page's performance timeline, median over the loads.

Nothing is asserted (the machines are shared and noisy); :mod:`benchmarks.ui_report` writes ``ui.json``
(everything, samples included) and ``ui.md`` (a table per family, each target measured and ✓/✗).

Command line (about 5 minutes on 2 cores with the plans cached — a 10,000-order page takes seconds today —
and 2 more to solve them the first time)::

    python -m benchmarks.ui_pages --out benchmarks/results
    stockplan bench --ui --families small,medium --out benchmarks/results
    python -m benchmarks.ui_pages --families small --repeats 5 --no-browser --out /tmp/ui
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .generator import FAMILIES, generate
from .report import git_state, machine
from .ui_report import write_ui_report

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
LOAD_TIMEOUT_MS = 60_000  # one load of the plan page in Chromium, at most

#: The pages measured: (name, address). ``{plan}`` is the newer plan, ``{older}`` the one it superseded,
#: ``{supplier}`` the first supplier of the newer plan's purchase orders (URL-quoted). Extend here.
PAGES: tuple[tuple[str, str], ...] = (
    ("plans list", "/ui"),
    ("plan", "/ui/plans/{plan}"),
    ("purchase orders", "/ui/plans/{plan}/purchase-orders"),
    ("shipments", "/ui/plans/{plan}/shipments"),
    ("notices", "/ui/plans/{plan}/notices"),
    ("stock", "/ui/plans/{plan}/stock"),
    ("audit", "/ui/plans/{plan}/audit"),
    ("purchase orders of one supplier", "/ui/plans/{plan}/purchase-orders?supplier={supplier}"),
    ("plan, exceptions page 3", "/ui/plans/{plan}?page=3"),
    ("late lines by due date", "/ui/plans/{plan}?status=backordered&sort=due"),
    ("every stock chart, page 2", "/ui/plans/{plan}/stock?show=all&page=2"),
    ("compare", "/ui/compare?a={older}&b={newer}"),
    ("compare, orders page 2", "/ui/compare?a={older}&b={newer}&orders_page=2"),
)
#: Pages whose figures the service memoises per pair of plans: every request of these is timed as the first one
#: for that pair (the memo is cleared before it), as a planner opening the comparison meets it. The next page
#: measures paging, which the memo serves.
FIRST_FOR_THE_PAIR = frozenset({"compare"})
#: The bulk decision: approve this many purchase orders of the newer plan in one POST.
BULK = "/ui/plans/{plan}/bulk"
BULK_BATCH = 25

#: Family -> the two solves' time limits (seconds): the first plan, then the one that supersedes it.
TIME_LIMITS: dict[str, tuple[float, float]] = {"small": (5.0, 10.0), "medium": (30.0, 45.0)}
DEFAULT_FAMILIES = ("small", "medium")
SEED = 0

#: The targets.
TARGET_SERVER_MS = 300.0
TARGET_HTML_KB = 300.0
TARGET_FIRST_PAINT_MS = 1000.0


# ---------------------------------------------------------------------------------------------- plans


def code_digest() -> str:
    """A digest of the sources a stored plan depends on (solver, models, the batch door): the cache's key."""
    h = hashlib.sha256()
    files = sorted([*(ROOT / "solver").rglob("*.py"), *(ROOT / "models").rglob("*.py"), ROOT / "api" / "batch.py"])
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def solve_plan(problem: dict[str, Any], time_limit: float, seed: int = 0) -> dict[str, Any]:
    """Solve as the service does (``solve_item``: the plan as JSON-ready data, with its report)."""
    from stockplan.api.batch import solve_item

    return solve_item(problem, {"time_limit": time_limit, "seed": seed})


def cached_plans(family: str, seed: int = SEED, limits: Sequence[float] | None = None,
                 cache: Path = CACHE, progress: Callable[[str], None] | None = None,
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The generated problem of ``family`` and its plans at each time limit, solved once and cached on disk."""
    say = progress or (lambda _line: None)
    problem = generate(family, seed)
    digest = code_digest()
    plans = []
    for limit in limits or TIME_LIMITS[family]:
        path = cache / f"{family}-seed{seed}-T{limit:g}-{digest}.json"
        if path.exists():
            plans.append(json.loads(path.read_text()))
            continue
        say(f"{family}: solving {len(problem['orders']):,} orders, time limit {limit:g} s (cached afterwards)")
        plan = solve_plan(problem, limit, seed)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(plan))
        tmp.replace(path)
        plans.append(plan)
    return problem, plans


@dataclass
class Review:
    """The plans of one family in their own database: what the pages are asked for."""

    name: str
    orders: int
    database: Path
    plans: list[str]  # oldest first; each supersedes the one before
    supplier: str | None
    purchase_orders: int

    @property
    def url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def newer(self) -> str:
        return self.plans[-1]

    @property
    def older(self) -> str:
        return self.plans[-2] if len(self.plans) > 1 else self.plans[-1]

    def address(self, template: str) -> str:
        return template.format(plan=self.newer, newer=self.newer, older=self.older,
                               supplier=quote(self.supplier or "", safe=""))


def first_supplier(problem: dict[str, Any], plan: dict[str, Any]) -> str | None:
    """The supplier of the plan's first purchase order (from its report, else the problem's agreement)."""
    for po in (plan.get("report") or {}).get("purchase_orders", []):
        if po.get("supplier"):
            return str(po["supplier"])
    suppliers = {a["id"]: a.get("supplier") for a in problem.get("agreements", [])}
    for po in plan.get("purchase_orders", []):
        if suppliers.get(po["agreement"]):
            return str(suppliers[po["agreement"]])
    return None


def store_review(name: str, problem: dict[str, Any], plans: Sequence[dict[str, Any]], database: Path) -> Review:
    """A fresh SQLite database holding ``plans`` of ``problem`` (one scenario, oldest first) as the service does."""
    from sqlalchemy import select

    from stockplan.api.batch import BatchItem, store_plan
    from stockplan.api.db import BatchRun, Job, PlanRow, make_engine, migrate, new_id, session_factory

    database.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    try:
        migrate(engine)
        sessions = session_factory(engine)
        item = BatchItem(name=name, problem=problem)
        ids = []
        for plan in plans:
            run_id = new_id()
            with sessions() as s, s.begin():
                s.add(BatchRun(id=run_id, source=f"benchmarks.ui_pages:{name}", executor="local"))
            if not store_plan(sessions, run_id, item, {"time_limit": plan.get("solve_seconds")}, plan):
                raise RuntimeError(f"{name}: the plan was not stored")
            with sessions() as s:
                ids.append(s.scalar(select(PlanRow.id).join(Job, Job.id == PlanRow.job_id)
                                    .where(Job.batch_id == run_id)))
    finally:
        engine.dispose()
    return Review(name=name, orders=len(problem["orders"]), database=database, plans=[str(i) for i in ids],
                  supplier=first_supplier(problem, plans[-1]),
                  purchase_orders=len(plans[-1].get("purchase_orders", [])))


# ---------------------------------------------------------------------------------------------- pages


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def _client(review: Review) -> Any:
    """FastAPI's ``TestClient`` of the app on ``review``'s database (a context manager: the app's lifespan)."""
    import warnings

    from stockplan.api.app import create_app
    from stockplan.api.settings import ServiceSettings

    with warnings.catch_warnings():  # Starlette's advice to install httpx2: not this benchmark's concern
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    # A page that fails answers 500 in the report, as it would to a browser, rather than ending the run.
    return TestClient(create_app(ServiceSettings(database_url=review.url, workers=1)), raise_server_exceptions=False)


def forget_compared_pairs() -> None:
    """Clear the service's memo of compared pairs, so that the next compare request works its figures out."""
    from stockplan.api.ui import compare

    compare.PAIRS.clear()


def measure_pages(review: Review, repeats: int = 5, pages: Sequence[tuple[str, str]] = PAGES) -> list[dict[str, Any]]:
    """Every page of ``pages``: one cold request, then ``repeats`` warm ones (a 404 is reported as missing)."""
    rows = []
    with _client(review) as client:
        for name, template in pages:
            url = review.address(template)
            began = time.perf_counter()
            r = client.get(url, follow_redirects=False)
            cold = time.perf_counter() - began
            row: dict[str, Any] = {"page": name, "address": template, "url": url, "status": r.status_code,
                                   "missing": r.status_code == 404, "bytes": len(r.content),
                                   "content_type": r.headers.get("content-type", ""), "cold_ms": _ms(cold)}
            if r.status_code == 404:
                rows.append(row | {"median_ms": None, "max_ms": None, "samples_ms": [], "met": None})
                continue
            samples, statuses = [], set()
            for _ in range(repeats):
                if name in FIRST_FOR_THE_PAIR:
                    forget_compared_pairs()
                began = time.perf_counter()
                r = client.get(url, follow_redirects=False)
                samples.append(time.perf_counter() - began)
                statuses.add(r.status_code)
            median = _ms(statistics.median(samples)) if samples else None
            row |= {"median_ms": median, "max_ms": _ms(max(samples)) if samples else None,
                    "samples_ms": [_ms(x) for x in samples], "warm_statuses": sorted(statuses)}
            row["met"] = (r.status_code == 200 and median is not None and median <= TARGET_SERVER_MS
                          and row["bytes"] <= TARGET_HTML_KB * 1000)
            rows.append(row)
    return rows


def measure_bulk(review: Review, repeats: int = 5, batch: int = BULK_BATCH) -> dict[str, Any]:
    """``POST`` :data:`BULK` approving ``batch`` purchase orders, once cold and ``repeats`` times warm."""
    url = review.address(BULK)
    n = review.purchase_orders
    size = max(1, min(batch, n // (repeats + 1))) if n else 0
    result: dict[str, Any] = {"url": url, "batch": size, "purchase_orders": n}
    if not n:
        return result | {"missing": False, "status": None, "note": "the plan has no purchase order"}

    def form(k: int) -> dict[str, str | list[str]]:
        first = (k * size) % n
        return {"target": "purchase_order", "decision": "approve",
                "index": [str((first + j) % n) for j in range(size)], "comment": "benchmark: bulk approval"}

    with _client(review) as client:
        samples, statuses = [], []
        for k in range(repeats + 1):
            began = time.perf_counter()
            r = client.post(url, data=form(k), follow_redirects=False)
            samples.append(time.perf_counter() - began)
            statuses.append(r.status_code)
            if k == 0 and r.status_code in (404, 405):
                return result | {"missing": True, "status": r.status_code, "cold_ms": _ms(samples[0])}
    warm = samples[1:]
    median = _ms(statistics.median(warm)) if warm else None
    return result | {"missing": False, "status": statuses[0], "statuses": statuses, "cold_ms": _ms(samples[0]),
                     "median_ms": median, "max_ms": _ms(max(warm)) if warm else None,
                     "samples_ms": [_ms(x) for x in warm],
                     "met": statuses[0] < 400}  # a write: no time target (it evaluates the approved set)


# ---------------------------------------------------------------------------------------------- browser


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (Playwright or ``/usr/bin/chromium`` missing), or None."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (the test extra: pip install -c constraints.txt -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian's package: apt-get install chromium)"
    return None


#: Read in the page once it has loaded: first contentful paint, DOMContentLoaded and the document's own timing.
TIMING_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
  return {fcp: fcp ? fcp.startTime : null, dcl: nav ? nav.domContentLoadedEventEnd : null,
          load: nav ? nav.loadEventEnd : null, ttfb: nav ? nav.responseStart : null,
          response_end: nav ? nav.responseEnd : null, bytes: nav ? nav.transferSize : null};
}"""


def _load(page: Any, url: str) -> dict[str, Any]:
    """Open ``url``: the timeline's numbers once painted and loaded, as far as it got within the timeout."""
    from playwright.sync_api import Error as PlaywrightError

    page.set_default_timeout(LOAD_TIMEOUT_MS)
    began = time.perf_counter()
    timing: dict[str, Any] = {}
    try:
        response = page.goto(url, wait_until="commit")
        timing["status"] = response.status if response is not None else None
        # First paint, then the document parsed, then loaded: each step's figure kept if a later one times out.
        page.wait_for_function("() => performance.getEntriesByType('paint').length > 0", polling=20)
        timing |= {k: v for k, v in page.evaluate(TIMING_JS).items() if v}
        left = round(max(1_000.0, LOAD_TIMEOUT_MS - 1000.0 * (time.perf_counter() - began)))
        page.wait_for_load_state("load", timeout=left)
        page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0", polling=20)
        timing |= {k: v for k, v in page.evaluate(TIMING_JS).items() if v}
    except PlaywrightError as exc:  # a timeout too: reported with the load, the run goes on
        timing["error"] = str(exc).splitlines()[0][:300]
        if "fcp" not in timing:
            timing["timed_out_after_ms"] = round(1000.0 * (time.perf_counter() - began))
    return timing


def measure_browser(review: Review, workdir: Path, loads: int = 3) -> dict[str, Any]:
    """The newer plan's page in headless Chromium at 1280×800, ``loads`` times: FCP and DOMContentLoaded (ms)."""
    from .service_server import ServiceProcess

    reason = missing_browser()
    if reason is not None:
        return {"skipped": reason}
    from playwright.sync_api import sync_playwright

    samples = []
    with ServiceProcess(workdir, warm=True, workers=1, database=review.database) as server, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            url = f"{server.base}{review.address('/ui/plans/{plan}')}"
            for _ in range(loads):
                context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                try:
                    page = context.new_page()
                    timing = _load(page, url)
                    samples.append(timing)
                finally:
                    context.close()
                if "error" in timing:
                    break  # a page that cannot load in time once will not the next time: spare the minutes
        finally:
            browser.close()

    def median(key: str) -> float | None:
        values = [s[key] for s in samples if s.get(key) is not None]
        return round(statistics.median(values), 1) if values else None

    fcp = median("fcp")
    errors = [s["error"] for s in samples if "error" in s]
    return {"url": review.address("/ui/plans/{plan}"), "loads": loads, "viewport": VIEWPORT, "errors": errors,
            "painted_loads": sum("fcp" in s for s in samples), "fcp_ms": fcp, "dcl_ms": median("dcl"),
            "load_ms": median("load"), "ttfb_ms": median("ttfb"), "samples": samples,
            "met": fcp is not None and fcp < TARGET_FIRST_PAINT_MS}


# ---------------------------------------------------------------------------------------------- the run


def measure_review(review: Review, workdir: Path, repeats: int = 5, loads: int = 3, browser: bool = True,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Pages, then the browser, then the bulk POST (it changes the plan, so it comes last): one family's result."""
    say = progress or (lambda _line: None)
    say(f"{review.name}: {len(PAGES)} pages, 1 cold + {repeats} warm requests each")
    pages = measure_pages(review, repeats)
    if browser and loads:
        say(f"{review.name}: the plan page in Chromium, {loads} loads")
        try:
            seen = measure_browser(review, workdir, loads)
        except RuntimeError as exc:  # the server did not start: say so, measure the rest
            seen = {"skipped": f"the server did not start ({str(exc).splitlines()[0]})"}
    else:
        seen = {"skipped": "not asked for"}
    say(f"{review.name}: bulk decision POST")
    bulk = measure_bulk(review, repeats)
    return {"name": review.name, "orders": review.orders, "plans": review.plans, "supplier": review.supplier,
            "purchase_orders": review.purchase_orders, "pages": pages, "bulk": bulk, "browser": seen}


def run_ui_benchmark(out: Path, families: Sequence[str] = DEFAULT_FAMILIES, repeats: int = 5, loads: int = 3,
                     browser: bool = True, cache: Path = CACHE,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Solve (or load cached) plans per family, measure their pages, write ``ui.md`` and ``ui.json`` into ``out``."""
    result: dict[str, Any] = {
        "machine": machine(), "git": git_state(ROOT),
        "settings": {"repeats": repeats, "loads": loads, "seed": SEED, "bulk_batch": BULK_BATCH,
                     "time_limits": {f: list(TIME_LIMITS[f]) for f in families},
                     "targets": {"server_ms": TARGET_SERVER_MS, "html_kb": TARGET_HTML_KB,
                                 "first_paint_ms": TARGET_FIRST_PAINT_MS}},
        "families": [],
    }
    with tempfile.TemporaryDirectory(prefix="stockplan-ui-bench-") as tmp:
        for family in families:
            problem, plans = cached_plans(family, SEED, cache=cache, progress=progress)
            workdir = Path(tmp) / family
            workdir.mkdir()
            review = store_review(f"bench-{family}-{SEED}", problem, plans, workdir / "stockplan.db")
            entry = measure_review(review, workdir, repeats, loads, browser, progress)
            entry |= {"family": family, "time_limits": list(TIME_LIMITS[family]),
                      "plan_status": [p.get("status") for p in plans]}
            result["families"].append(entry)
    write_ui_report(result, out)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="directory of ui.md, ui.json")
    parser.add_argument("--families", default=",".join(DEFAULT_FAMILIES),
                        help=f"comma-separated, of {', '.join(TIME_LIMITS)}")
    parser.add_argument("--repeats", type=int, default=5, help="warm requests per page (after one cold)")
    parser.add_argument("--loads", type=int, default=3, help="loads of the plan page in Chromium")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    args = parser.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in TIME_LIMITS or f not in FAMILIES]
    if unknown:
        parser.error(f"unknown family {unknown[0]!r}; known: {', '.join(TIME_LIMITS)}")
    if not 1 <= args.repeats <= 100 or not 0 <= args.loads <= 20:
        parser.error("--repeats takes 1 to 100, --loads 0 to 20")
    began = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {line}", flush=True)

    run_ui_benchmark(args.out, families, args.repeats, args.loads, not args.no_browser, progress=say)
    print((args.out / "ui.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
