"""The review pages under ``/ui`` (TestClient, SQLite): list, plan page, in-place edit check, decisions, compare.

Plans are solved through ``POST /v1/jobs`` as an ERP would; the pages must show
what the API says about them, and a decision made on a page must be the API's
decision (same refusals, same audit entries).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api import auth
from stockplan.api.app import create_app
from stockplan.api.ui.charts import stock_chart
from stockplan.api.ui.formatting import money, signed_money
from tests.api.conftest import example_problem, service_settings, wait_for_job

HX = {"HX-Request": "true"}


def solve(client: TestClient, name: str, scenario: str | None = None,
          headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Solve an example through the API; the plan as ``GET /v1/plans/{id}`` returns it."""
    body: dict[str, Any] = {"problem": example_problem(name)}
    if scenario:
        body["scenario"] = scenario
    r = client.post("/v1/jobs?wait=60", json=body, headers=headers)
    assert r.status_code in (200, 202), r.text
    job = r.json() if r.json()["state"] == "succeeded" else wait_for_job(client, r.json()["id"], headers=headers)
    assert job["state"] == "succeeded", job
    plan: dict[str, Any] = client.get(f"/v1/plans/{job['plan_id']}").json()
    return plan


def section(html: str, ident: str) -> str:
    """The HTML inside ``<section id=ident>`` or ``<section class=ident>``, nested sections included."""
    start = re.search(rf'<section (?:id|class)="{ident}"', html)
    assert start, f"no section {ident}"
    depth = 0
    for tag in re.finditer(r"<(/?)section\b", html[start.start():]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return html[start.start():start.start() + tag.start()]
    raise AssertionError(f"section {ident} is not closed")


def cells(html: str, header: str) -> list[str]:
    """The text of the cells of the table row headed ``header``."""
    m = re.search(rf'<tr[^>]*>\s*<th scope="row">{re.escape(header)}</th>(.*?)</tr>', html, re.S)
    assert m, f"no row {header}"
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)]


