"""``GET /v1/plans/{id}/export``: what an ERP imports — SQLite and PostgreSQL.

The approved items are evaluated on their own before anything is exported (a
shipment whose purchase order was rejected is refused with 409 naming the broken
rule); every purchase-order row carries what an ERP needs to raise the order
(supplier, agreement, SKU, location or dropship lines, quantity, unit price, order
and arrival dates), every shipment row its order, line, SKU, location, quantity
and ship date; the CSV has a header; repeated calls give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from stockplan.models.problem import Agreement
from tests.api.conftest import example_problem

COLUMNS = ["kind", "index", "supplier", "agreement", "role", "sku", "location", "order", "line", "lines",
           "quantity", "unit_price", "order_date", "arrival_date", "ship_date"]
PO_FILLED = ["supplier", "agreement", "role", "sku", "location", "quantity", "unit_price", "order_date",
             "arrival_date"]
SHIPMENT_FILLED = ["order", "line", "sku", "location", "quantity", "ship_date"]

# A gift box bought for customers by dropship (one order from the supplier serving two customer
# orders, enough units for the price break at 5) and mugs that must be bought into the warehouse
# before they can ship.
GIFTS: dict[str, Any] = {
    "horizon": {"start": "2026-12-07", "periods": 4, "period_days": 7},
    "items": [{"sku": "GIFT", "backorder_cost": 1.0, "lost_sale_cost": 50.0},
              {"sku": "MUG", "holding_cost": 0.01, "backorder_cost": 1.0, "lost_sale_cost": 40.0}],
    "locations": [{"id": "WH-0"}],
    "stock": [{"sku": "MUG", "location": "WH-0", "on_hand": 0}],
    "orders": [
        {"id": "SO-1", "customer": "alice", "due": "2026-12-21", "lines": [{"sku": "GIFT", "quantity": 3},
                                                                          {"sku": "MUG", "quantity": 2}]},
        {"id": "SO-2", "customer": "bob", "due": "2026-12-21", "lines": [{"sku": "GIFT", "quantity": 4}]},
    ],
    "suppliers": [{"id": "SUP-DROP"}, {"id": "SUP-MUGS"}],
    "agreements": [
        {"id": "DS-GIFT", "supplier": "SUP-DROP", "sku": "GIFT", "role": "dropship", "unit_cost": 5.0,
         "lead_time_days": 7, "price_breaks": [{"min_qty": 5, "unit_cost": 4.5}]},
        {"id": "AG-MUG", "supplier": "SUP-MUGS", "sku": "MUG", "role": "primary", "location": "WH-0",
         "unit_cost": 2.0, "lead_time_days": 7},
    ],
}


def solved(client: TestClient, problem: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/jobs?wait=30", json={"problem": problem})
    assert r.status_code == 200 and r.json()["state"] == "succeeded", r.text
    plan: dict[str, Any] = client.get(f"/v1/plans/{r.json()['plan_id']}").json()
    return plan


def decide(client: TestClient, plan_id: str, decision: str, target: str = "plan", index: int | None = None) -> None:
    r = client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": decision, "target": target, "index": index})
    assert r.status_code == 200, r.text


def export(client: TestClient, plan_id: str, fmt: str = "json") -> Any:
    return client.get(f"/v1/plans/{plan_id}/export?format={fmt}")


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == COLUMNS  # the header row, in the documented order
    return list(reader)


def po_index(plan: dict[str, Any], agreement: str) -> int:
    return next(i for i, po in enumerate(plan["plan"]["purchase_orders"]) if po["agreement"] == agreement)


def test_an_approved_shipment_whose_purchase_order_was_rejected_is_refused(client: TestClient) -> None:
    plan = solved(client, example_problem("mixed-small"))
    # AG-1 brings SKU-0000 into WH-1 in period 3; the plan ships those units from there.
    rejected = po_index(plan, "AG-1")
    decide(client, plan["id"], "reject", "purchase_order", rejected)
    decide(client, plan["id"], "approve")  # everything else follows the plan: approved
    assert client.get(f"/v1/plans/{plan['id']}").json()["items"]["purchase_order"][rejected] == "rejected"
    for fmt in ("json", "csv"):
        r = export(client, plan["id"], fmt)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == 409 and body["title"] == "Conflict" and "stock_negative" in body["detail"]
        assert body["errors"] and {e["path"] for e in body["errors"]} == {"stock_negative"}
        assert any("SKU-0000 at WH-1" in e["message"] for e in body["errors"]), body


def test_item_decisions_are_evaluated_on_their_own(client: TestClient) -> None:
    plan = solved(client, GIFTS)
    mug_po = po_index(plan, "AG-MUG")
    mug_ships = [i for i, sh in enumerate(plan["plan"]["shipments"]) if sh["order"] == "SO-1" and sh["line"] == 1]
    assert mug_ships, plan["plan"]
    decide(client, plan["id"], "reject", "purchase_order", mug_po)
    for i in mug_ships:
        decide(client, plan["id"], "approve", "shipment", i)
    refused = export(client, plan["id"], "csv")
    assert refused.status_code == 409 and {e["path"] for e in refused.json()["errors"]} == {"stock_negative"}
    assert "MUG at WH-0" in refused.json()["errors"][0]["message"]
    # The planner changes their mind on the purchase order: the mugs can ship.
    decide(client, plan["id"], "approve", "purchase_order", mug_po)
    rows = csv_rows(export(client, plan["id"], "csv").text)
    assert [(r["kind"], int(r["index"])) for r in rows] == \
        [("purchase_order", mug_po)] + [("shipment", i) for i in mug_ships]
    # A rejected plan keeps the items approved one by one (an item's own decision wins).
    decide(client, plan["id"], "reject")
    assert csv_rows(export(client, plan["id"], "csv").text) == rows


def test_a_consistent_approved_plan_exports_every_column(client: TestClient) -> None:
    problem = example_problem("mixed-small")
    plan = solved(client, problem)
    decide(client, plan["id"], "approve")
    r = export(client, plan["id"], "csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0] == ",".join(COLUMNS)
    rows = csv_rows(r.text)
    pos = [row for row in rows if row["kind"] == "purchase_order"]
    ships = [row for row in rows if row["kind"] == "shipment"]
    assert len(pos) == len(plan["plan"]["purchase_orders"]) and len(ships) == len(plan["plan"]["shipments"])
    for row in pos:
        assert all(row[c] for c in PO_FILLED), row
        assert not any(row[c] for c in ("order", "line", "lines", "ship_date")), row
    for row in ships:
        assert all(row[c] for c in SHIPMENT_FILLED), row
        assert not any(row[c] for c in ("supplier", "agreement", "unit_price", "order_date", "arrival_date")), row
    # The values, worked out here from the problem and the plan.
    start, days = date.fromisoformat(problem["horizon"]["start"]), problem["horizon"]["period_days"]
    agreements = {a["id"]: Agreement.model_validate(a) for a in problem["agreements"]}
    for row in pos:
        po = plan["plan"]["purchase_orders"][int(row["index"])]
        ag = agreements[po["agreement"]]
        lead = -(-ag.lead_time_days // days)
        assert (row["supplier"], row["agreement"], row["role"], row["sku"], row["location"]) == \
            (ag.supplier, ag.id, ag.role.value, ag.sku, ag.location)
        assert int(row["quantity"]) == po["quantity"]
        assert float(row["unit_price"]) == ag.price_at(po["quantity"])
        assert row["order_date"] == (start + timedelta(days=po["period"] * days)).isoformat()
        assert row["arrival_date"] == (start + timedelta(days=(po["period"] + lead) * days)).isoformat()
    ag1 = next(row for row in pos if row["agreement"] == "AG-1")  # 21 days' lead: three weeks later
    assert (ag1["supplier"], ag1["sku"], ag1["location"]) == ("SUP-1", "SKU-0000", "WH-1")
    assert (ag1["order_date"], ag1["arrival_date"]) == ("2026-12-07", "2026-12-28")
    sku_of = {(o["id"], k): line["sku"] for o in problem["orders"] for k, line in enumerate(o["lines"])}
    for row in ships:
        sh = plan["plan"]["shipments"][int(row["index"])]
        assert (row["order"], int(row["line"]), row["location"], int(row["quantity"])) == \
            (sh["order"], sh["line"], sh["location"], sh["quantity"])
        assert row["sku"] == sku_of[(sh["order"], sh["line"])]
        assert row["ship_date"] == (start + timedelta(days=sh["period"] * days)).isoformat()
    # The JSON export: the same fields and values per item.
    items = export(client, plan["id"]).json()["items"]
    assert [list(item) for item in items] == [COLUMNS] * len(rows)
    assert [{k: "" if v is None else str(v) for k, v in item.items()} for item in items] == rows


def test_dropship_purchase_orders_list_their_lines(client: TestClient) -> None:
    plan = solved(client, GIFTS)
    decide(client, plan["id"], "approve")
    (drop,) = [row for row in csv_rows(export(client, plan["id"], "csv").text) if row["role"] == "dropship"]
    assert (drop["supplier"], drop["agreement"], drop["sku"], drop["location"]) == ("SUP-DROP", "DS-GIFT", "GIFT", "")
    lines = json.loads(drop["lines"])
    assert sorted((x["order"], x["line"], x["quantity"]) for x in lines) == [("SO-1", 0, 3), ("SO-2", 0, 4)]
    assert int(drop["quantity"]) == 7 and float(drop["unit_price"]) == 4.5  # seven units reach the break at five
    arrival = date.fromisoformat(drop["order_date"]) + timedelta(days=7)  # a week's lead: the next period
    assert drop["arrival_date"] == arrival.isoformat()
    (item,) = [x for x in export(client, plan["id"]).json()["items"] if x["role"] == "dropship"]
    assert item["lines"] == lines and item["location"] is None and item["unit_price"] == 4.5


def test_a_quantity_edited_after_its_approval_is_refused(client: TestClient) -> None:
    plan = solved(client, example_problem("mixed-small"))
    index = po_index(plan, "AG-12")  # packs of 10
    decide(client, plan["id"], "approve", "purchase_order", index)
    assert export(client, plan["id"]).status_code == 200
    ordered = plan["plan"]["purchase_orders"][index]["quantity"]
    edit = client.post(f"/v1/plans/{plan['id']}/edits",
                       json={"target": "purchase_order", "index": index, "quantity": ordered + 5})
    assert edit.status_code == 200
    r = export(client, plan["id"])
    assert r.status_code == 409 and {e["path"] for e in r.json()["errors"]} == {"pack_size"}
    # Edited down to nothing: checked, and left out of the export (there is nothing to order).
    client.post(f"/v1/plans/{plan['id']}/edits", json={"target": "purchase_order", "index": index, "quantity": 0})
    r = export(client, plan["id"])
    assert r.status_code == 200 and r.json()["items"] == []


def test_the_export_is_the_same_every_time(client: TestClient) -> None:
    plan = solved(client, GIFTS)
    decide(client, plan["id"], "approve")
    for fmt in ("csv", "json"):
        first, second, third = (export(client, plan["id"], fmt) for _ in range(3))
        assert first.status_code == 200 and first.content == second.content == third.content
    assert export(client, plan["id"], "json").json()["items"]  # not trivially the same: there is something
