"""Health and metrics: ``/healthz``, ``/readyz`` (and its 503s), Prometheus ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from stockplan.api.app import create_app
from stockplan.api.db import Job, session_factory
from tests.api.conftest import example_problem, service_settings

PROBLEM = "three-customers"
#: Nothing listens on port 1: connecting fails at once (ECONNREFUSED), as a database that is down.
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/stockplan?connect_timeout=2"


@pytest.fixture
def queued_client(database_url: str) -> Iterator[TestClient]:
    """The app without its job runner (jobs stay queued), on a fresh database of each kind."""
    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        yield c


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"), run_jobs=False),
                    raise_server_exceptions=False) as c:
        yield c


def samples(client: TestClient, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples called ``name`` on ``/metrics`` (labels, value)."""
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return [(dict(s.labels), s.value) for family in text_string_to_metric_families(r.text)
            for s in family.samples if s.name == name]


def requests_total(client: TestClient, method: str, route: str, status: str) -> float:
    wanted = {"method": method, "route": route, "status": status}
    return sum(v for labels, v in samples(client, "stockplan_http_requests_total") if labels == wanted)


def jobs_gauge(client: TestClient) -> dict[str, float]:
    return {labels["state"]: v for labels, v in samples(client, "stockplan_jobs")}


def jobs_in_database(client: TestClient) -> dict[str, int]:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        return {state: int(n) for state, n in s.execute(select(Job.state, func.count()).group_by(Job.state)).all()}


class BrokenDatabase:
    """Point the app's sessions at a database that refuses connections, for the ``with`` block."""

    def __init__(self, client: TestClient) -> None:
        self.state: Any = client.app.state  # type: ignore[attr-defined]
        self.engine = create_engine(UNREACHABLE)

    def __enter__(self) -> None:
        self.saved = self.state.sessions
        self.state.sessions = session_factory(self.engine)

    def __exit__(self, *exc: object) -> None:
        self.state.sessions = self.saved
        self.engine.dispose()


# ---------------------------------------------------------------------------------------------- health


def test_healthz_and_readyz(tmp_path: Path) -> None:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"))) as c:
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        r = c.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "mode": "local development (no API keys)"}
        # A stopped job runner is not ready (the process still answers).
        c.app.state.runner.stop()  # type: ignore[attr-defined]
        r = c.get("/readyz")
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 503 and "job runner" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_readyz_is_503_while_the_database_is_unreachable(sqlite_client: TestClient) -> None:
    c = sqlite_client
    assert c.get("/readyz").status_code == 200
    with BrokenDatabase(c):
        r = c.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == 503 and body["title"] == "Service unavailable"
        assert body["detail"] == "database unavailable: OperationalError"  # the type, not the URL or password
        assert c.get("/healthz").status_code == 200  # alive, only not ready
    assert c.get("/readyz").status_code == 200  # and ready again once the database is back


def test_metrics_are_still_served_while_the_database_is_unreachable(sqlite_client: TestClient) -> None:
    c = sqlite_client
    assert c.get("/healthz").status_code == 200
    with BrokenDatabase(c):
        assert c.get("/readyz").status_code == 503
        r = c.get("/metrics")
        assert r.status_code == 200, r.text
        assert 'stockplan_http_requests_total{method="GET",route="/readyz",status="503"} 1.0' in r.text


# ---------------------------------------------------------------------------------------------- metrics


def test_request_counts_by_route_template(sqlite_client: TestClient) -> None:
    c = sqlite_client
    for _ in range(3):
        assert c.get("/healthz").status_code == 200
    assert c.get("/v1/jobs/abc").status_code == 404
    assert c.get("/v1/jobs/def").status_code == 404
    assert c.get("/v1/plans/xyz/audit").status_code == 404
    assert c.get("/no/such/route").status_code == 404
    assert c.post("/v1/jobs", content=b"{", headers={"Content-Type": "application/json"}).status_code == 422
    assert c.post("/v1/jobs", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415

    assert requests_total(c, "GET", "/healthz", "200") == 3
    # Labelled by the route's template, never by the raw path: ids do not explode the label set.
    assert requests_total(c, "GET", "/v1/jobs/{job_id}", "404") == 2
    assert requests_total(c, "GET", "/v1/plans/{plan_id}/audit", "404") == 1
    assert requests_total(c, "GET", "unmatched", "404") == 1
    assert requests_total(c, "POST", "/v1/jobs", "422") == 1
    assert requests_total(c, "POST", "/v1/jobs", "415") == 1
    routes = {labels["route"] for labels, _ in samples(c, "stockplan_http_requests_total")}
    assert not any(r in route for route in routes for r in ("abc", "def", "xyz", "/no/such"))


def test_jobs_gauge_matches_the_database(queued_client: TestClient) -> None:
    c = queued_client
    assert jobs_gauge(c) == {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "canceled": 0}
    ids = [c.post("/v1/jobs", json={"problem": example_problem(PROBLEM)}).json()["id"] for _ in range(4)]
    assert c.delete(f"/v1/jobs/{ids[0]}").status_code == 200
    assert jobs_in_database(c) == {"queued": 3, "canceled": 1}
    assert jobs_gauge(c) == {"queued": 3, "running": 0, "succeeded": 0, "failed": 0, "canceled": 1}
    # The gauge is read from the database at scrape time, so it follows changes made elsewhere.
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        job = s.get(Job, ids[1])
        assert job is not None
        job.state = "failed"
        s.commit()
    gauge = jobs_gauge(c)
    assert gauge == {"queued": 2, "running": 0, "succeeded": 0, "failed": 1, "canceled": 1}
    assert {k: v for k, v in gauge.items() if v} == jobs_in_database(c)


def test_solve_seconds_after_a_job_finishes(client: TestClient) -> None:
    assert samples(client, "stockplan_solve_seconds_count") == [({}, 0.0)]
    r = client.post("/v1/jobs?wait=60", json={"problem": example_problem(PROBLEM), "options": {"explain": False}})
    assert r.status_code == 200 and r.json()["state"] == "succeeded", r.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        job = s.get(Job, r.json()["id"])
        assert job is not None and job.solve_seconds is not None and job.solve_seconds > 0
        seconds = job.solve_seconds
    # Observed when the runner reaps the worker, a moment after the job row is final.
    deadline = time.monotonic() + 30
    while samples(client, "stockplan_solve_seconds_count") == [({}, 0.0)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert samples(client, "stockplan_solve_seconds_count") == [({}, 1.0)]
    assert samples(client, "stockplan_solve_seconds_sum") == [({}, pytest.approx(seconds))]
    buckets = {labels["le"]: v for labels, v in samples(client, "stockplan_solve_seconds_bucket")}
    assert buckets["+Inf"] == 1.0
    assert all(v == (1.0 if float(le) >= seconds else 0.0) for le, v in buckets.items())
    assert jobs_gauge(client)["succeeded"] == 1
