"""The plan's tables (api/ui/tables.py) through the pages: filters, sorting and paging kept in the URL.

On mixed-medium (120 orders) solved through ``POST /v1/jobs``: every page shows what
the plan's report says, in the order asked, 50 rows a page; a wrong parameter is a
422 page naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from stockplan.api.ui.formatting import money
from tests.api.conftest import example_problem, service_settings, wait_for_job


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('queue') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:
        body = {"problem": example_problem("mixed-medium"), "options": {"time_limit": 10}}
        job = c.post("/v1/jobs?wait=60", json=body).json()
        job = job if job["state"] == "succeeded" else wait_for_job(c, job["id"])
        assert job["state"] == "succeeded", job
        yield c, c.get(f"/v1/plans/{job['plan_id']}").json()


def body_rows(html: str) -> list[str]:
    tbody = re.search(r"<tbody>(.*?)</tbody>", html.split('class="attention"')[-1].split("</details>")[-1], re.S)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", tbody.group(1), re.S) if tbody else []


def text(cell: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


def late_lines(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [ln for ln in plan["plan"]["report"]["lines"] if ln["status"] != "on_time"]


def test_exceptions_come_most_money_at_stake_first(medium: Any) -> None:
    client, plan = medium
    late = late_lines(plan)
    assert len(late) > 3
    rows = body_rows(client.get(f"/ui/plans/{plan['id']}").text)
    assert len(rows) == min(50, len(late))
    shown = [re.search(r'<th scope="row" class="nowrap">(.*?)</th>', r).group(1) for r in rows]  # type: ignore[union-attr]
    expected = sorted(late, key=lambda ln: (-ln["lateness_cost"], ["lost", "partially_lost", "backordered"].index(
        ln["status"])))
    stakes = [ln["lateness_cost"] for ln in expected[:50]]
    assert [money(ln["lateness_cost"]) for ln in late if f'{ln["order"]} · {ln["line"]}' == shown[0]] == [
        money(stakes[0])]
    got = [next(ln["lateness_cost"] for ln in late if f'{ln["order"]} · {ln["line"]}' == s) for s in shown]
    assert got == sorted(got, reverse=True) == stakes


def test_a_filter_and_a_sort_are_kept_in_the_url(medium: Any) -> None:
    client, plan = medium
    pid = plan["id"]
    late = late_lines(plan)
    status = max({ln["status"] for ln in late}, key=lambda st: sum(ln["status"] == st for ln in late))
    html = client.get(f"/ui/plans/{pid}?status={status}&sort=due").text
    rows = body_rows(html)
    assert len(rows) == min(50, sum(ln["status"] == status for ln in late))
    assert all(f'class="badge line-{status}"' in r for r in rows)
    dues = [re.search(r"(\d{4}-\d\d-\d\d) →", r).group(1) for r in rows]  # type: ignore[union-attr]
    assert dues == sorted(dues)
    # The column sorted by says so, and its link turns the order round without losing the filter.
    assert re.search(rf'aria-sort="ascending"><a href="/ui/plans/{pid}\?status={status}&amp;sort=-due"', html)
    assert f'<option value="{status}" selected>' in html
    # A SKU filter matches part of the id, ignoring case.
    sku = late[0]["sku"]
    rows = body_rows(client.get(f"/ui/plans/{pid}?sku={sku[-3:].lower()}").text)
    assert rows and all(sku[-3:] in text(r) for r in rows)
    assert len(rows) == min(50, sum(sku[-3:] in ln["sku"] for ln in late))


def test_pages_of_fifty_with_links_that_keep_the_view(medium: Any) -> None:
    client, plan = medium
    pid = plan["id"]
    orders = plan["plan"]["report"]["orders"]
    assert len(orders) > 100
    first = client.get(f"/ui/plans/{pid}/shipments?sort=customer").text
    assert len(body_rows(first)) == 50 and f"Rows 1–50 of {len(orders)}" in first
    assert f'href="/ui/plans/{pid}/shipments?sort=customer&amp;page=2" rel="next"' in first
    second = client.get(f"/ui/plans/{pid}/shipments?sort=customer&page=2").text
    assert f"Rows 51–100 of {len(orders)}" in second and 'rel="prev"' in second
    names = [text(re.findall(r"<td>(.*?)</td>", r, re.S)[0]) for r in body_rows(first) + body_rows(second)]
    assert names == sorted(o["customer"] for o in orders)[:100]
    past = client.get(f"/ui/plans/{pid}/shipments?page=9").text
    assert "Page 9 is past the last page (3)" in past


@pytest.mark.parametrize(("query", "param"), [("page=two", "page"), ("sort=bogus", "sort"), ("from=soon", "from"),
                                              ("priority=high", "priority"), ("colour=red", "colour")])
def test_a_wrong_parameter_is_a_page_naming_it(medium: Any, query: str, param: str) -> None:
    client, plan = medium
    r = client.get(f"/ui/plans/{plan['id']}?{query}")
    assert r.status_code == 422 and f"<code>{param}</code>" in r.text


def test_purchase_orders_filter_by_supplier_and_decision(medium: Any) -> None:
    client, plan = medium
    pid = plan["id"]
    pos = plan["plan"]["report"]["purchase_orders"]
    supplier = pos[0]["supplier"]
    html = client.get(f"/ui/plans/{pid}/purchase-orders?supplier={supplier}").text
    shown = {int(i) for i in re.findall(r'<tr id="po-(\d+)">', html)}
    assert shown == {p["index"] for p in pos if p["supplier"] == supplier}
    assert client.get(f"/ui/plans/{pid}/purchase-orders?state=approved").text.count('<tr id="po-') == 0
    assert client.get(f"/ui/plans/{pid}/purchase-orders?state=maybe").status_code == 422
