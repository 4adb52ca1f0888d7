"""``/v1/jobs``: submit, poll, wait, cancel, idempotent retries (and retries of server-side failures) — on SQLite
and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from stockplan.api.app import create_app
from stockplan.api.db import Failure, Job, JobState, now
from stockplan.api.responses import money
from stockplan.models.plan import load_plan
from stockplan.models.validation import load_problem
from stockplan.solver.evaluator import evaluate
from tests.api.conftest import example_problem, service_settings, wait_for_job


def test_submit_poll_and_fetch_the_plan(client: TestClient) -> None:
    body = {"problem": example_problem("three-customers"), "scenario": "chocolate"}
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 202
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['id']}" and r.headers["Retry-After"]
    assert r.json()["state"] in ("queued", "running", "succeeded")
    job = wait_for_job(client, r.json()["id"])
    assert job["state"] == "succeeded" and job["outcome"] == "optimal"
    plan = client.get(f"/v1/plans/{job['plan_id']}").json()
    assert plan["state"] == "proposed" and plan["scenario"] == "chocolate"
    assert abs(plan["cost"] - 26.0) < 1e-6
    # The stored plan passes the evaluator, with the cost it reports.
    problem = load_problem(example_problem("three-customers"))
    ev = evaluate(problem, load_plan(plan["plan"]))
    assert ev.feasible and plan["cost"] == money(ev.cost)  # costs travel rounded to the cent
    assert plan["plan"]["report"]["notices"]  # the planner's view travels with it


def test_wait_returns_the_finished_plan_inline(client: TestClient) -> None:
    r = client.post("/v1/jobs?wait=60", json={"problem": example_problem("mixed-small")})
    assert r.status_code == 200
    job = r.json()
    assert job["state"] == "succeeded" and job["outcome"] == "optimal"
    assert abs(job["plan"]["cost"] - 2108.93) < 1e-6


def test_time_limit_is_capped_by_the_server(client: TestClient) -> None:
    r = client.post("/v1/jobs", json={"problem": example_problem("three-customers"),
                                      "options": {"time_limit": 5000}})
    assert r.status_code == 202
    assert r.json()["options"]["time_limit"] == 60.0  # max_time_limit of the test settings


def test_cancel_a_queued_job_at_once(database_url: str) -> None:
    from stockplan.api.app import create_app
    from tests.api.conftest import service_settings

    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        job = c.post("/v1/jobs", json={"problem": example_problem("three-customers")}).json()
        r = c.delete(f"/v1/jobs/{job['id']}")
        assert r.status_code == 200 and r.json()["state"] == "canceled"
        assert c.delete(f"/v1/jobs/{job['id']}").status_code == 409
        assert c.get(f"/v1/jobs/{job['id']}").json()["reason"] == "canceled before it started"


def test_cancel_a_running_job_keeps_its_best_plan(client: TestClient) -> None:
    # mixed-medium (196 lines: auto decomposes it) runs to its 60 s limit: plenty of time to cancel it mid-solve.
    r = client.post("/v1/jobs", json={"problem": example_problem("mixed-medium"),
                                      "options": {"time_limit": 60, "explain": False}})
    job_id = r.json()["id"]
    for _ in range(200):
        if client.get(f"/v1/jobs/{job_id}").json()["state"] == "running":
            break
        import time

        time.sleep(0.05)
    import time

    time.sleep(4.0)  # into the search
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 202
    job = wait_for_job(client, job_id, timeout=60)
    assert job["state"] == "canceled"
    assert job["plan_id"], job["reason"]
    plan = client.get(f"/v1/plans/{job['plan_id']}").json()
    ev = evaluate(load_problem(example_problem("mixed-medium")), load_plan(plan["plan"]))
    assert ev.feasible and plan["cost"] == money(ev.cost)  # costs travel rounded to the cent


def test_idempotent_retries(client: TestClient) -> None:
    body = {"problem": example_problem("three-customers")}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-sync-42"})
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-sync-42"})
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/jobs", json={**body, "scenario": "x"}, headers={"Idempotency-Key": "order-sync-42"})
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["errors"][0]["path"] == "Idempotency-Key"
    assert len(client.get("/v1/jobs").json()) == 1


def test_unknown_job_is_404_problem(client: TestClient) -> None:
    r = client.get("/v1/jobs/nope")
    assert r.status_code == 404 and r.json()["status"] == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def _queued_options(database_url: str, problem: dict, options: dict | None = None) -> dict:
    """The options a job is stored with (no runner: nothing is solved)."""
    from stockplan.api.app import create_app
    from tests.api.conftest import service_settings

    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        body: dict = {"problem": problem} | ({"options": options} if options is not None else {})
        r = c.post("/v1/jobs", json=body)
        assert r.status_code == 202, r.text
        stored: dict = r.json()["options"]
        assert c.get(f"/v1/jobs/{r.json()['id']}").json()["options"] == stored
        return stored


def test_the_cap_applies_to_the_problems_own_time_limit(database_url: str) -> None:
    problem = example_problem("three-customers")
    problem["settings"]["time_limit"] = 86_400  # a day: the problem may say so, the server caps it
    assert _queued_options(database_url, problem)["time_limit"] == 60.0  # max_time_limit of the test settings


def test_given_options_win_over_the_problems_settings_else_they_apply(database_url: str) -> None:
    problem = example_problem("three-customers")
    problem["settings"].update(time_limit=7, gap=0.25)
    stored = _queued_options(database_url, problem)
    assert (stored["time_limit"], stored["gap"]) == (7.0, 0.25)
    given = _queued_options(database_url, problem, {"time_limit": 20, "gap": 1e-6})
    assert (given["time_limit"], given["gap"]) == (20.0, 1e-6)
    plain = _queued_options(database_url, example_problem("three-customers"))
    assert (plain["time_limit"], plain["gap"]) == (20.0, 1e-6)  # the server's default_time_limit, the default gap


def test_a_job_with_a_shipment_fee_ships_once_and_reports_its_fees(client: TestClient) -> None:
    """Split-shipment control through the service: 40 units that would go out in three parcels for free
    go out once with a fee of 10 per shipment; the plan and ``/v1/plans:evaluate`` report the fees."""
    problem = {
        "horizon": {"start": "2027-01-04", "periods": 4, "period_days": 7},
        "items": [{"sku": "A", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 50.0}],
        "locations": [{"id": "WH-1"}],
        "stock": [{"sku": "A", "location": "WH-1", "on_hand": 25}],
        "inbound": [{"sku": "A", "location": "WH-1", "quantity": 10, "arrives": "2027-01-11"},
                    {"sku": "A", "location": "WH-1", "quantity": 5, "arrives": "2027-01-18"}],
        "orders": [{"id": "SO-1", "customer": "c", "due": "2027-01-18", "lines": [{"sku": "A", "quantity": 40}]}],
        "settings": {"shipment_cost": 10.0},
    }
    r = client.post("/v1/jobs", json={"problem": problem, "options": {"explain": False}})
    assert r.status_code == 202, r.text
    job = wait_for_job(client, r.json()["id"])
    assert job["state"] == "succeeded" and job["outcome"] == "optimal"
    record = client.get(f"/v1/plans/{job['plan_id']}").json()
    plan = record["plan"]
    assert [(s["period"], s["quantity"]) for s in plan["shipments"]] == [(2, 40)]
    assert abs(plan["shipment_fees"] - 10.0) < 1e-9 and abs(plan["cost"] - 6.0) < 1e-9
    assert abs(plan["objective"] - 16.0) < 1e-9 and plan["warnings"] == []
    checked = client.post("/v1/plans:evaluate", json={"problem": problem, "plan": plan}).json()
    assert checked["feasible"] and abs(checked["shipment_fees"] - 10.0) < 1e-9
    assert abs(checked["objective"] - checked["cost"] - 10.0) < 1e-9


# ---------------------------------------------------------------------------------------------- retries of failures


def fail_job(client: TestClient, job_id: str, failure: str | None, reason: str) -> None:
    """End a job as the runner would have: failed, with its kind of failure."""
    with client.app.state.sessions() as s, s.begin():  # type: ignore[attr-defined]
        s.execute(update(Job).where(Job.id == job_id).values(state=JobState.FAILED, failure=failure, reason=reason,
                                                             finished_at=now(), attempts=2))


def test_a_key_whose_job_failed_on_the_servers_side_starts_a_new_job(database_url: str) -> None:
    body = {"problem": example_problem("three-customers")}
    key = {"Idempotency-Key": "order-sync-7"}
    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        first = c.post("/v1/jobs", json=body, headers=key)
        assert first.status_code == 202
        old = first.json()["id"]
        fail_job(c, old, Failure.SERVER, "interrupted by a server restart 2 time(s); not retried again")
        assert c.get(f"/v1/jobs/{old}").json()["failure"] == "server"

        retry = c.post("/v1/jobs", json=body, headers=key)
        assert retry.status_code == 202, retry.text
        assert "Idempotent-Replayed" not in retry.headers
        new = retry.json()["id"]
        assert new != old and retry.json()["state"] == "queued" and retry.json()["retry_of"] == old
        was = c.get(f"/v1/jobs/{old}").json()
        assert was["state"] == "failed" and was["retried_by"] == new  # the old job is kept, as it ended
        with c.app.state.sessions() as s:  # type: ignore[attr-defined]
            row = s.get(Job, old)
            assert row is not None and row.idempotency_key is None and row.released_idempotency_key == "order-sync-7"

        # The key now belongs to the new job: the next retry replays it; another body is still refused.
        again = c.post("/v1/jobs", json=body, headers=key)
        assert again.status_code == 202 and again.json()["id"] == new
        assert again.headers["Idempotent-Replayed"] == "true"
        other = c.post("/v1/jobs", json={**body, "scenario": "x"}, headers=key)
        assert other.status_code == 422 and other.json()["errors"][0]["path"] == "Idempotency-Key"

        # A retry that fails on the server's side again can be retried again.
        fail_job(c, new, Failure.SERVER, "the worker process died (exit code -9) without a result")
        third = c.post("/v1/jobs", json=body, headers=key)
        assert third.status_code == 202 and third.json()["id"] not in (old, new)
        assert third.json()["retry_of"] == new
        newest = third.json()["id"]
        assert len(c.get("/v1/jobs").json()) == 3

    # The retry runs: a server with its runner solves it.
    with TestClient(create_app(service_settings(database_url))) as c:
        done = wait_for_job(c, newest)
        assert done["state"] == "succeeded" and done["plan_id"], done
        replay = c.post("/v1/jobs", json=body, headers=key)
        assert replay.status_code == 200 and replay.json()["id"] == newest
        assert replay.headers["Idempotent-Replayed"] == "true" and replay.json()["plan"]["id"] == done["plan_id"]


def test_a_key_whose_job_failed_for_its_problems_own_reason_replays_the_failure(database_url: str) -> None:
    body = {"problem": example_problem("three-customers")}
    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        for key, failure in (("infeasible-1", Failure.CLIENT), ("before-0006", None)):
            first = c.post("/v1/jobs", json=body, headers={"Idempotency-Key": key}).json()["id"]
            fail_job(c, first, failure, "no feasible plan")
            again = c.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
            assert again.status_code == 200 and again.json()["id"] == first, again.text
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["state"] == "failed" and again.json()["reason"] == "no feasible plan"
            assert again.json()["failure"] == failure and again.json()["retried_by"] is None
            other = c.post("/v1/jobs", json={**body, "scenario": "x"}, headers={"Idempotency-Key": key})
            assert other.status_code == 422
        # A canceled job is not a server-side failure either.
        first = c.post("/v1/jobs", json=body, headers={"Idempotency-Key": "canceled"}).json()["id"]
        assert c.delete(f"/v1/jobs/{first}").status_code == 200
        again = c.post("/v1/jobs", json=body, headers={"Idempotency-Key": "canceled"})
        assert again.json()["id"] == first and again.headers["Idempotent-Replayed"] == "true"
        assert len(c.get("/v1/jobs").json()) == 3


def test_retries_at_once_of_a_server_side_failure_start_one_new_job(database_url: str) -> None:
    import threading

    from stockplan.api import services
    from stockplan.api.schemas import JobRequest

    settings = service_settings(database_url)
    raw = {"problem": example_problem("three-customers")}
    with TestClient(create_app(settings, run_jobs=False)) as c:
        old = c.post("/v1/jobs", json=raw, headers={"Idempotency-Key": "k"}).json()["id"]
        fail_job(c, old, Failure.SERVER, "the worker process died (exit code -9) without a result")
        start, results = threading.Barrier(6), []

        def retry() -> None:
            with c.app.state.sessions() as s:  # type: ignore[attr-defined]
                start.wait()
                job, created = services.submit_job(s, JobRequest.model_validate(raw), raw, settings, "x", "k")
                results.append((job.id, created))

        threads = [threading.Thread(target=retry) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 6 and sum(created for _, created in results) == 1, results
        (new,) = {job_id for job_id, _ in results}
        assert new != old and c.get(f"/v1/jobs/{old}").json()["retried_by"] == new
        assert len(c.get("/v1/jobs").json()) == 2
