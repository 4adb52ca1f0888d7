"""The compare page's summaries (``/ui/compare``): per order, per SKU, the line-level rows behind a toggle, paging.

Two plans of one problem (mixed-small solved to optimality, and stopped at a 90 %
gap) differ in many orders; the per-order rows must add up to the change of the
plans' costs, an order whose outcome did not change must not be listed, and the
page must stay small on a 1,000-order plan pair.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from stockplan.api.ui.compare import LINE_ROWS, SUMMARY_ROWS
from stockplan.api.ui.formatting import signed_money
from stockplan.models.validation import load_problem
from tests.api.conftest import example_problem, service_settings, wait_for_job
from tests.api.test_ui import cells, section


def solve(client: TestClient, problem: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Solve through ``POST /v1/jobs`` as an ERP would; the plan as ``GET /v1/plans/{id}`` returns it."""
    r = client.post("/v1/jobs?wait=60", json={"problem": problem, "options": options})
    assert r.status_code in (200, 202), r.text
    job = r.json() if r.json()["state"] == "succeeded" else wait_for_job(client, r.json()["id"])
    assert job["state"] == "succeeded", job
    plan: dict[str, Any] = client.get(f"/v1/plans/{job['plan_id']}").json()
    return plan


def rows(html: str) -> list[list[str]]:
    """Each body row of the first table in ``html``: its header cell, then its cells, as text."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "no table"
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        out.append([" ".join(re.sub(r"<[^>]+>", " ", c).split())
                    for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)])
    return out


def money_of(text: str) -> float:
    """A cell written by ``signed_money`` back to a number."""
    return 0.0 if text == "±0.00" else float(text.replace("−", "-").replace(",", "").replace("+", ""))


def forecast_lost_sales(problem: dict[str, Any], plan: dict[str, Any]) -> float:
    """Lost sales of the unfilled forecast (evaluator's rule), computed here from the problem and the fills."""
    prob = load_problem(problem).canonical()
    lost = {it.sku: it.lost_sale_cost for it in prob.items}
    wanted: dict[tuple[str, str, int], int] = defaultdict(int)
    for f in prob.forecast:
        period = prob.horizon.period_of(f.date)
        if period < prob.horizon.periods:
            wanted[(f.sku, f.location, period)] += f.quantity
    for fill in plan["forecast_fills"]:
        wanted[(fill["sku"], fill["location"], fill["period"])] -= fill["quantity"]
    return sum(lost[key[0]] * max(0, units) for key, units in wanted.items())


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any], dict[str, Any]]]:
    """mixed-small solved to optimality (A) and stopped at its first plan within a 90 % gap (B)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('compare') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:
        problem = example_problem("mixed-small")
        a, b = solve(c, problem), solve(c, problem, gap=0.9)
        assert a["plan"]["cost"] < b["plan"]["cost"] - 1, "the two solves must give two different plans"
        yield c, a, b


def compare(client: TestClient, a: dict[str, Any], b: dict[str, Any], query: str = "") -> str:
    r = client.get(f"/ui/compare?a={a['id']}&b={b['id']}{query}")
    assert r.status_code == 200, r.text[:2000]
    return r.text


def test_per_order_rows_add_up_to_the_change_of_backorder_lost_sales_and_shipping(pair: Any) -> None:
    client, a, b = pair
    html = compare(client, a, b)
    assert "Both plans solve the same problem" in html
    orders = section(html, "orders")
    assert '<caption class="sr-only">' in orders and '<th scope="col">Order</th>' in orders
    listed = rows(orders)
    assert 0 < len(listed) <= SUMMARY_ROWS
    late, ship, total = (sum(money_of(r[k]) for r in listed) for k in (6, 7, 8))
    ca, cb = a["plan"]["costs"], b["plan"]["costs"]
    problem = example_problem("mixed-small")
    forecast = forecast_lost_sales(problem, b["plan"]) - forecast_lost_sales(problem, a["plan"])
    # Rounded to the cent per row: a cent per row of slack.
    slack = 0.01 * len(listed)
    assert late == pytest.approx(cb["backorder"] + cb["lost_sales"] - ca["backorder"] - ca["lost_sales"] - forecast,
                                 abs=slack)
    assert ship == pytest.approx(cb["shipping"] - ca["shipping"], abs=slack)
    assert total == pytest.approx(late + ship, abs=slack)
    # Largest |cost change| first.
    changes = [abs(money_of(r[8])) for r in listed]
    assert changes == sorted(changes, reverse=True)
    # The note under the table says the same sums.
    assert f"shipping {signed_money(cb['shipping'] - ca['shipping'])}" in orders


def test_an_order_whose_outcome_did_not_change_is_not_listed(pair: Any) -> None:
    client, a, b = pair
    orders = section(compare(client, a, b), "orders")
    listed = {r[0] for r in rows(orders)}

    def outcome(plan: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        rep = plan["plan"]["report"]
        by_line: dict[str, list[Any]] = defaultdict(list)
        for ln in rep["lines"]:
            by_line[ln["order"]].append((ln["delivered_by_due"], round(ln["lateness_cost"], 2)))
        ships: dict[str, list[Any]] = defaultdict(list)
        for sh in plan["plan"]["shipments"]:
            ships[sh["order"]].append((sh["line"], sh["location"], sh["quantity"]))
        return {o["order"]: (o["status"], o["promised_date"], o["delivered"], sorted(by_line[o["order"]]),
                             sorted(ships[o["order"]])) for o in rep["orders"]}

    was, now = outcome(a), outcome(b)
    unchanged = {k for k in was if was[k] == now[k]}
    assert unchanged, "some orders come out the same in both plans"
    assert not unchanged & listed
    # An order listed shows its statuses and promised dates on both sides, from the reports.
    report_a = {o["order"]: o for o in a["plan"]["report"]["orders"]}
    report_b = {o["order"]: o for o in b["plan"]["report"]["orders"]}
    first = rows(orders)[0]
    oid = first[0]
    assert first[1] == report_b[oid]["customer"]
    assert first[2] == f'{report_a[oid]["status"]} → {report_b[oid]["status"]}'.replace("_", " ")
    assert first[3] == f'{report_a[oid]["promised_date"] or "—"} → {report_b[oid]["promised_date"] or "—"}'
    lost_a = report_a[oid]["quantity"] - report_a[oid]["delivered"]
    lost_b = report_b[oid]["quantity"] - report_b[oid]["delivered"]
    assert first[5] == f"{lost_a} → {lost_b}"


def test_per_sku_rows_show_units_bought_spend_and_lost(pair: Any) -> None:
    client, a, b = pair
    skus = section(compare(client, a, b), "skus")
    assert '<caption class="sr-only">' in skus
    listed = {r[0]: r for r in rows(skus)}
    assert listed
    problem = load_problem(example_problem("mixed-small")).canonical()
    sku_of = {ag.id: ag.sku for ag in problem.agreements}

    def bought(plan: dict[str, Any], sku: str) -> int:
        return sum(po["quantity"] for po in plan["plan"]["purchase_orders"] if sku_of[po["agreement"]] == sku)

    for sku, r in listed.items():
        assert r[1] == f"{bought(a, sku)} → {bought(b, sku)}"
        spend = [sum(po["cost"] for po in p["plan"]["report"]["purchase_orders"] if po["sku"] == sku) for p in (a, b)]
        assert r[2] == f"{spend[0]:,.2f} → {spend[1]:,.2f}"
    changes = [abs(money_of(r[6])) for r in rows(skus)]
    assert changes == sorted(changes, reverse=True)
    # Over the SKUs, lateness includes the unfilled forecast's lost sales: the whole change of backorder and
    # lost sales; with purchase spend and shipping, the change of those four cost parts.
    ca, cb = a["plan"]["costs"], b["plan"]["costs"]
    slack = 0.01 * len(listed)
    late = sum(money_of(r[5]) for r in listed.values())
    assert late == pytest.approx(cb["backorder"] + cb["lost_sales"] - ca["backorder"] - ca["lost_sales"], abs=slack)
    parts = ("purchase", "backorder", "lost_sales", "shipping")
    assert sum(money_of(r[6]) for r in listed.values()) == pytest.approx(
        sum(cb[k] - ca[k] for k in parts), abs=slack)


def test_line_level_rows_are_behind_a_closed_toggle(pair: Any) -> None:
    client, a, b = pair
    html = compare(client, a, b)
    lines = section(html, "lines")
    details = re.search(r"<details([^>]*)>\s*<summary>(.*?)</summary>(.*)</details>", lines, re.S)
    assert details, "the line-level rows are inside <details>"
    assert " open" not in details.group(1), "closed by default"
    body = details.group(3)
    assert "Purchase orders that changed" in body and "Shipments that changed" in body
    assert body.count("<table") == lines.count("<table") == 2
    pos, ships = (len(rows(t)) for t in re.findall(r"<table.*?</table>", body, re.S))
    assert f"{pos} purchase order rows and {ships} shipment rows that changed" in details.group(2)
    assert pos <= LINE_ROWS and ships <= LINE_ROWS
    # None of them before the summaries; the script-free page keeps its strict CSP.
    assert html.index('id="orders"') < html.index('id="skus"') < html.index('id="lines"')
    assert "<script>" not in html
    # Asking for a page of line rows opens the toggle.
    opened = section(compare(client, a, b, "&lines_page=1"), "lines")
    assert re.search(r"<details[^>]* open>", opened)


def test_paging_links_keep_both_plans_and_past_the_end_is_an_empty_page(pair: Any) -> None:
    client, a, b = pair
    orders = section(compare(client, a, b), "orders")
    n = len(rows(orders))
    assert f"rows 1–{n} of {n}" in orders
    # One page only: "previous" and "next" are not links.
    assert 'rel="next"' not in orders and 'rel="prev"' not in orders
    past = compare(client, a, b, "&orders_page=3&skus_page=2")
    empty = section(past, "orders")
    assert f"No changed orders on page 3: there are {n} in all, on 1 page." in empty
    prev = re.search(r'<a href="([^"]+)" rel="prev">', empty)
    assert prev, "a way back from past the end"
    link = prev.group(1).replace("&amp;", "&")
    assert f"a={a['id']}" in link and f"b={b['id']}" in link and "orders_page=1" in link and "skus_page=2" in link
    assert link.endswith("#orders")
    assert client.get(link).status_code == 200
    first = re.search(r'<a href="([^"]+)">First page</a>', empty)
    assert first and f"a={a['id']}" in first.group(1) and f"b={b['id']}" in first.group(1)


@pytest.mark.parametrize("query", ["orders_page=two", "skus_page=-1", "orders_page=0", "lines_page=1.5"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_422_page(pair: Any, query: str) -> None:
    client, a, b = pair
    r = client.get(f"/ui/compare?a={a['id']}&b={b['id']}&{query}")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Invalid page" in r.text and query.split("=")[0] in r.text and "Traceback" not in r.text


def test_an_order_on_one_side_only_shows_a_dash_on_the_other(pair: Any) -> None:
    client, a, _ = pair
    problem = example_problem("mixed-small")
    fewer = dict(problem, orders=[o for o in problem["orders"] if o["id"] != "SO-00013"])
    b = solve(client, fewer)
    html = compare(client, a, b)
    assert "different problems" in html
    r = cells(section(html, "orders"), "SO-00013")
    assert all(r[k].endswith("→ —") for k in (1, 2, 3, 4)), r
    a_cost = sum(ln["lateness_cost"] for ln in a["plan"]["report"]["lines"] if ln["order"] == "SO-00013")
    assert a_cost > 0 and money_of(r[5]) == pytest.approx(-a_cost, abs=0.01)


def test_an_edited_plan_keeps_its_edited_costs_and_says_its_summaries_are_as_solved(pair: Any) -> None:
    client, a, b = pair
    first = b["plan"]["purchase_orders"][0]
    r = client.post(f"/v1/plans/{b['id']}/edits", json={"target": "purchase_order", "index": 0,
                                                         "quantity": first["quantity"] + 5})
    assert r.status_code == 200, r.text
    edited_cost = r.json()["cost"]
    try:
        html = compare(client, a, b)
        total = re.search(r"Total cost</th>(.*?)</tr>", html, re.S)
        assert total and f"{edited_cost:,.2f}" in total.group(1)
        assert "its rows in the order and SKU summaries, those of the plan as solved" in html
    finally:
        client.post(f"/v1/plans/{b['id']}/edits", json={"target": "purchase_order", "index": 0,
                                                        "quantity": first["quantity"]})


@pytest.mark.slow
def test_a_1000_order_pair_gives_a_small_page_quickly(tmp_path: Any, small_problem_data: dict[str, Any]) -> None:
    """Two plans of a generated 1,000-order problem (3 s and 8 s): at most 50 order rows, HTML ≤ 300 KB.

    Its speed is measured by the benchmark (``benchmarks/ui_pages.py``), not here."""
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'big.db'}", max_wait=60.0))) as c:
        a, b = solve(c, small_problem_data, time_limit=3), solve(c, small_problem_data, time_limit=8, seed=1)
        r = c.get(f"/ui/compare?a={a['id']}&b={b['id']}")
        assert r.status_code == 200
        html = r.text
        assert len(html.encode()) <= 300_000, len(html.encode())
        orders = rows(section(html, "orders"))
        assert 0 < len(orders) <= SUMMARY_ROWS
        assert len(rows(section(html, "skus"))) <= SUMMARY_ROWS
        second = c.get(f"/ui/compare?a={a['id']}&b={b['id']}&orders_page=2")
        assert second.status_code == 200 and len(second.content) <= 300_000


def test_a_plan_without_a_report_is_compared_without_order_rows(pair: Any) -> None:
    """A plan solved with ``explain: false`` has no report: its decisions are still compared, per SKU and line."""
    client, a, _ = pair
    bare = solve(client, example_problem("mixed-small"), gap=0.9, explain=False)
    assert not bare["plan"].get("report")
    html = compare(client, a, bare)
    assert "A plan has no report" in section(html, "orders")
    skus = rows(section(html, "skus"))
    assert skus and all(r[2].endswith("→ —") and r[4].endswith("→ —") for r in skus), \
        "no purchase spend, no units lost without a report"
    assert "<table" in section(html, "lines")
