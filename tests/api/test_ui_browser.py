"""The review pages in a real browser: Playwright (sync API) drives Debian's Chromium, headless, at 1280×800,
against ``stockplan serve`` running in a subprocess on a fresh SQLite file.

Chromium is the system's (``/usr/bin/chromium``, installed by ``.ci/run``), never a Playwright download; when it
or Playwright (the ``test`` extra) is missing, these tests are skipped saying which and how to get it. Screenshots
go to each test's temporary folder; with ``STOCKPLAN_SCREENSHOTS=docs`` the plan page is also written to
``docs/plan-page.png`` (the README's picture).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stockplan.api.ui.formatting import signed_money
from tests.api.conftest import example_problem

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
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


# Checked before any fixture runs, so a machine without a browser skips these without starting a server.
MISSING = missing_browser()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``stockplan serve`` on a free port and a fresh database (local development mode); its base URL."""
    folder = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")}
    env.update(STOCKPLAN_WORKERS="2", STOCKPLAN_DEFAULT_TIME_LIMIT="30", STOCKPLAN_MAX_WAIT="60")
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stockplan.api.cli", "serve", "--port", str(port),
                                 "--database-url", f"sqlite:///{folder / 'stockplan.db'}"],
                                cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stockplan serve did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def solve(base: str, name: str, scenario: str) -> dict[str, Any]:
    r = httpx.post(f"{base}/v1/jobs?wait=60", json={"problem": example_problem(name), "scenario": scenario},
                   timeout=120)
    job = r.json()
    deadline = time.monotonic() + 120
    while job["state"] not in ("succeeded", "failed", "canceled") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = httpx.get(f"{base}/v1/jobs/{job['id']}", timeout=10).json()
    assert job["state"] == "succeeded", job
    plan: dict[str, Any] = httpx.get(f"{base}/v1/plans/{job['plan_id']}", timeout=10).json()
    return plan


@pytest.fixture(scope="module")
def plans(server: str) -> dict[str, dict[str, Any]]:
    """mixed-small solved twice in one scenario: the second supersedes the first."""
    old = solve(server, "mixed-small", "eu-weekly")
    return {"old": old, "new": solve(server, "mixed-small", "eu-weekly")}


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


def test_review_edit_and_approve_a_plan(server: str, plans: dict[str, Any], page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    plan = plans["new"]
    pid = plan["id"]
    page.goto(f"{server}/ui")
    page.get_by_role("link", name=pid[:8], exact=True).click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Plan {pid[:8]}")
    expect(page.locator("#exceptions")).to_contain_text("SO-00013")
    expect(page.locator("#stock svg[role=img]")).to_have_count(8)
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]  # no sideways scrolling
    screenshot(page, tmp_path, "plan-page.png", docs=True)

    index = next(i for i, po in enumerate(plan["plan"]["purchase_orders"]) if po["agreement"] == "AG-12")
    ordered = plan["plan"]["purchase_orders"][index]["quantity"]
    row = page.locator(f"#po-{index}")
    verdict = page.locator(f"#po-{index}-verdict")
    approve = page.locator("#approve-plan")
    # Break AG-12's pack size of 10: the rule is shown at once, approving is disabled.
    row.get_by_label(f"New quantity for purchase order #{index + 1}").fill(str(ordered + 5))
    row.get_by_role("button", name=f"Check purchase order #{index + 1}").click()
    expect(verdict).to_contain_text("pack_size")
    expect(verdict).to_contain_text("not a multiple of its pack size 10")
    expect(approve).to_be_disabled()
    expect(page.locator("#approve-blocked")).to_contain_text("breaks 1 rule")
    expect(page.locator(f"#po-approve-{index}")).to_be_disabled()
    expect(page.locator(f"#po-{index}-qty")).to_contain_text(f"edited · solved {ordered}")
    screenshot(page, tmp_path, "plan-broken-edit.png")
    # A stale page that still offers the button: the server refuses, and the page says why.
    page.eval_on_selector("#approve-plan", "b => { b.disabled = false; }")
    approve.click()
    expect(page.locator("#error")).to_contain_text("The edited plan breaks 1 rule(s)")
    expect(page.locator("#error")).to_contain_text("pack size 10")
    expect(approve).to_be_disabled()
    assert httpx.get(f"{server}/v1/plans/{pid}", timeout=10).json()["state"] == "proposed"
    # Fix it: the cost delta is shown and approving is possible again.
    page.goto(f"{server}/ui/plans/{pid}")
    row.get_by_label(f"New quantity for purchase order #{index + 1}").fill(str(ordered + 10))
    row.get_by_role("button", name=f"Check purchase order #{index + 1}").click()
    expect(verdict).to_contain_text("breaks no rule")
    evaluation = httpx.get(f"{server}/v1/plans/{pid}/evaluation", timeout=10).json()
    assert evaluation["feasible"] and evaluation["cost_delta"] > 0
    expect(verdict).to_contain_text(signed_money(evaluation["cost_delta"]))
    expect(page.locator("#decision")).to_contain_text("Edited plan breaks no rule")
    expect(approve).to_be_enabled()
    # By keyboard from the top of a fresh page: Tab to "Approve plan" (its focus ring visible) and press Enter.
    page.goto(f"{server}/ui/plans/{pid}")
    tabs = 0
    while page.evaluate("document.activeElement.id") != "approve-plan":
        tabs += 1
        assert tabs < 20, "Tab did not reach the approve button within 20 presses"
        page.keyboard.press("Tab")
    outline = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); "
                            "return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert outline[0] != "none" and outline[1] >= 2
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("Approved the plan.")
    last = page.locator("#audit tbody tr").last
    expect(last).to_contain_text("local-dev")
    expect(last).to_contain_text("approve")
    expect(page.locator("#audit tbody tr")).to_have_count(3)  # edit, edit, approve
    view = httpx.get(f"{server}/v1/plans/{pid}", timeout=10).json()
    assert view["state"] == "approved" and view["decided_by"] == "local-dev"
    assert view["edits"] == {"purchase_orders": {str(index): ordered + 10}}
    screenshot(page, tmp_path, "plan-approved.png")


