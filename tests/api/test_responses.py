"""The API's wire models (``api/responses.py``): money rounded on the wire, exact in the database; the API's own
documentation pages served offline; ``/`` leads to the review pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api import services
from stockplan.api.db import PlanRow
from stockplan.api.responses import (
    MONEY_DECIMALS,
    CostsView,
    Export,
    JobLinks,
    JobView,
    PlanEvaluation,
    PlanView,
    money,
    plan_body,
)
from stockplan.models.plan import load_plan
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from tests.api.conftest import example_problem

PLAN_MONEY = ("cost", "bound", "objective", "promise_slip", "shipment_fees")


def at_most_cents(value: Any) -> bool:
    """A money figure as the API promises it: a number with at most two decimals (or no figure)."""
    return value is None or (isinstance(value, int | float) and money(value) == value)


def assert_money_on_the_wire(body: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in body:
            assert at_most_cents(body[key]), (key, body[key])
    for part, value in body.get("costs", {}).items():
        assert at_most_cents(value), (part, value)


def test_money_is_rounded_to_the_cent() -> None:
    assert MONEY_DECIMALS == 2
    assert money(2108.9300000000003) == 2108.93 and money(0.125) == 0.12 and money(0.135) == 0.14
    assert str(money(-0.001)) == "0.0"  # no negative zero on the wire
    costs = CostsView(purchase=3874.2300000000005, shipping=279.5899999999999)
    assert costs.model_dump(mode="json")["purchase"] == 3874.23 and costs.model_dump()["purchase"] == 3874.2300000000005
    assert costs.model_dump(mode="json")["shipping"] == 279.59


def test_a_cost_delta_adds_up_with_the_costs_a_client_sees() -> None:
    solved, edited = 5.006, 10.004  # 5.01 and 10.00 on the wire
    ev = PlanEvaluation(edited=True, feasible=True, violations=[], cost=edited, costs=CostsView(),
                        cost_delta=edited - solved)
    wire = ev.model_dump(mode="json")
    assert wire["cost"] == 10.0 and wire["cost_delta"] == 4.99  # 10.00 - 5.01, not round(4.998) = 5.00
    assert abs(wire["cost"] - wire["cost_delta"] - money(solved)) < 1e-9


def test_absent_values_stay_absent() -> None:
    assert JobLinks(self="/v1/jobs/j").model_dump(mode="json") == {"self": "/v1/jobs/j"}
    job = {"id": "j", "state": "queued", "scenario": None, "created_at": None, "started_at": None,
           "finished_at": None, "options": {"time_limit": 1.0, "gap": 0.0, "backend": "highs", "method": "auto",
                                             "seed": 0, "explain": True},
           "outcome": None, "reason": None, "attempts": 0, "cancel_requested": False, "plan_id": None,
           "progress": {"phase": "mip", "best_cost": 10.123456}, "links": {"self": "/v1/jobs/j"}}
    wire = JobView.model_validate(job).model_dump(mode="json")
    # no "plan": null, no null progress; a view without the failure fields (older writers) gets them as null
    assert wire == job | {"progress": {"phase": "mip", "best_cost": 10.12}, "failure": None, "retry_of": None,
                          "retried_by": None}


def test_costs_are_rounded_on_the_wire_and_exact_in_the_database(client: TestClient) -> None:
    problem = example_problem("mixed-small")
    r = client.post("/v1/jobs?wait=60", json={"problem": problem})
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] == "succeeded", job
    view = client.get(f"/v1/plans/{job['plan_id']}").json()
    assert view == job["plan"]
    PlanView.model_validate(view)
    assert_money_on_the_wire(view, PLAN_MONEY)
    assert_money_on_the_wire(view["plan"], PLAN_MONEY)
    assert view["cost"] == view["plan"]["cost"] == 2108.93
    # What is stored keeps the evaluator's exact value: the cost of the stored decisions, to the last bit.
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, job["plan_id"])
        assert row is not None
        exact, stored = row.cost, row.plan
        record = services.plan_view(s, row)
    # The route's fast way to the JSON (the record checked, the large plan document only rounded) is the model's.
    assert plan_body(record) == PlanView.model_validate(record).model_dump(mode="json") == view
    ev = evaluate(load_problem(problem), load_plan(stored))
    assert exact == stored["cost"] == pytest.approx(ev.cost, rel=1e-12, abs=1e-9)
    assert money(exact) == view["cost"] and exact != view["cost"]  # 2108.9300000000003: the float noise stays home
    for part, value in stored["costs"].items():
        assert view["plan"]["costs"][part] == money(value), part
    # Quantities are integers.
    assert all(isinstance(x["quantity"], int) for key in ("shipments", "purchase_orders")
               for x in view["plan"][key])
    # Every other answer that carries money rounds it the same way.
    plan_id = job["plan_id"]
    verdict = client.get(f"/v1/plans/{plan_id}/evaluation").json()
    assert_money_on_the_wire(verdict, ("cost", "cost_delta"))
    assert verdict["cost"] == view["cost"] and verdict["cost_delta"] == 0.0
    checked = client.post("/v1/plans:evaluate", json={"problem": problem, "plan": stored}).json()
    assert_money_on_the_wire(checked, PLAN_MONEY)
    assert checked["cost"] == money(ev.cost) and checked["objective"] == money(ev.objective)
    edited = client.post(f"/v1/plans/{plan_id}/edits",
                         json={"index": 0, "quantity": stored["purchase_orders"][0]["quantity"] + 3}).json()
    assert_money_on_the_wire(edited, ("cost", "cost_delta"))
    assert abs(edited["cost"] - view["cost"] - edited["cost_delta"]) < 1e-9  # the delta adds up to the cent
    for listed in client.get("/v1/plans").json():
        assert_money_on_the_wire(listed, PLAN_MONEY)
    sku = problem["items"][0]["sku"]
    quote = client.post(f"/v1/plans/{plan_id}/promises", json={"sku": sku, "quantity": 7}).json()
    for q in [quote, *quote["alternatives"]]:
        assert at_most_cents(q.get("estimated_cost")), q


def test_the_json_and_csv_exports_are_two_routes(client: TestClient) -> None:
    job = client.post("/v1/jobs?wait=60", json={"problem": example_problem("three-customers")}).json()
    plan_id = job["plan_id"]
    assert client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": "approve"}).status_code == 200
    export = client.get(f"/v1/plans/{plan_id}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/json"
    assert Export.model_validate(export.json()).items
    assert client.get(f"/v1/plans/{plan_id}/export?format=json").json() == export.json()
    csv = client.get(f"/v1/plans/{plan_id}/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == f'attachment; filename="plan-{plan_id}.csv"'
    assert csv.text.splitlines()[0].startswith("kind,index,supplier")
    assert client.get(f"/v1/plans/{plan_id}/export?format=csv").text == csv.text  # the older spelling still works
    missing = client.get("/v1/plans/nope/export.csv")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------------------------------- documentation pages


def local_assets(html: str) -> list[str]:
    """Every address a page loads (scripts, styles, icons, the document), each required to be on this server."""
    urls = re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"url: '([^']*)'", html) + re.findall(
        r'spec-url="([^"]*)"', html)
    assert urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert "http" not in html.replace("http-equiv", "") and "cdn" not in html.lower()
    return urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_is_served_from_the_app(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "content-security-policy" not in r.headers  # its inline start-up script runs (the /ui pages have a CSP)
    urls = local_assets(r.text)
    assert "/openapi.json" in urls
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
    kinds = {u.rsplit(".", 1)[-1] for u in urls}
    assert {"js", "json"} <= kinds


def test_the_home_page_is_the_review_pages(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (307, 308) and r.headers["location"] == "/ui"
    assert client.get("/").url.path == "/ui"


def test_the_vendored_assets_are_the_ones_the_notes_name() -> None:
    import hashlib
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "api" / "static"
    notes = (static / "README.md").read_text()
    assert "5.35.0" in notes and "2.5.4" in notes and "Apache-2.0" in notes and "MIT" in notes
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-favicon-32x32.png", "redoc.standalone.js"):
        assert hashlib.sha256((static / name).read_bytes()).hexdigest() in notes, name
    for name in ("swagger-ui.LICENSE", "swagger-ui.NOTICE", "redoc.LICENSE"):
        assert (static / name).stat().st_size > 0, name


def test_a_batch_runs_job_is_listed_with_the_options_it_recorded(client: TestClient) -> None:
    from stockplan.api.db import Job, JobState

    options = {"time_limit": None, "gap": None, "explain": True}  # what `stockplan batch --store` records
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        job = Job(state=JobState.SUCCEEDED, scenario="batch-1", problem=example_problem("three-customers"),
                  options=options, created_by="batch:r1", attempts=1, outcome="optimal")
        s.add(job)
        s.commit()
        job_id = job.id
    one = client.get(f"/v1/jobs/{job_id}")
    assert one.status_code == 200, one.text
    assert {k: v for k, v in one.json()["options"].items() if k in options} == options
    assert [j["id"] for j in client.get("/v1/jobs").json()] == [job_id]
