"""The review pages of a bundled example in a real browser (fixtures in ``conftest.py``): edit a purchase
order and see the verdict at once, approve by keyboard, compare two plans, a stale page, an unknown plan."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stockplan.api.ui.formatting import signed_money
from tests.api.ui.conftest import VIEWPORT, focus_is_visible, needs_browser, screenshot, solve, tab_to

pytestmark = needs_browser


@pytest.fixture(scope="module")
def plans(server: str) -> dict[str, dict[str, Any]]:
    """mixed-small solved twice in one scenario: the second supersedes the first."""
    old = solve(server, "mixed-small", "eu-weekly")
    return {"old": old, "new": solve(server, "mixed-small", "eu-weekly")}


def test_review_edit_and_approve_a_plan(server: str, plans: dict[str, Any], page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    plan = plans["new"]
    pid = plan["id"]
    page.goto(f"{server}/ui")
    page.get_by_role("link", name=pid[:8], exact=True).click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Plan {pid[:8]}")
    expect(page.locator("#exceptions")).to_contain_text("SO-00013")
    expect(page.locator("#attention")).to_contain_text("Short")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]  # no sideways scrolling
    page.get_by_role("link", name=re.compile("^Projected stock")).click()
    expect(page.locator("#stock svg[role=img]").first).to_be_visible()
    page.get_by_role("link", name="show all").click()
    expect(page.locator("#stock svg[role=img]")).to_have_count(8)

    index = next(i for i, po in enumerate(plan["plan"]["purchase_orders"]) if po["agreement"] == "AG-12")
    ordered = plan["plan"]["purchase_orders"][index]["quantity"]
    page.get_by_role("link", name=re.compile("^Purchase orders")).click()
    expect(page).to_have_url(f"{server}/ui/plans/{pid}/purchase-orders")
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
    page.goto(f"{server}/ui/plans/{pid}/purchase-orders")
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
    tab_to(page, "approve-plan", 30)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("Approved the plan.")
    page.get_by_role("link", name=re.compile("^Audit trail")).click()
    newest = page.locator("#audit tbody tr").first
    expect(newest).to_contain_text("local-dev")
    expect(newest).to_contain_text("approve")
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
    page.goto(f"{server}/ui/plans/{plan['id']}/purchase-orders")
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
