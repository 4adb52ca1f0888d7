"""Compare facts stored with each plan (api/compare_facts.py): they add up to the plan's costs, and the compare
page read from them is the page worked out from the plans themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from stockplan.api.compare_facts import VERSION, read_facts, unpack
from stockplan.api.db import PlanRow
from stockplan.api.ui import compare as compare_module
from tests.api.conftest import example_problem, service_settings
from tests.api.test_ui import section
from tests.api.ui.test_compare import compare, forecast_lost_sales, rows, solve


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any], dict[str, Any]]]:
    """mixed-small solved to optimality (A) and stopped at its first plan within a 90 % gap (B), as jobs."""
    url = f"sqlite:///{tmp_path_factory.mktemp('facts') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:
        problem = example_problem("mixed-small")
        a, b = solve(c, problem), solve(c, problem, gap=0.9)
        assert a["plan"]["cost"] < b["plan"]["cost"] - 1, "the two solves must give two different plans"
        yield c, a, b


def stored(client: TestClient, plan_id: str) -> dict[str, Any] | None:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, plan_id)
        assert row is not None
        return row.compare


def set_stored(client: TestClient, plan_id: str, record: dict[str, Any] | None) -> None:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, plan_id)
        assert row is not None
        row.compare = record
        s.commit()
    compare_module.PAIRS.clear()


def test_a_stored_plan_carries_facts_whose_money_adds_up_to_its_costs(pair: Any) -> None:
    client, a, b = pair
    problem = example_problem("mixed-small")
    for view in (a, b):
        plan, record = view["plan"], stored(client, view["id"])
        assert record is not None and record["version"] == VERSION
        facts = read_facts(record)
        orders = [unpack(o) for o in facts.orders.values()]
        skus = [unpack(f) for f in facts.skus.values()]
        costs = plan["costs"]
        forecast = forecast_lost_sales(problem, plan)
        assert facts.forecast_lost_sales == pytest.approx(forecast)
        # Per order: lateness is backorder and lost sales without the forecast's; shipping is the plan's.
        assert sum(o[5] for o in orders) == pytest.approx(
            costs["backorder"] + costs["lost_sales"] - forecast, abs=1e-4)
        assert sum(o[6] for o in orders) == pytest.approx(costs["shipping"], abs=1e-4)
        # Per SKU: lateness with the forecast's lost sales; units bought are the purchase orders'.
        assert sum(f[4] for f in skus) == pytest.approx(costs["backorder"] + costs["lost_sales"],
                                                                     abs=1e-4)
        assert sum(f[0] for f in skus) == sum(po["quantity"] for po in plan["purchase_orders"])
        # Each decision of the plan, by index: its key and its units; the units per key add them up.
        ships, pos = facts.shipments, facts.purchase_orders
        assert ships["each"] == [sh["quantity"] for sh in plan["shipments"]]
        assert [unpack(ships["key"][k])[:3] for k in ships["at"]] == [[sh["order"], sh["line"], sh["location"]]
                                                                      for sh in plan["shipments"]]
        assert [unpack(pos["key"][k])[0] for k in pos["at"]] == [po["agreement"] for po in plan["purchase_orders"]]
        assert sum(ships["units"]) == sum(ships["each"]) and len(set(ships["key"])) == len(ships["key"])
    assert stored(client, a["id"])["problem"] == stored(client, b["id"])["problem"]  # type: ignore[index]


def test_a_plan_stored_before_its_facts_gets_them_when_first_compared(pair: Any) -> None:
    client, a, b = pair
    compare_module.PAIRS.clear()
    from_facts = compare(client, a, b, "&lines_page=1")
    record = stored(client, b["id"])
    set_stored(client, b["id"], None)
    worked_out = compare(client, a, b, "&lines_page=1")
    assert worked_out == from_facts
    assert stored(client, b["id"]) == record


def test_facts_of_an_older_layout_are_worked_out_again(pair: Any) -> None:
    client, a, b = pair
    record = stored(client, a["id"])
    set_stored(client, a["id"], {"version": VERSION - 1})
    assert "Both plans solve the same problem" in compare(client, a, b)
    assert stored(client, a["id"]) == record


def test_an_edited_shipment_is_a_changed_row_of_the_line_level_table(pair: Any) -> None:
    client, a, b = pair
    first = b["plan"]["shipments"][0]
    r = client.post(f"/v1/plans/{b['id']}/edits", json={"target": "shipment", "index": 0,
                                                         "quantity": first["quantity"] + 3})
    assert r.status_code == 200, r.text
    try:
        listed = rows(section(compare(client, a, b, "&lines_page=1"), "lines").split('id="ship-diff-h"')[1])
        mine = [r for r in listed if r[0] == f"{first['order']} · {first['line']}" and r[1] == first["location"]]
        assert mine, listed
        before = sum(sh["quantity"] for sh in b["plan"]["shipments"]
                     if (sh["order"], sh["line"], sh["location"], sh["period"])
                     == (first["order"], first["line"], first["location"], first["period"]))
        assert any(row[4] == str(before + 3) for row in mine), mine
    finally:
        client.post(f"/v1/plans/{b['id']}/edits", json={"target": "shipment", "index": 0,
                                                        "quantity": first["quantity"]})
