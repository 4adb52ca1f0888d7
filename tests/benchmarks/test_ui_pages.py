"""The review pages' benchmark harness (benchmarks/ui_pages.py) on a bundled example: a row per address, real numbers.

Sizes and statuses only: timings are measured, never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.testclient import TestClient

from benchmarks.report import git_state, machine
from benchmarks.ui_pages import (
    BULK,
    PAGES,
    Review,
    measure_review,
    missing_browser,
    solve_plan,
    store_review,
)
from benchmarks.ui_report import write_ui_report
from stockplan.api.ui.web import form_fields
from tests.api.conftest import example_problem

ALWAYS_THERE = ("plans list", "plan", "plan, exceptions page 3", "compare")  # pages that exist today


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Review:
    """mixed-small solved twice (the second supersedes the first) in a fresh database."""
    problem = example_problem("mixed-small")
    plans = [solve_plan(problem, 5.0), solve_plan(problem, 5.0)]
    return store_review("bench-mixed-small", problem, plans, tmp_path_factory.mktemp("ui") / "stockplan.db")


def result_of(entry: dict[str, Any]) -> dict[str, Any]:
    return {"machine": machine(), "git": git_state(Path(__file__).resolve().parents[2]),
            "settings": {"repeats": 2, "loads": 1, "seed": 0, "bulk_batch": 25, "time_limits": {},
                         "targets": {"server_ms": 300.0, "html_kb": 300.0, "first_paint_ms": 1000.0}},
            "families": [entry]}


def test_the_database_holds_a_superseded_pair(review: Review) -> None:
    assert len(review.plans) == 2 and review.older != review.newer
    assert review.orders == 25 and review.purchase_orders > 0 and review.supplier
    assert review.address("/ui/compare?a={older}&b={newer}") == f"/ui/compare?a={review.older}&b={review.newer}"


def test_every_address_gets_a_row_with_real_numbers_and_the_report_says_so(review: Review, tmp_path: Path) -> None:
    entry = measure_review(review, tmp_path, repeats=2, loads=0, browser=False)
    pages = entry["pages"]
    assert [p["page"] for p in pages] == [name for name, _ in PAGES]
    assert len({p["url"] for p in pages}) == len(PAGES)
    for row in pages:
        assert isinstance(row["status"], int) and row["cold_ms"] > 0, row
        if row["missing"]:
            assert row["status"] == 404 and row["median_ms"] is None
        else:
            assert row["bytes"] > 1_000 and "text/html" in row["content_type"], row
            assert len(row["samples_ms"]) == 2 and row["max_ms"] >= row["median_ms"] > 0, row
            assert isinstance(row["met"], bool)
    by_name = {p["page"]: p for p in pages}
    for name in ALWAYS_THERE:
        assert by_name[name]["status"] == 200, by_name[name]
    assert review.newer in by_name["plan"]["url"] and review.older in by_name["compare"]["url"]
    bulk = entry["bulk"]
    assert bulk["url"] == BULK.format(plan=review.newer) and isinstance(bulk["status"], int)
    assert bulk["missing"] == (bulk["status"] in (404, 405))
    if not bulk["missing"]:
        assert bulk["status"] < 400 and len(bulk["samples_ms"]) == 2, bulk
    assert entry["browser"] == {"skipped": "not asked for"}

    write_ui_report(result_of(entry), tmp_path / "out")
    data = json.loads((tmp_path / "out" / "ui.json").read_text())
    assert [p["page"] for p in data["families"][0]["pages"]] == [name for name, _ in PAGES]
    md = (tmp_path / "out" / "ui.md").read_text()
    assert "Commit " in md and "## bench-mixed-small: 25 orders" in md
    table = [line for line in md.splitlines() if line.startswith("| ") and "`/ui" in line]
    assert len(table) == len(PAGES)
    for (name, address), line in zip(PAGES, table, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == name and cells[1] == f"`{address}`"
        assert cells[2].startswith("missing") or (float(cells[3].replace(",", "")) > 1 and float(cells[5]) > 0)
        assert cells[7] in ("✓", "✗", "missing")
    assert "each page's HTML ≤ 300 KB" in md and "Chromium: not measured" in md


@pytest.mark.skipif(missing_browser() is not None, reason=missing_browser() or "")
def test_the_plan_page_in_chromium_reports_first_paint(review: Review, tmp_path: Path) -> None:
    from benchmarks.ui_pages import measure_browser

    seen = measure_browser(review, tmp_path, loads=1)
    assert seen["loads"] == 1 and seen["errors"] == [] and seen["samples"][0]["status"] == 200
    assert seen["fcp_ms"] > 0 and seen["dcl_ms"] > 0 and isinstance(seen["met"], bool)
    write_ui_report(result_of({"name": "x", "orders": 25, "plans": review.plans, "supplier": review.supplier,
                               "purchase_orders": review.purchase_orders, "pages": [],
                               "bulk": {"url": "", "missing": True, "status": 404}, "browser": seen}),
                    tmp_path / "out")
    assert "first contentful paint" in (tmp_path / "out" / "ui.md").read_text()


def test_a_bulk_route_gets_repeated_indices_in_disjoint_slices(review: Review, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a stand-in of the bulk route (the real one is being built): the form it receives, the POST timed."""
    import benchmarks.ui_pages as ui_pages

    received: list[list[tuple[str, str]]] = []
    app = FastAPI()

    @app.post("/ui/plans/{plan_id}/bulk")
    async def stand_in(plan_id: str, request: Request) -> RedirectResponse:
        received.append([(k, v) for k, values in (await form_fields(request)).items() for v in values])
        return RedirectResponse(f"/ui/plans/{plan_id}", status_code=303)

    monkeypatch.setattr(ui_pages, "_client", lambda _review: TestClient(app))
    monkeypatch.setattr(review, "purchase_orders", 9)
    bulk = ui_pages.measure_bulk(review, repeats=2, batch=25)
    assert bulk["missing"] is False and bulk["statuses"] == [303, 303, 303] and bulk["batch"] == 3
    assert len(bulk["samples_ms"]) == 2 and isinstance(bulk["met"], bool)
    indices = [[int(v) for k, v in form if k == "index"] for form in received]
    assert indices == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert all(("target", "purchase_order") in f and ("decision", "approve") in f for f in received)


def test_stockplan_bench_ui_runs_the_harness_on_the_families_asked(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import stockplan.benchmarks.ui_pages as installed
    from stockplan.api import cli

    calls: list[tuple[Path, list[str]]] = []

    def fake_run(out: Path, families: list[str], **_: Any) -> dict[str, Any]:
        calls.append((out, families))
        out.mkdir(parents=True, exist_ok=True)
        (out / "ui.md").write_text("# Review pages: size and speed\n")
        return {}

    monkeypatch.setattr(installed, "run_ui_benchmark", fake_run)
    result = CliRunner().invoke(cli.app, ["bench", "--ui", "--families", "small", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path, ["small"])] and "Review pages" in result.output
    result = CliRunner().invoke(cli.app, ["bench", "--ui", "--families", "large", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown family 'large'" in result.output and len(calls) == 1
