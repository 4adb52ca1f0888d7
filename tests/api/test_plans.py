"""``/v1/plans``: lifecycle (whole plan or item), audit log, supersede, export, promises — SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stockplan.api.db import AuditEntry
from tests.api.conftest import example_problem, wait_for_job


def solved_plan(client: TestClient, name: str = "three-customers", scenario: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"problem": example_problem(name)}
    if scenario:
        body["scenario"] = scenario
    job = wait_for_job(client, client.post("/v1/jobs", json=body).json()["id"])
    assert job["state"] == "succeeded", job
    plan: dict[str, Any] = client.get(f"/v1/plans/{job['plan_id']}").json()
    return plan


def decide(client: TestClient, plan_id: str, **body: Any) -> Any:
    return client.post(f"/v1/plans/{plan_id}/decisions", json=body)


def test_approve_the_whole_plan_writes_the_audit_log(client: TestClient) -> None:
    plan = solved_plan(client)
    r = decide(client, plan["id"], decision="approve", comment="looks right", actor="pat")
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert all(s == "approved" for s in r.json()["items"]["purchase_order"])
    (entry,) = client.get(f"/v1/plans/{plan['id']}/audit").json()
    assert entry["actor"] == "pat" and entry["action"] == "approve" and entry["target"] == "plan"
    assert entry["comment"] == "looks right"
    assert decide(client, plan["id"], decision="reject").status_code == 409  # decided already
    # The row is in the database, not only in the response.
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        rows = s.scalars(select(AuditEntry).where(AuditEntry.plan_id == plan["id"])).all()
    assert [(r.action, r.actor) for r in rows] == [("approve", "pat")]


def test_items_are_decided_one_by_one_and_only_approved_ones_export(client: TestClient) -> None:
    plan = solved_plan(client, "mixed-small")
    n_po, n_ship = len(plan["plan"]["purchase_orders"]), len(plan["plan"]["shipments"])
    assert decide(client, plan["id"], decision="approve", target="purchase_order", index=0).status_code == 200
    assert decide(client, plan["id"], decision="reject", target="purchase_order", index=1).status_code == 200
    assert decide(client, plan["id"], decision="approve", target="shipment", index=2).status_code == 200
    bad = decide(client, plan["id"], decision="approve", target="shipment", index=n_ship)
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "index"
    view = client.get(f"/v1/plans/{plan['id']}").json()
    assert view["items"]["purchase_order"][:2] == ["approved", "rejected"]
    assert view["items"]["purchase_order"][2:] == ["proposed"] * (n_po - 2)
    exported = client.get(f"/v1/plans/{plan['id']}/export?format=json").json()["items"]
    assert [(e["kind"], e["index"]) for e in exported] == [("purchase_order", 0), ("shipment", 2)]
    po = plan["plan"]["purchase_orders"][0]
    assert exported[0]["agreement"] == po["agreement"] and exported[0]["quantity"] == po["quantity"]
    targets = [e["target"] for e in client.get(f"/v1/plans/{plan['id']}/audit").json()]
    assert targets == ["purchase_order:0", "purchase_order:1", "shipment:2"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_of_an_approved_plan_is_identical_every_time(client: TestClient, fmt: str) -> None:
    plan = solved_plan(client, "mixed-small")
    decide(client, plan["id"], decision="approve")
    first = client.get(f"/v1/plans/{plan['id']}/export?format={fmt}")
    second = client.get(f"/v1/plans/{plan['id']}/export?format={fmt}")
    assert first.status_code == 200 and first.content == second.content
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(first.text)))
        assert len(rows) == len(plan["plan"]["purchase_orders"]) + len(plan["plan"]["shipments"])
        assert {r["kind"] for r in rows} == {"purchase_order", "shipment"}
    assert client.get(f"/v1/plans/{plan['id']}/export?format=xml").status_code == 422


def test_a_newer_plan_of_the_scenario_supersedes_the_older(client: TestClient) -> None:
    old = solved_plan(client, scenario="eu-weekly")
    new = solved_plan(client, scenario="eu-weekly")
    other = solved_plan(client, scenario="us-weekly")
    assert client.get(f"/v1/plans/{old['id']}").json()["superseded_by"] == new["id"]
    refused = decide(client, old["id"], decision="approve")
    assert refused.status_code == 409 and new["id"] in refused.json()["detail"]
    assert decide(client, old["id"], decision="approve", target="purchase_order", index=0).status_code == 409
    assert decide(client, new["id"], decision="approve").status_code == 200
    assert client.get(f"/v1/plans/{other['id']}").json()["superseded_by"] is None
    assert [p["id"] for p in client.get("/v1/plans?scenario=eu-weekly").json()] == [new["id"], old["id"]]


def test_promise_quote_against_a_stored_plan(client: TestClient) -> None:
    plan = solved_plan(client)
    r = client.post(f"/v1/plans/{plan['id']}/promises", json={"sku": "CHOC-BOX", "quantity": 3})
    assert r.status_code == 200
    quote = r.json()
    assert quote["feasible"] and quote["date"] == "2026-12-21" and quote["source"] == "new_purchase_order"
    bad = client.post(f"/v1/plans/{plan['id']}/promises", json={"sku": "NOPE", "quantity": 3})
    assert bad.status_code == 422 and "NOPE" in bad.json()["detail"]
    assert client.post("/v1/plans/none/promises", json={"sku": "CHOC-BOX", "quantity": 3}).status_code == 404


def test_evaluate_an_edited_plan(client: TestClient) -> None:
    plan = solved_plan(client)
    decisions = {k: plan["plan"][k] for k in ("shipments", "forecast_fills", "purchase_orders")}
    ok = client.post("/v1/plans:evaluate", json={"problem": example_problem("three-customers"), "plan": decisions})
    assert ok.status_code == 200 and ok.json()["feasible"] and abs(ok.json()["cost"] - 26.0) < 1e-9
    decisions["purchase_orders"][0]["quantity"] -= 1  # one unit short somewhere
    bad = client.post("/v1/plans:evaluate", json={"problem": example_problem("three-customers"), "plan": decisions})
    assert bad.status_code == 200 and not bad.json()["feasible"]
    assert {v["rule"] for v in bad.json()["violations"]} == {"stock_negative"}


def test_evaluate_takes_the_whole_plan_but_not_its_record(client: TestClient) -> None:
    record = solved_plan(client)
    problem = example_problem("three-customers")
    whole = client.post("/v1/plans:evaluate", json={"problem": problem, "plan": record["plan"]})
    assert whole.status_code == 200 and whole.json()["feasible"] and abs(whole.json()["cost"] - 26.0) < 1e-9
    # The GET /v1/plans/{id} answer was once evaluated as an empty plan, feasible: now it points at its plan.
    r = client.post("/v1/plans:evaluate", json={"problem": problem, "plan": record})
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["path"] == "plan.plan" and "the plan is under 'plan'" in error["message"]


def test_validate_a_problem(client: TestClient) -> None:
    ok = client.post("/v1/problems:validate", json=example_problem("mixed-small"))
    assert ok.status_code == 200 and ok.json()["orders"] == 25
    broken = example_problem("mixed-small")
    broken["orders"][3]["lines"][0]["sku"] = "NOPE"
    r = client.post("/v1/problems:validate", json=broken)
    assert r.status_code == 422
    assert any(e["path"] == "$.orders[3].lines[0].sku" for e in r.json()["errors"]), r.json()


def test_validate_lists_safety_stock_warnings_by_path(client: TestClient) -> None:
    problem = example_problem("mixed-small")
    assert client.post("/v1/problems:validate", json=problem).json()["warnings"] == []
    problem["stock"][0]["safety_stock"] = 9
    problem["stock"][0]["safety_stock_cost"] = 0.0
    r = client.post("/v1/problems:validate", json=problem)
    assert r.status_code == 200 and r.json()["valid"], r.text
    sku, location = problem["stock"][0]["sku"], problem["stock"][0]["location"]
    assert r.json()["warnings"] == [{
        "path": "$.stock[0]", "code": "no_cost",
        "message": f"safety stock 9 of {sku} at {location} is ignored: its safety_stock_cost is 0"}]
    problem["stock"][0]["review_period_days"] = -1
    r = client.post("/v1/problems:validate", json=problem)
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["$.stock[0].review_period_days"]


def test_an_edit_that_breaks_a_rule_blocks_approval_until_fixed(client: TestClient) -> None:
    plan = solved_plan(client, "mixed-small")
    # AG-12 sells SKU-0003 in packs of 10.
    index = next(i for i, po in enumerate(plan["plan"]["purchase_orders"]) if po["agreement"] == "AG-12")
    ordered = plan["plan"]["purchase_orders"][index]["quantity"]
    broken = client.post(f"/v1/plans/{plan['id']}/edits",
                         json={"target": "purchase_order", "index": index, "quantity": ordered + 5})
    assert broken.status_code == 200
    verdict = broken.json()
    assert not verdict["feasible"] and {v["rule"] for v in verdict["violations"]} == {"pack_size"}
    refused = decide(client, plan["id"], decision="approve")
    assert refused.status_code == 409 and "pack size" in refused.json()["detail"]
    assert decide(client, plan["id"], decision="approve", target="purchase_order", index=index).status_code == 409
    fixed = client.post(f"/v1/plans/{plan['id']}/edits",
                        json={"target": "purchase_order", "index": index, "quantity": ordered + 10}).json()
    assert fixed["feasible"] and fixed["cost_delta"] > 0  # ten more units bought and held
    assert abs(fixed["cost"] - plan["cost"] - fixed["cost_delta"]) < 1e-9
    assert decide(client, plan["id"], decision="approve").status_code == 200
    exported = client.get(f"/v1/plans/{plan['id']}/export?format=json").json()["items"]
    assert next(e for e in exported if e["kind"] == "purchase_order" and e["index"] == index)["quantity"] == \
        ordered + 10
    actions = [(e["action"], e["target"]) for e in client.get(f"/v1/plans/{plan['id']}/audit").json()]
    assert actions == [("edit", f"purchase_order:{index}"), ("edit", f"purchase_order:{index}"), ("approve", "plan")]
    # An approved plan is not edited any more.
    again = client.post(f"/v1/plans/{plan['id']}/edits", json={"index": index, "quantity": ordered})
    assert again.status_code == 409
