"""Bulk decisions on the purchase orders page (``POST /ui/plans/{id}/bulk``): selected rows or all matching."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from tests.api.conftest import service_settings
from tests.api.test_ui import section, solve


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"))) as c:
        yield c


def states(client: TestClient, plan_id: str) -> list[str]:
    items: list[str] = client.get(f"/v1/plans/{plan_id}").json()["items"]["purchase_order"]
    return items


def test_approve_the_selected_rows_with_one_comment(client: TestClient) -> None:
    plan = solve(client, "mixed-small")
    pid = plan["id"]
    html = client.get(f"/ui/plans/{pid}/purchase-orders").text
    assert 'form="bulk"' in html and 'id="bulk-approve"' in html
    picked = [int(i) for i in re.findall(r'name="index" value="(\d+)" form="bulk"', html)][:3]
    r = client.post(f"/ui/plans/{pid}/bulk", follow_redirects=False,
                    data={"decision": "approve", "scope": "selected", "index": [str(i) for i in picked],
                          "comment": "checked with the buyer", "next": f"/ui/plans/{pid}/purchase-orders"})
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/ui/plans/{pid}/purchase-orders?done=approve")
    page = client.get(r.headers["location"]).text
    assert "Approved 3 purchase orders." in page
    assert [i for i, st in enumerate(states(client, pid)) if st == "approved"] == sorted(picked)
    audit = section(client.get(f"/ui/plans/{pid}/audit").text, "audit")
    assert audit.count("checked with the buyer") == 3
    for i in picked:
        assert f"purchase order #{i + 1}<" in audit


def test_approve_everything_from_one_supplier_then_export(client: TestClient) -> None:
    plan = solve(client, "mixed-small")
    pid = plan["id"]
    pos = plan["plan"]["report"]["purchase_orders"]
    supplier = pos[0]["supplier"]
    theirs = sorted(p["index"] for p in pos if p["supplier"] == supplier)
    # The button in "needs a decision": all of the supplier's purchase orders still to decide.
    head = section(client.get(f"/ui/plans/{pid}").text, "attention")
    assert f"Approve all {len(theirs)}" in head
    r = client.post(f"/ui/plans/{pid}/bulk", follow_redirects=False,
                    data={"decision": "approve", "scope": "all", "supplier": supplier, "state": "proposed"})
    assert r.status_code == 303 and "Approved" in client.get(r.headers["location"]).text
    assert [i for i, st in enumerate(states(client, pid)) if st == "approved"] == theirs
    head = section(client.get(f"/ui/plans/{pid}").text, "attention")
    assert f"open purchase orders from {supplier}" not in head  # nothing left to decide there
    exported = client.get(f"/v1/plans/{pid}/export.csv").text.splitlines()
    assert len(exported) == 1 + len(theirs) and all(f",{supplier}," in row for row in exported[1:])
    # "All matching" follows the filters: rejecting the other suppliers' leaves this one's approved.
    others = client.post(f"/ui/plans/{pid}/bulk", follow_redirects=False,
                         data={"decision": "reject", "scope": "all", "state": "proposed"})
    assert others.status_code == 303
    final = states(client, pid)
    assert [i for i, st in enumerate(final) if st == "approved"] == theirs
    assert all(st == "rejected" for i, st in enumerate(final) if i not in theirs)


def test_a_refused_or_empty_bulk_decision_says_why_on_the_page(client: TestClient) -> None:
    plan = solve(client, "mixed-small", "bulk-refused")
    newer = solve(client, "mixed-small", "bulk-refused")  # supersedes the first: approving it is refused
    r = client.post(f"/ui/plans/{plan['id']}/bulk", data={"decision": "approve", "scope": "all",
                                                         "next": f"/ui/plans/{plan['id']}/purchase-orders"})
    assert r.status_code == 409 and 'role="alert"' in r.text and newer["id"] in r.text
    assert 'id="purchase-orders"' in r.text  # back on the page it was posted from
    assert set(states(client, plan["id"])) == {"proposed"}
    empty = client.post(f"/ui/plans/{newer['id']}/bulk", data={"decision": "approve", "scope": "selected"})
    assert empty.status_code == 422 and "Select purchase orders first" in empty.text
    bad = client.post(f"/ui/plans/{newer['id']}/bulk", data={"decision": "approve", "index": "first"})
    assert bad.status_code == 422 and "<code>index</code>" in bad.text
    cross = client.post(f"/ui/plans/{newer['id']}/bulk", headers={"Origin": "https://evil.example"},
                        data={"decision": "approve", "scope": "all"})
    assert cross.status_code == 403 and set(states(client, newer["id"])) == {"proposed"}