def button(html: str, ident: str) -> str:
    m = re.search(rf'<button[^>]*id="{ident}"[^>]*>', html)
    assert m, f"no button {ident}"
    return m.group(0)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, dict[str, Any]]]]:
    """One database with three plans: mixed-small twice in scenario ui-weekly (the first superseded), and
    three-customers without a scenario. Tests that change a plan's state solve their own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:
        plans = {"old": solve(c, "mixed-small", "ui-weekly"), "new": solve(c, "mixed-small", "ui-weekly"),
                 "tc": solve(c, "three-customers")}
        yield c, plans


def test_list_shows_every_plan_with_status_outcome_cost_and_gap(shared: Any) -> None:
    client, plans = shared
    r = client.get("/ui")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    for p in plans.values():
        assert f'href="/ui/plans/{p["id"]}"' in html
    rows = {p: re.search(rf'<tr>\s*<td class="pick">.*?value="{plans[p]["id"]}".*?</tr>', html, re.S)
            for p in plans}
    assert all(rows.values())
    old, new, tc = (rows[k].group(0) for k in ("old", "new", "tc"))  # type: ignore[union-attr]
    assert "superseded" in old and f'/ui/plans/{plans["new"]["id"]}' in old and "superseded" not in new
    assert "ui-weekly" in new and "2,108.93" in new and "optimal" in new and "0.00%" in new
    assert "25 orders, 4 SKUs, 6 periods from 2026-12-07" in new
    assert "no scenario" in tc and "26.00" in tc and "100.0%" in tc
    # Newest first, and the pair to compare is preselected: the newest plan and the one it superseded.
    assert html.index(plans["tc"]["id"]) < html.index(plans["new"]["id"]) < html.index(plans["old"]["id"])
    assert re.search(rf'name="a" value="{plans["old"]["id"]}"[^>]*checked', html)
    assert re.search(rf'name="b" value="{plans["new"]["id"]}"[^>]*checked', html)
    assert 'action="/ui/compare"' in html


def test_list_filters_by_status(shared: Any) -> None:
    client, plans = shared
    r = client.post(f"/ui/plans/{plans['tc']['id']}/decisions", data={"decision": "reject", "target": "plan"},
                    follow_redirects=False)
    assert r.status_code == 303
    shown = {}
    for status in ("all", "review", "approved", "rejected", "superseded"):
        r = client.get(f"/ui?status={status}")
        assert r.status_code == 200
        assert re.search(rf'href="/ui\?status={status}" aria-current="page"', r.text)
        shown[status] = {k for k, p in plans.items() if f'/ui/plans/{p["id"]}" class="plan-link"' in r.text}
    assert shown == {"all": {"old", "new", "tc"}, "review": {"new"}, "approved": set(), "rejected": {"tc"},
                     "superseded": {"old"}}
    assert "No approved plans" in client.get("/ui?status=approved").text
    by_scenario = client.get("/ui?scenario=ui-weekly").text
    assert plans["new"]["id"] in by_scenario and plans["tc"]["id"] not in by_scenario
    bad = client.get("/ui?status=nope")
    assert bad.status_code == 422 and "No status filter &#39;nope&#39;" in bad.text


def details(html: str, cls: str) -> str:
    """The HTML inside ``<details class=cls>``."""
    m = re.search(rf'<details class="{cls}">(.*?)</details>', html, re.S)
    assert m, f"no details {cls}"
    return m.group(1)


def test_plan_page_is_a_work_queue_with_exceptions_first(shared: Any) -> None:
    client, plans = shared
    plan = plans["new"]
    report = plan["plan"]["report"]
    r = client.get(f"/ui/plans/{plan['id']}")
    assert r.status_code == 200
    html = r.text
    # Header: outcome, cost and its seven parts, bound and gap, fill rate.
    assert "optimal" in html and "2,108.93 · 0.00%" in html
    parts = details(html, "costparts")
    assert len(plan["plan"]["costs"]) == 7
    for part, value in plan["plan"]["costs"].items():
        assert money(value) in parts, part
    assert "Below safety stock" in html and "99.0%" in html and "24 / 25" in html
    # What needs a decision: the one short line and its money at stake; purchase orders to decide per supplier.
    late = [ln for ln in report["lines"] if ln["status"] != "on_time"]
    assert len(late) == 1 and late[0]["order"] == "SO-00013" and late[0]["lateness_cost"] > 0
    attention = section(html, "attention")
    assert cells(attention, f'<a href="/ui/plans/{plan["id"]}?status=partially_lost">Short</a>') == [
        "1", str(late[0]["quantity"] - late[0]["delivered_by_due"]), money(late[0]["lateness_cost"])]
    by_supplier: dict[str, int] = {}
    for po in report["purchase_orders"]:
        by_supplier[po["supplier"]] = by_supplier.get(po["supplier"], 0) + 1
    for supplier, n in by_supplier.items():
        link = f'<a href="/ui/plans/{plan["id"]}/purchase-orders?supplier={supplier}">{supplier}</a>'
        assert cells(attention, link)[0] == f"{n} of {n}"
        assert f"Approve all {n}<span class=\"sr-only\"> open purchase orders from {supplier}" in attention
    # The exceptions table: the short line with its reason, what is at stake and the price of fixing it.
    exceptions = section(html, "exceptions")
    assert "SO-00013 · 0" in exceptions and "partially lost" in exceptions
    assert late[0]["reason"] in exceptions and "cannot be on time" in exceptions
    assert "Rows 1–1 of 1" in exceptions
    # The other sections are pages of their own, linked from every plan page.
    for name in ("purchase-orders", "shipments", "notices", "stock", "audit"):
        assert f'href="/ui/plans/{plan["id"]}/{name}"' in html
    assert f'href="/v1/plans/{plan["id"]}/export.csv"' in html
    assert f'href="/v1/plans/{plan["id"]}/export"' in html
    assert f'/ui/compare?a={plans["old"]["id"]}&amp;b={plan["id"]}' in html  # from the plan it superseded


def test_plan_sections_show_purchase_orders_shipments_notices_charts_and_audit(shared: Any) -> None:
    client, plans = shared
    plan = plans["new"]
    pid = plan["id"]
    report = plan["plan"]["report"]
    # Purchase orders, sorted by supplier; a filter to one supplier shows exactly its purchase orders.
    pos = section(client.get(f"/ui/plans/{pid}/purchase-orders").text, "purchase-orders")
    shown = [int(i) for i in re.findall(r'<tr id="po-(\d+)">', pos)]
    supplier_of = {po["index"]: po["supplier"] for po in report["purchase_orders"]}
    assert sorted(shown) == sorted(supplier_of) and [supplier_of[i] for i in shown] == sorted(supplier_of.values())
    sup1 = section(client.get(f"/ui/plans/{pid}/purchase-orders?supplier=SUP-1").text, "purchase-orders")
    assert {int(i) for i in re.findall(r'<tr id="po-(\d+)">', sup1)} == {
        i for i, s in supplier_of.items() if s == "SUP-1"}
    ag12 = next(po for po in report["purchase_orders"] if po["agreement"] == "AG-12")
    row = re.search(rf'<tr id="po-{ag12["index"]}">(.*?)</tr>', pos, re.S).group(1)  # type: ignore[union-attr]
    assert "AG-12" in row and "packs of 10" in row and ag12["reason"] in row and ag12["arrival_date"] in row
    assert money(ag12["unit_price"]) in row and f'hx-post="/ui/plans/{pid}/edits"' in row
    assert f'id="po-approve-{ag12["index"]}"' in row and 'value="reject"' in row
    assert f'id="pick-{ag12["index"]}"' in row  # selectable for a bulk decision
    # Shipments per order with the promised dates; the customer notice.
    shipments = section(client.get(f"/ui/plans/{pid}/shipments").text, "shipments")
    assert shipments.count("<tr>") == len(report["orders"]) + 1  # header row too
    order = next(o for o in report["orders"] if o["order"] == "SO-00010")
    assert re.search(rf'SO-00010</th>.*?{order["promised_date"]}', shipments, re.S)
    assert report["notices"][0]["message"] in section(client.get(f"/ui/plans/{pid}/notices").text, "notices")
    # Charts of the SKU-locations needing attention (below safety stock, or a late line), all on demand.
    troubled = {(p["sku"], p["location"]) for p in report["stock"] if any(p["below_safety"])}
    troubled |= {(ln["sku"], ln["location"]) for ln in report["lines"] if ln["status"] != "on_time"}
    stock = section(client.get(f"/ui/plans/{pid}/stock").text, "stock")
    assert stock.count('role="img"') == len(troubled) < len(report["stock"]) == 8
    assert "Projected stock of SKU-0003 at WH-0" in stock and "below safety" in stock
    every = section(client.get(f"/ui/plans/{pid}/stock?show=all").text, "stock")
    assert every.count('role="img"') == 8 and every.count('class="safety"') == 8
    assert "No decision or edit yet." in section(client.get(f"/ui/plans/{pid}/audit").text, "audit")
    assert client.get(f"/ui/plans/{pid}/nothing-here").status_code == 404


def test_priced_exceptions_say_what_fixing_costs(shared: Any) -> None:
    client, plans = shared
    html = client.get(f"/ui/plans/{plans['tc']['id']}").text
    exceptions = section(html, "exceptions")
    # three-customers: three lines late by two periods; on time costs nothing extra, but only by breaking fair share.
    assert exceptions.count('class="badge line-backordered">backordered<') == 3
    assert exceptions.count("2 periods late") == 3
    assert exceptions.count("±0.00") == 3 and "only by setting the fair share policy aside" in exceptions


def test_superseded_plan_cannot_be_approved_or_edited_from_its_page(shared: Any) -> None:
    client, plans = shared
    html = client.get(f"/ui/plans/{plans['old']['id']}/purchase-orders").text
    assert "disabled" in button(html, "approve-plan") and "approve that one instead" in html
    assert "not editable (superseded)" in html and 'hx-post="' not in html
    assert "disabled" in button(html, "bulk-approve") and "Approve all" not in html
    r = client.post(f"/ui/plans/{plans['old']['id']}/decisions", data={"decision": "approve", "target": "plan"})
    assert r.status_code == 409 and plans["new"]["id"] in r.text and 'role="alert"' in r.text
    assert client.get(f"/v1/plans/{plans['old']['id']}").json()["state"] == "proposed"


def test_an_edit_is_checked_at_once_and_approval_waits_for_a_fix(shared: Any) -> None:
    client, plans = shared
    plan = solve(client, "mixed-small", "ui-edit")
    pid = plan["id"]
    index = next(i for i, po in enumerate(plan["plan"]["purchase_orders"]) if po["agreement"] == "AG-12")
    ordered = plan["plan"]["purchase_orders"][index]["quantity"]
    n_pos = len(plan["plan"]["purchase_orders"])
    # Break the pack size (AG-12 sells packs of 10): the fragment names the rule, and approving is disabled.
    shown = ",".join(str(i) for i in range(n_pos))  # the purchase orders on the page the edit was made on
    r = client.post(f"/ui/plans/{pid}/edits", headers=HX, data={"target": "purchase_order", "index": str(index),
                                                                "quantity": str(ordered + 5), "shown": shown})
    assert r.status_code == 200
    fragment = r.text
    verdict = fragment.split('<section id="decision"')[0]
    assert "<code>pack_size</code>" in verdict and "not a multiple of its pack size 10" in verdict
    assert "breaks 1 rule" in verdict
    assert '<section id="decision" class="decision" aria-labelledby="decision-h" hx-swap-oob="true">' in fragment
    assert "disabled" in button(fragment, "approve-plan")
    assert all("disabled" in button(fragment, f"po-approve-{i}") for i in range(n_pos))
    assert re.search(rf'id="po-{index}-qty" class="qty" hx-swap-oob="true">{ordered + 5}', fragment)
    # The server refuses approval anyway (a stale page, another tab): the page shows the API's reason.
    refused = client.post(f"/ui/plans/{pid}/decisions", data={"decision": "approve", "target": "plan"})
    assert refused.status_code == 409 and "Refused" in refused.text
    assert "The edited plan breaks 1 rule(s)" in refused.text and "pack size" in refused.text
    assert "disabled" in button(refused.text, "approve-plan")
    item = client.post(f"/ui/plans/{pid}/decisions",
                       data={"decision": "approve", "target": "purchase_order", "index": str(index)})
    assert item.status_code == 409
    assert client.get(f"/v1/plans/{pid}").json()["state"] == "proposed"
    # A quantity that is no number is a 422 fragment saying so; nothing is recorded.
    bad = client.post(f"/ui/plans/{pid}/edits", headers=HX, data={"index": str(index), "quantity": "ten"})
    assert bad.status_code == 422 and "whole number" in bad.text
    # Fix it: the fragment shows the cost delta, as the evaluator computes it, and approving is enabled.
    r = client.post(f"/ui/plans/{pid}/edits", headers=HX,
                    data={"target": "purchase_order", "index": str(index), "quantity": str(ordered + 10)})
    evaluation = client.get(f"/v1/plans/{pid}/evaluation").json()
    assert evaluation["feasible"] and evaluation["cost_delta"] > 0
    assert "breaks no rule" in r.text and signed_money(evaluation["cost_delta"]) in r.text.split("<section")[0]
    assert "disabled" not in button(r.text, "approve-plan")
    # Compare with the unedited plan of the same problem: the changed purchase order and the cost delta.
    cmp = client.get(f"/ui/compare?a={plans['new']['id']}&b={pid}").text
    assert "Both plans solve the same problem" in cmp
    assert re.search(rf'<th scope="row">AG-12</th>.*?>{ordered}<.*?>{ordered + 10}<.*?change-changed.*?\+10',
                     cmp, re.S)
    total = re.search(r"Total cost</th>.*?</tr>", cmp, re.S).group(0)  # type: ignore[union-attr]
    assert signed_money(evaluation["cost"] - plans["new"]["plan"]["cost"]) in total and "tone-worse" in total
    # Decide under a name of one's own (local development mode), then approve: recorded, and the API agrees.
    login = client.post("/ui/login", data={"name": "pat", "next": f"/ui/plans/{pid}"}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == f"/ui/plans/{pid}"
    approved = client.post(f"/ui/plans/{pid}/decisions", follow_redirects=False,
                           data={"decision": "approve", "target": "plan", "comment": "packs of ten"})
    assert approved.status_code == 303 and approved.headers["location"].startswith(f"/ui/plans/{pid}?done=approve")
    page = client.get(approved.headers["location"]).text
    assert "Approved the plan." in page and "by <strong>pat</strong>" in page
    audit = section(client.get(f"/ui/plans/{pid}/audit").text, "audit")  # newest first
    assert [m for m in re.findall(r"<td>(pat|local-dev)</td><td>(\w+)</td>", audit)] == [
        ("pat", "approve"), ("local-dev", "edit"), ("local-dev", "edit")]
    assert "packs of ten" in audit
    view = client.get(f"/v1/plans/{pid}").json()
    assert view["state"] == "approved" and view["decided_by"] == "pat"
    assert [e["actor"] for e in client.get(f"/v1/plans/{pid}/audit").json()] == ["local-dev", "local-dev", "pat"]
    # An approved plan is not editable any more: 409 with the API's reason.
    again = client.post(f"/ui/plans/{pid}/edits", headers=HX, data={"index": str(index), "quantity": str(ordered)})
    assert again.status_code == 409 and "only a current proposed plan can be edited" in again.text
    client.cookies.clear()


def test_without_htmx_an_edit_posts_and_the_page_shows_the_verdict(shared: Any) -> None:
    client, _ = shared
    plan = solve(client, "three-customers", "ui-plain")
    r = client.post(f"/ui/plans/{plan['id']}/edits", data={"index": "0", "quantity": "6"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("#po-0")
    html = client.get(r.headers["location"]).text
    assert "Changed purchase order #1." in html
    decision = section(html, "decision")
    assert "The edited plan breaks" in decision and "stock_negative" in decision
    pos = client.get(f"/ui/plans/{plan['id']}/purchase-orders").text
    assert "disabled" in button(pos, "approve-plan") and "edited · solved 7" in pos
    # From the purchase orders page (its form says so), the answer returns there.
    back = client.post(f"/ui/plans/{plan['id']}/edits", follow_redirects=False,
                       data={"index": "0", "quantity": "7", "next": f"/ui/plans/{plan['id']}/purchase-orders"})
    assert back.headers["location"].startswith(f"/ui/plans/{plan['id']}/purchase-orders?done=edit")


def test_a_plan_solved_without_its_report_still_has_a_page(shared: Any) -> None:
    client, _ = shared
    body = {"problem": example_problem("three-customers"), "options": {"explain": False}}
    job = client.post("/v1/jobs?wait=60", json=body).json()
    job = wait_for_job(client, job["id"]) if job["state"] != "succeeded" else job
    assert job["state"] == "succeeded" and "report" not in job["plan"]["plan"]
    pid = job["plan_id"]
    r = client.get(f"/ui/plans/{pid}")
    assert r.status_code == 200 and "solved without its report" in r.text
    pos = client.get(f"/ui/plans/{pid}/purchase-orders").text
    row = re.search(r'<tr id="po-0">(.*?)</tr>', pos, re.S).group(1)  # type: ignore[union-attr]
    text = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert "#1</th>" in row and text[1:4] == ["COCOA-CO AG-1 · primary", "CHOC-BOX → WH-1", "7"]
    assert "SO-2" in section(client.get(f"/ui/plans/{pid}/shipments").text, "shipments")
    assert "No stock projection" in client.get(f"/ui/plans/{pid}/stock").text


def test_compare_shows_cost_deltas_and_changed_decisions(shared: Any) -> None:
    client, plans = shared
    same = client.get(f"/ui/compare?a={plans['old']['id']}&b={plans['new']['id']}")
    assert same.status_code == 200
    assert "No purchase order changed (12 identical)" in same.text and "No shipment changed" in same.text
    other = client.get(f"/ui/compare?a={plans['tc']['id']}&b={plans['new']['id']}").text
    assert "different problems" in other
    total = re.search(r"Total cost</th>(.*?)</tr>", other, re.S).group(1)  # type: ignore[union-attr]
    assert "26.00" in total and "2,108.93" in total and "+2,082.93" in total and "tone-worse" in total
    for part, value in plans["new"]["plan"]["costs"].items():
        a_value = plans["tc"]["plan"]["costs"][part]
        assert signed_money(value - a_value) in other, part
    # Decisions matched by agreement and date (purchase orders), order, line, location and date (shipments).
    # mixed-small has several optimal plans; the expected rows come from the ones these solves returned.
    def ordered(plan: dict[str, Any], agreement: str) -> int:
        return sum(po["quantity"] for po in plan["plan"]["purchase_orders"]
                   if po["agreement"] == agreement and po["period"] == 0)
    was, now = ordered(plans["tc"], "AG-1"), ordered(plans["new"], "AG-1")
    assert was == 7 and now != was
    assert cells(other, "AG-1") == ["SUP-1", "SKU-0000 → WH-1", "2026-12-07", str(was), str(now),
                                    f"changed {now - was:+d}".replace("-", "−")]
    first_ag0 = min(po["period"] for po in plans["new"]["plan"]["purchase_orders"] if po["agreement"] == "AG-0")
    added = sum(po["quantity"] for po in plans["new"]["plan"]["purchase_orders"]
                if po["agreement"] == "AG-0" and po["period"] == first_ag0)
    assert cells(other, "AG-0")[3:] == ["—", str(added), f"added +{added}"]
    assert cells(other, "SO-1 · 0") == ["WH-1", "2026-12-07", "3", "—", "removed −3"]
    # Those line-level rows sit behind a closed toggle, after the per-order and per-SKU summaries.
    lines = section(other, "lines")
    assert re.search(r"<details[^>]*>\s*<summary>", lines) and "<details class=\"lines\" open" not in lines
    assert "AG-1</th>" in lines and "SO-1 · 0</th>" in lines
    assert other.index('id="orders"') < other.index('id="skus"') < other.index('id="lines"')
    swapped = client.get(f"/ui/compare?a={plans['new']['id']}&b={plans['tc']['id']}").text
    assert "−2,082.93" in swapped and "tone-better" in swapped
    assert client.get("/ui/compare?a=" + plans["new"]["id"]).status_code == 422
    missing = client.get(f"/ui/compare?a={plans['new']['id']}&b=nope")
    assert missing.status_code == 404 and "no plan &#39;nope&#39;" in missing.text


def test_unknown_plan_and_page_are_404_pages(shared: Any) -> None:
    client, _ = shared
    r = client.get("/ui/plans/no-such-plan")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Plan not found" in r.text and "no-such-plan" in r.text and 'href="/ui"' in r.text
    assert client.get("/ui/nowhere").status_code == 404
    assert client.post("/ui/plans/no-such-plan/decisions", data={"decision": "approve"}).status_code == 404
    # The API's own 404 stays problem+json.
    assert client.get("/v1/plans/no-such-plan").headers["content-type"] == "application/problem+json"


def test_a_form_posted_from_another_site_is_refused(shared: Any) -> None:
    client, plans = shared
    r = client.post(f"/ui/plans/{plans['new']['id']}/decisions", data={"decision": "reject"},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert client.get(f"/v1/plans/{plans['new']['id']}").json()["state"] == "proposed"


def test_static_assets_are_served_from_the_app(shared: Any) -> None:
    client, _ = shared
    js = client.get("/static/htmx.min.js")
    assert js.status_code == 200 and js.content.startswith(b"var htmx=function()") and len(js.content) > 40_000
    assert client.get("/static/ui.css").status_code == 200
    notes = (Path(__file__).resolve().parents[2] / "api" / "static" / "README.md").read_text()
    assert "2.0.11" in notes and "0BSD" in notes
    assert '<script src="/static/htmx.min.js?v=2.0.11"' in client.get("/ui").text


def test_empty_list_says_how_to_get_a_plan(tmp_path: Path) -> None:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'empty.db'}"), run_jobs=False)) as c:
        r = c.get("/ui")
        assert r.status_code == 200 and "No plans yet" in r.text and "POST /v1/jobs" in r.text
        assert "<table" not in r.text and "No plans yet" in c.get("/ui?status=approved").text


def test_with_api_keys_writes_need_a_signed_in_key(tmp_path: Path) -> None:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'keys.db'}"))) as c:
        with c.app.state.sessions() as s:  # type: ignore[attr-defined]
            key = auth.create_key(s, "alice")
        plan = solve(c, "three-customers", headers={"Authorization": f"Bearer {key}"})
        pid = plan["id"]
        assert "Sign in to decide" in c.get(f"/ui/plans/{pid}").text
        r = c.post(f"/ui/plans/{pid}/decisions", data={"decision": "approve"})
        assert r.status_code == 401 and "requires an API key" in r.text and "/ui/login" in r.text
        frag = c.post(f"/ui/plans/{pid}/edits", headers=HX, data={"index": "0", "quantity": "8"})
        assert frag.status_code == 401 and "Sign in" in frag.text
        assert c.get(f"/v1/plans/{pid}/audit").json() == []
        login_page = c.get("/ui/login")
        assert 'type="password"' in login_page.text and 'name="key"' in login_page.text
        wrong = c.post("/ui/login", data={"key": "spk_wrong", "next": "/ui"})
        assert wrong.status_code == 401 and "Unknown or revoked API key" in wrong.text
        ok = c.post("/ui/login", data={"key": key, "next": f"/ui/plans/{pid}"}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == f"/ui/plans/{pid}"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
        assert "Signed in as <strong>alice</strong>" in c.get("/ui").text
        done = c.post(f"/ui/plans/{pid}/decisions", data={"decision": "approve", "comment": "ok"},
                      follow_redirects=False)
        assert done.status_code == 303
        assert [(e["actor"], e["action"]) for e in c.get(f"/v1/plans/{pid}/audit").json()] == [("alice", "approve")]
        assert c.get(f"/v1/plans/{pid}").json()["decided_by"] == "alice"
        # An open redirect is not possible through next=.
        out = c.post("/ui/login", data={"key": key, "next": "//evil.example/"}, follow_redirects=False)
        assert out.headers["location"] == "/ui"
        c.post("/ui/logout")
        assert "Sign in to decide" in c.get("/ui").text


def test_stock_chart_geometry() -> None:
    proj = {"sku": "S", "location": "L", "safety_stock": 5, "end": [8, 5, 0, 6], "net_position": [8, 5, -2, 6],
            "below_safety": [False, False, True, False]}
    chart = stock_chart(proj, ["2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28"])
    ys = [p["y"] for p in chart["points"]]
    xs = [p["x"] for p in chart["points"]]
    assert xs == sorted(xs) and xs[0] == chart["left"] and xs[-1] == chart["right"]
    assert ys[0] < ys[3] < chart["safety_y"] == ys[1] < ys[2]  # 8 and 6 above the safety line, 0 below; y grows down
    assert chart["top"] == ys[0] and chart["net"] is not None and chart["bottom"] == max(
        float(pt.split(",")[1]) for pt in chart["net"].split())  # -2 is the lowest value: the bottom of the plot
    assert [p["below"] for p in chart["points"]] == [False, False, True, False] and chart["low"]
    assert "Below safety stock on 2026-12-21" in chart["desc"]
    assert [t["label"] for t in chart["ticks"]] == ["12-07", "12-14", "12-21", "12-28"]
