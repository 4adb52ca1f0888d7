"""The review index written with each plan (api/review_index.py): summary and rows agree with the plan."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from stockplan.api.app import create_app
from stockplan.api.db import PlanRow, ReviewRow
from stockplan.api.review_index import EXCEPTION_STATUSES, review_rows
from stockplan.models.validation import load_problem
from tests.api.conftest import example_problem, service_settings, wait_for_job


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('index') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:
        job = c.post("/v1/jobs?wait=60", json={"problem": example_problem("mixed-small")}).json()
        job = job if job["state"] == "succeeded" else wait_for_job(c, job["id"])
        yield c, c.get(f"/v1/plans/{job['plan_id']}").json()


def test_a_stored_plan_has_its_summary_and_one_row_per_reviewed_thing(solved: Any) -> None:
    client, view = solved
    plan = view["plan"]
    report = plan["report"]
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, view["id"])
        assert row is not None and row.summary is not None
        kinds = dict(s.execute(select(ReviewRow.kind, func.count()).where(ReviewRow.plan_id == row.id)
                               .group_by(ReviewRow.kind)).all())
        stakes = dict(s.execute(select(ReviewRow.item, ReviewRow.stake).where(
            ReviewRow.plan_id == row.id, ReviewRow.kind == "line")).all())
        summary = row.summary
    late = [i for i, ln in enumerate(report["lines"]) if ln["status"] in EXCEPTION_STATUSES]
    assert kinds == {"line": len(late), "purchase_order": len(plan["purchase_orders"]),
                     "order": len(report["orders"]), "notice": len(report["notices"]), "stock": len(report["stock"])}
    assert stakes == {i: report["lines"][i]["lateness_cost"] for i in late}
    # The header's money at stake is the lines' lateness: the backorder and lost-sale cost of the late lines.
    at_stake = sum(v["stake"] for v in summary["exceptions"].values())
    forecast_lost = at_stake - plan["costs"]["backorder"] - plan["costs"]["lost_sales"]
    assert at_stake == pytest.approx(sum(ln["lateness_cost"] for ln in report["lines"]))
    assert forecast_lost <= 1e-6  # the rest of the lost sales is the forecast's
    assert summary["n_purchase_orders"] == len(plan["purchase_orders"])
    assert summary["kpis"]["orders_total"] == report["kpis"]["orders_total"]


def test_a_plan_stored_before_the_index_is_indexed_when_first_shown(solved: Any) -> None:
    client, view = solved
    pid = view["id"]
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.execute(delete(ReviewRow).where(ReviewRow.plan_id == pid))
        row = s.get(PlanRow, pid)
        assert row is not None
        row.summary = None
        s.commit()
    r = client.get(f"/ui/plans/{pid}/purchase-orders")
    assert r.status_code == 200 and r.text.count('<tr id="po-') == len(view["plan"]["purchase_orders"])
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.get(PlanRow, pid).summary is not None  # type: ignore[union-attr]


def test_without_a_report_purchase_orders_and_orders_come_from_the_problem() -> None:
    data = example_problem("three-customers")
    plan = {"shipments": [{"order": "SO-1", "line": 0, "location": "WH-1", "period": 0, "quantity": 2}],
            "purchase_orders": [{"agreement": "AG-1", "period": 0, "quantity": 7}]}
    rows = review_rows(plan, load_problem(data))
    po = next(r for r in rows if r["kind"] == "purchase_order")
    assert po["supplier"] == "COCOA-CO" and po["data"]["pack_size"] >= 1 and po["units"] == 7
    order = next(r for r in rows if r["kind"] == "order")
    assert order["order_ref"] == "SO-1" and order["data"]["shipments"][0]["sku"] == "CHOC-BOX"
    assert not any(r["kind"] in ("line", "notice", "stock") for r in rows)
