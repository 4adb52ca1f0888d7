"""Fixtures for the review pages in a real browser: Playwright (sync API) drives Debian's Chromium, headless, at
1280×800, against ``stockplan serve`` running in a subprocess on a fresh SQLite file.

Chromium is the system's (``/usr/bin/chromium``, installed by ``.ci/run``), never a Playwright download; when it
or Playwright (the ``test`` extra) is missing, these tests are skipped saying which and how to get it. Screenshots
go to each test's temporary folder; with ``STOCKPLAN_SCREENSHOTS=docs`` the plan page is also written to
``docs/plan-page.png`` (the README's picture).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import example_problem, served

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS_ENV = "STOCKPLAN_SCREENSHOTS"
VIEWPORT = {"width": 1280, "height": 800}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (Playwright or Chromium missing), or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the browser tests need Playwright (the test extra): pip install -c constraints.txt -e '.[test]'"
    if not CHROMIUM.exists():
        return (f"the browser tests need Chromium at {CHROMIUM} (Debian's package: apt-get install chromium; "
                ".ci/run installs it). Playwright's own browser download is not used.")
    return None


# Checked before any fixture runs, so a machine without a browser skips the browser tests (each module marks
# itself with ``needs_browser``) without starting a server.
MISSING = missing_browser()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``stockplan serve`` on a free port and a fresh database (local development mode); its base URL."""
    folder = tmp_path_factory.mktemp("browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")}
    env.update(STOCKPLAN_WORKERS="2", STOCKPLAN_DEFAULT_TIME_LIMIT="30", STOCKPLAN_MAX_WAIT="60")
    with served(folder, f"sqlite:///{folder / 'stockplan.db'}", env) as base:
        yield base


def solve(base: str, name: str | dict[str, Any], scenario: str, time_limit: float | None = None) -> dict[str, Any]:
    """Solve a bundled example (by name) or a problem through ``POST /v1/jobs`` on the server; the plan."""
    body: dict[str, Any] = {"problem": example_problem(name) if isinstance(name, str) else name,
                            "scenario": scenario}
    if time_limit is not None:
        body["options"] = {"time_limit": time_limit}
    r = httpx.post(f"{base}/v1/jobs?wait=60", json=body, timeout=120)
    job = r.json()
    deadline = time.monotonic() + 120
    while job["state"] not in ("succeeded", "failed", "canceled") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = httpx.get(f"{base}/v1/jobs/{job['id']}", timeout=10).json()
    assert job["state"] == "succeeded", job
    plan: dict[str, Any] = httpx.get(f"{base}/v1/plans/{job['plan_id']}", timeout=30).json()
    return plan


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()


def screenshot(page: Any, folder: Path, name: str, docs: bool = False) -> Path:
    """Into the test's folder; the README's copy too when STOCKPLAN_SCREENSHOTS names a folder (``docs``)."""
    path = folder / name
    page.screenshot(path=str(path))
    target = os.environ.get(SCREENSHOTS_ENV)
    if docs and target:
        out = Path(target) if Path(target).is_absolute() else ROOT / target
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / name))
    assert path.stat().st_size > 10_000
    return path


def tab_to(page: Any, element_id: str, most: int) -> int:
    """Press Tab from where the focus is until ``element_id`` has it (at most ``most`` presses); how many."""
    tabs = 0
    while page.evaluate("document.activeElement.id") != element_id:
        tabs += 1
        assert tabs < most, f"Tab did not reach #{element_id} within {most} presses"
        page.keyboard.press("Tab")
    return tabs


def focus_is_visible(page: Any) -> bool:
    """The focused element draws a focus ring of at least 2 px."""
    style, width = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); "
                                 "return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    return bool(style != "none" and width >= 2)