def test_compare_two_plans_picked_from_the_list(server: str, plans: dict[str, Any], page: Any,
                                                tmp_path: Path) -> None:
    from playwright.sync_api import expect

    old, new = plans["old"]["id"], plans["new"]["id"]
    page.goto(f"{server}/ui")
    page.get_by_label(f"Plan {old[:8]} as A").check()
    page.get_by_label(f"Plan {new[:8]} as B").check()
    page.get_by_role("button", name="Compare A with B").click()
    expect(page).to_have_url(re.compile(r"/ui/compare\?"))
    assert parse_qs(urlsplit(page.url).query) == {"a": [old], "b": [new]}
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare plans")
    expect(page.get_by_text("Both plans solve the same problem.")).to_be_visible()
    # The newer plan as edited (if the review test edited it) against the older one as solved.
    view = httpx.get(f"{server}/v1/plans/{new}", timeout=10).json()
    b_cost = httpx.get(f"{server}/v1/plans/{new}/evaluation", timeout=10).json()["cost"]
    total = page.locator("tr.total")
    expect(total).to_contain_text(signed_money(b_cost - plans["old"]["cost"]))
    # The line-level rows are behind a closed toggle: hidden until its summary is clicked.
    lines = page.locator("details.lines")
    expect(lines).not_to_have_attribute("open", "")
    expect(page.get_by_text("Shipments that changed", exact=True)).to_be_hidden()
    lines.locator("summary").click()
    expect(lines).to_have_attribute("open", "")
    expect(page.get_by_text("Shipments that changed", exact=True)).to_be_visible()
    edits = view["edits"].get("purchase_orders", {})
    if edits:
        ((index, quantity),) = edits.items()
        solved = plans["new"]["plan"]["purchase_orders"][int(index)]["quantity"]
        changed = page.get_by_role("row").filter(has_text="AG-12")
        expect(changed).to_contain_text("changed")
        expect(changed).to_contain_text(f"+{quantity - solved}")
    else:
        expect(page.get_by_text("No purchase order changed")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    screenshot(page, tmp_path, "compare.png")


def test_a_stale_page_says_why_an_edit_is_refused(server: str, page: Any) -> None:
    """The plan was approved elsewhere while the page was open: the 409 comes back into the page, not lost."""
    from playwright.sync_api import expect

    plan = solve(server, "three-customers", "browser-stale")
    page.goto(f"{server}/ui/plans/{plan['id']}")
    r = httpx.post(f"{server}/v1/plans/{plan['id']}/decisions", json={"decision": "approve", "actor": "sam"},
                   timeout=10)
    assert r.status_code == 200
    page.get_by_label("New quantity for purchase order #1").fill("8")
    page.get_by_role("button", name="Check purchase order #1").click()
    verdict = page.locator("#po-0-verdict")
    expect(verdict).to_contain_text("Refused")
    expect(verdict).to_contain_text("only a current proposed plan can be edited")
    assert httpx.get(f"{server}/v1/plans/{plan['id']}", timeout=10).json()["edits"] == {}


def test_unknown_plan_is_a_page_saying_so(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    response = page.goto(f"{server}/ui/plans/does-not-exist")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan not found")
    page.get_by_role("link", name="Back to the plans").click()
    expect(page).to_have_url(f"{server}/ui")
