"""A generated 1,000-order plan reviewed in a real browser, as a planner would: from "proposed" to an exported
approved subset with filters and bulk decisions, paging through exceptions, and a keyboard-only approval.

The plan is the ``small`` family, seed 0 (1,000 orders), solved through ``POST /v1/jobs`` on ``stockplan
serve``. With ``STOCKPLAN_SCREENSHOTS=docs`` the README's pictures are written from it.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.ui.conftest import VIEWPORT, focus_is_visible, needs_browser, screenshot, solve, tab_to

pytestmark = [needs_browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def big(server: str, small_problem_data: dict[str, Any]) -> dict[str, Any]:
    """The 1,000-order problem solved twice in one scenario: the second supersedes the first."""
    solve(server, small_problem_data, "small-weekly", time_limit=5)
    return solve(server, small_problem_data, "small-weekly", time_limit=8)


def fewest_orders_supplier(plan: dict[str, Any]) -> tuple[str, list[int]]:
    counts: dict[str, list[int]] = {}
    for po in plan["plan"]["report"]["purchase_orders"]:
        counts.setdefault(po["supplier"], []).append(po["index"])
    supplier = min(counts, key=lambda k: (len(counts[k]), k))
    return supplier, sorted(counts[supplier])


def test_filter_to_a_supplier_bulk_approve_see_the_audit_and_export(server: str, big: dict[str, Any], page: Any,
                                                                    tmp_path: Path) -> None:
    from playwright.sync_api import expect

    pid = big["id"]
    report = big["plan"]["report"]
    assert len(report["orders"]) + len(report["orders_outside_horizon"]) == 1000
    supplier, theirs = fewest_orders_supplier(big)
    page.goto(f"{server}/ui/plans/{pid}")
    expect(page.locator("#attention")).to_contain_text("Needs a decision")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    screenshot(page, tmp_path, "plan-page.png", docs=True)
    tabs = page.get_by_role("navigation", name="Plan sections")
    tabs.get_by_role("link", name=re.compile("^Purchase orders")).click()
    page.get_by_label("Supplier").select_option(supplier)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"purchase-orders\?supplier={supplier}$"))
    expect(page.locator("#purchase-orders tbody tr")).to_have_count(min(50, len(theirs)))
    expect(page.locator(".pager").first).to_contain_text(f"of {len(theirs)}")
    page.get_by_label(f"all {len(theirs)} matching these filters").check()
    page.get_by_label("Comment (one for all, in the audit trail)").fill(f"weekly buy from {supplier}")
    screenshot(page, tmp_path, "purchase-orders.png", docs=True)
    page.locator("#bulk-approve").click()
    expect(page.locator(".flash")).to_have_text(f"Approved {len(theirs)} purchase orders.")
    expect(page).to_have_url(re.compile(rf"purchase-orders\?supplier={supplier}&done=approve"))
    expect(page.locator("#purchase-orders tbody .state-approved")).to_have_count(min(50, len(theirs)))
    states = httpx.get(f"{server}/v1/plans/{pid}", timeout=30).json()["items"]["purchase_order"]
    assert [i for i, st in enumerate(states) if st == "approved"] == theirs
    # The audit trail: one entry per purchase order, each with the comment.
    page.get_by_role("link", name=re.compile("^Audit trail")).click()
    expect(page.locator("#audit tbody tr")).to_have_count(min(50, len(theirs)))
    expect(page.locator("#audit")).to_contain_text(f"{len(theirs)} entries")
    expect(page.locator("#audit tbody tr").first).to_contain_text(f"weekly buy from {supplier}")
    # The export: exactly the approved purchase orders, from that supplier.
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(int(r["index"]) for r in rows) == theirs
    assert {r["supplier"] for r in rows} == {supplier} and {r["kind"] for r in rows} == {"purchase_order"}


def test_page_through_the_exceptions_and_sort_them(server: str, big: dict[str, Any], page: Any) -> None:
    from playwright.sync_api import expect

    pid = big["id"]
    late = [ln for ln in big["plan"]["report"]["lines"] if ln["status"] != "on_time"]
    assert len(late) > 100, "the 1,000-order plan has several pages of exceptions"
    page.goto(f"{server}/ui/plans/{pid}")
    pager = page.locator("#exceptions .pager")
    expect(pager).to_contain_text(f"Rows 1–50 of {len(late):,}")
    cells = page.locator("#exceptions tbody td.num:nth-child(10)").all_inner_texts()
    stakes = [float(t.replace(",", "")) for t in cells]
    assert stakes == sorted(stakes, reverse=True) and stakes[0] == pytest.approx(
        max(ln["lateness_cost"] for ln in late), abs=0.005)
    pager.get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}?page=2")
    expect(pager).to_contain_text(f"Rows 51–100 of {len(late):,}")
    pager.get_by_role("link", name="Next ›").click()
    expect(pager).to_contain_text("Rows 101–")
    pager.get_by_role("link", name="‹ Previous").click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}?page=2")
    # Sorting by due date starts again from page 1 and says so on the column.
    page.get_by_role("link", name=re.compile("^Due → promised")).click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}?sort=due")
    expect(page.locator('#exceptions th[aria-sort="ascending"]')).to_contain_text("Due")
    dues = [t.split(" →")[0] for t in page.locator("#exceptions tbody td.nowrap:nth-child(8)").all_inner_texts()]
    assert dues == sorted(dues) and dues[0] == min(ln["due"] for ln in late)


def test_approve_the_whole_plan_by_keyboard_only(server: str, big: dict[str, Any], page: Any) -> None:
    from playwright.sync_api import expect

    pid = big["id"]
    page.goto(f"{server}/ui/plans/{pid}")
    tab_to(page, "comment", 40)
    page.keyboard.type("approved after review")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "approve-plan" and focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("Approved the plan.")
    view = httpx.get(f"{server}/v1/plans/{pid}", timeout=30).json()
    assert view["state"] == "approved"
    audit = httpx.get(f"{server}/v1/plans/{pid}/audit", timeout=30).json()
    assert audit[-1]["target"] == "plan" and audit[-1]["comment"] == "approved after review"
