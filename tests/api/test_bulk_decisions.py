"""``POST /v1/plans/{id}/decisions:bulk``: many items in one transaction, checked by the evaluator first.

SQLite and PostgreSQL (the ``client`` fixture runs both).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_plans import solved_plan


def bulk(client: TestClient, plan_id: str, **body: Any) -> Any:
    return client.post(f"/v1/plans/{plan_id}/decisions:bulk", json=body)


def test_approving_a_suppliers_purchase_orders_writes_one_audit_entry_each(client: TestClient) -> None:
    plan = solved_plan(client, "mixed-small")
    pos = plan["plan"]["report"]["purchase_orders"]
    supplier = pos[0]["supplier"]
    mine = sorted(p["index"] for p in pos if p["supplier"] == supplier)
    r = bulk(client, plan["id"], decision="approve", indices=list(reversed(mine)), comment="weekly buy", actor="pat")
    assert r.status_code == 200, r.text
    assert r.json()["indices"] == mine and r.json()["state"] == "approved"
    view = client.get(f"/v1/plans/{plan['id']}").json()
    assert [i for i, st in enumerate(view["items"]["purchase_order"]) if st == "approved"] == mine
    assert view["state"] == "proposed"  # the plan itself is still to decide
    audit = client.get(f"/v1/plans/{plan['id']}/audit").json()
    assert [e["target"] for e in audit] == [f"purchase_order:{i}" for i in mine]
    assert {(e["actor"], e["action"], e["comment"]) for e in audit} == {("pat", "approve", "weekly buy")}
    exported = client.get(f"/v1/plans/{plan['id']}/export?format=json").json()["items"]
    assert [(e["kind"], e["index"]) for e in exported] == [("purchase_order", i) for i in mine]
    # Rejecting some of them afterwards changes their state, one audit entry each again.
    assert bulk(client, plan["id"], decision="reject", indices=mine[:1]).status_code == 200
    assert client.get(f"/v1/plans/{plan['id']}").json()["items"]["purchase_order"][mine[0]] == "rejected"
    assert len(client.get(f"/v1/plans/{plan['id']}/audit").json()) == len(mine) + 1


def test_an_approval_that_leaves_the_approved_items_breaking_a_rule_is_refused(client: TestClient) -> None:
    """Every shipment without the purchase orders that bring their stock: the export could not stand alone."""
    plan = solved_plan(client, "mixed-small")
    shipments = list(range(len(plan["plan"]["shipments"])))
    r = bulk(client, plan["id"], decision="approve", target="shipment", indices=shipments)
    assert r.status_code == 409
    problem = r.json()
    assert "would leave the approved items breaking" in problem["detail"]
    assert problem["errors"] and all(e["path"] for e in problem["errors"])
    assert "stock_negative" in {e["path"] for e in problem["errors"]}
    # Nothing was stored: no item state, no audit entry.
    view = client.get(f"/v1/plans/{plan['id']}").json()
    assert set(view["items"]["shipment"]) == {"proposed"}
    assert client.get(f"/v1/plans/{plan['id']}/audit").json() == []
    # With every purchase order approved first, the same shipments are accepted.
    pos = list(range(len(plan["plan"]["purchase_orders"])))
    assert bulk(client, plan["id"], decision="approve", indices=pos).status_code == 200
    assert bulk(client, plan["id"], decision="approve", target="shipment", indices=shipments).status_code == 200


def test_bad_bulk_requests_name_the_field(client: TestClient) -> None:
    plan = solved_plan(client, "three-customers")
    n = len(plan["plan"]["purchase_orders"])
    r = bulk(client, plan["id"], decision="approve", indices=[n])
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "indices"
    r = bulk(client, plan["id"], decision="approve", indices=[])
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "indices"
    r = bulk(client, plan["id"], decision="maybe", indices=[0])
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "decision"
    r = bulk(client, plan["id"], decision="approve", indexes=[0])
    assert r.status_code == 422 and any(e["path"] == "indexes" for e in r.json()["errors"])
    assert bulk(client, "nope", decision="approve", indices=[0]).status_code == 404
    assert client.post(f"/v1/plans/{plan['id']}/decisions", json={"decision": "approve"}).status_code == 200
    r = bulk(client, plan["id"], decision="reject", indices=[0])
    assert r.status_code == 409 and "already approved" in r.json()["detail"]
