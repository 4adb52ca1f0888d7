"""Hostile request bodies: every one is a 4xx problem+json naming the field, no job is queued, the server lives.

NaN and ±Infinity (bare JSON constants), numbers that overflow (``1e999``) or are merely
enormous (``1e308``), integers longer than Python converts, nesting deep enough to
break a recursive parser or encoder, ten-thousand-fold arrays, wrong content types,
truncated JSON, non-UTF-8 bytes, bodies over the limit (announced and streamed),
unknown fields and invalid problems. Job submission is tried on SQLite and PostgreSQL
(that is where a body reaches the database); the rest runs on SQLite only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stockplan.api.app import create_app
from stockplan.api.db import Job
from tests.api.conftest import example_problem, service_settings

JSON = {"Content-Type": "application/json"}
PROBLEM = "three-customers"


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[TestClient]:
    """The app without its job runner, on a fresh SQLite file (the database does not matter here)."""
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"), run_jobs=False)) as c:
        yield c


def job_rows(client: TestClient) -> int:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def assert_refused(client: TestClient, r: httpx.Response, status: int, path: str | None = None,
                   path_prefix: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 answer with ``status`` (naming ``path``), nothing was queued, the server answers."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].endswith(str(status))
    paths = [e["path"] for e in body.get("errors", [])]
    if path is not None:
        assert path in paths, body
    if path_prefix is not None:
        assert paths and all(p.startswith(path_prefix) for p in paths), body
    assert job_rows(client) == 0
    assert client.get("/v1/jobs").json() == []
    assert client.get("/healthz").status_code == 200
    return body


def problem_text(name: str = PROBLEM) -> str:
    return json.dumps(example_problem(name))


def job_body(problem: str | None = None, options: str | None = None, extra: str = "") -> bytes:
    """A ``POST /v1/jobs`` body written by hand, so that it can hold what ``json.dumps`` would not write."""
    parts = [f'"problem": {problem if problem is not None else problem_text()}']
    if options is not None:
        parts.append(f'"options": {options}')
    if extra:
        parts.append(extra)
    return ("{" + ", ".join(parts) + "}").encode()


def with_item_cost(value: str) -> str:
    """The example problem with its one item's ``lost_sale_cost`` written as ``value`` (verbatim)."""
    text = problem_text()
    assert text.count('"lost_sale_cost": 10.0') == 1
    return text.replace('"lost_sale_cost": 10.0', f'"lost_sale_cost": {value}')


def with_first_quantity(value: str) -> str:
    """The example problem with ``orders[0].lines[0].quantity`` written as ``value``."""
    data = example_problem(PROBLEM)
    data["orders"][0]["lines"][0]["quantity"] = "@@"
    return json.dumps(data).replace('"@@"', value)


def with_extra_field(value: str) -> str:
    """The example problem with an unknown top-level field ``note`` written as ``value``.

    The JSON reader looks at every value first; the problem model then refuses ``note`` itself.
    """
    return problem_text()[:-1] + f', "note": {value}}}'


# ---------------------------------------------------------------------------------------------- POST /v1/jobs

HOSTILE_JOBS: list[tuple[str, Callable[[], bytes], str]] = [
    *[(f"lost_sale_cost={c}", lambda c=c: job_body(with_item_cost(c)), "problem.items[0].lost_sale_cost")
      for c in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999")],
    *[(f"quantity={c}", lambda c=c: job_body(with_first_quantity(c)), "problem.orders[0].lines[0].quantity")
      for c in ("NaN", "Infinity", "1e308", "1e999", "2.5", "-1", "10000000000")],
    *[(f"time_limit={c}", lambda c=c: job_body(options=f'{{"time_limit": {c}}}'), "options.time_limit")
      for c in ("NaN", "-Infinity", "1e308", "1e999", "0")],
    # Kept unknown fields are stored as they are: an infinity there was a 500 on PostgreSQL
    # (its JSON type has no Infinity), and an integer of 5,000 digits a 500 on both.
    ("note=1e999", lambda: job_body(with_extra_field("1e999")), "problem.note"),
    ("note=[NaN]", lambda: job_body(with_extra_field("[1, NaN]")), "problem.note[1]"),
    ("note=5000 digits", lambda: job_body(with_extra_field("9" * 5000)), "problem.note"),
    ("scenario=NaN", lambda: job_body(extra='"scenario": NaN'), "scenario"),
    # Strings JSON escapes can spell but no database or response can hold: a NUL was a 500 on
    # PostgreSQL (text columns refuse it); an unpaired surrogate in a kept string was solved,
    # and then its plan could never be read (the response cannot be encoded as UTF-8).
    ("scenario=NUL", lambda: job_body(extra=r'"scenario": "eu\u0000weekly"'), "scenario"),
    ("customer=surrogate", lambda: job_body(problem_text().replace('"alice"', r'"\udfff"')),
     "problem.orders[0].customer"),
    ("key=surrogate", lambda: job_body(with_extra_field("0").replace('"note"', r'"\ud800"')), r"problem.\ud800"),
]


@pytest.mark.parametrize("make_body, path", [pytest.param(m, p, id=i) for i, m, p in HOSTILE_JOBS])
def test_non_finite_and_enormous_numbers_are_refused_by_their_path(
    client: TestClient, make_body: Callable[[], bytes], path: str
) -> None:
    r = client.post("/v1/jobs", content=make_body(), headers=JSON)
    assert_refused(client, r, 422, path)


def test_an_enormous_cost_is_refused_before_it_reaches_a_solver(client: TestClient) -> None:
    r = client.post("/v1/jobs", content=job_body(with_item_cost("1e308")), headers=JSON)
    assert_refused(client, r, 422, "problem.items[0].lost_sale_cost")


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/jobs/%00"), ("DELETE", "/v1/jobs/a%00b"), ("GET", "/v1/plans/%00"), ("GET", "/v1/plans/%00/audit"),
    ("GET", "/v1/plans/%00/export"), ("GET", "/v1/jobs?state=%00"), ("GET", "/v1/plans?scenario=%00"),
])
def test_a_nul_in_an_id_or_filter_is_not_a_server_error(
    database_url: str, method: str, path: str, request: pytest.FixtureRequest
) -> None:
    with TestClient(create_app(service_settings(database_url), run_jobs=False), raise_server_exceptions=False) as c:
        r = c.request(method, path)
        assert r.status_code in (200, 404, 422), r.text
        assert c.get("/healthz").status_code == 200


def test_deep_nesting_is_refused(client: TestClient) -> None:
    # 100,000 levels: the parser gives up (RecursionError), the body is named.
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_refused(client, client.post("/v1/jobs", content=deep, headers=JSON), 422, "body")
    inside = job_body(with_extra_field("[" * 100_000 + "]" * 100_000))
    assert_refused(client, client.post("/v1/jobs", content=inside, headers=JSON), 422, "body")
    # 900 levels parse, but were a 500 when the JSON column encoded them again: now refused by path.
    moderate = job_body(with_extra_field("[" * 900 + "]" * 900))
    body = assert_refused(client, client.post("/v1/jobs", content=moderate, headers=JSON), 422,
                          path_prefix="problem.note[0][0]")
    assert "nested deeper than" in body["errors"][0]["message"]
    # The depth limit leaves ordinary structure alone: 20 levels reach the problem model, which
    # refuses the unknown field itself (not its depth).
    fine = job_body(with_extra_field("[" * 20 + "]" * 20))
    body = assert_refused(client, client.post("/v1/jobs", content=fine, headers=JSON), 422, "problem.note")
    assert [e["path"] for e in body["errors"]] == ["problem.note"]
    assert body["errors"][0]["message"].startswith("unknown field")


def test_wrong_content_type_truncated_and_non_utf8_bodies(client: TestClient) -> None:
    body = job_body()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        r = client.post("/v1/jobs", content=body, headers=headers)
        assert_refused(client, r, 415)
        assert (content_type or "none") in r.json()["detail"]
    truncated = client.post("/v1/jobs", content=body[: len(body) // 2], headers=JSON)
    assert "not valid JSON" in assert_refused(client, truncated, 422, "body")["detail"]
    assert_refused(client, client.post("/v1/jobs", content=b"", headers=JSON), 422, "body")
    latin1 = '{"problem": {}, "scenario": "café"}'.encode("latin-1")
    assert_refused(client, client.post("/v1/jobs", content=latin1, headers=JSON), 422, "body")
    assert_refused(client, client.post("/v1/jobs", content=b"\xff\xfe\x00{", headers=JSON), 422, "body")
    assert_refused(client, client.post("/v1/jobs", json=[1, 2]), 422, "body")


def test_unknown_fields_and_an_invalid_problem_are_named(client: TestClient) -> None:
    problem = example_problem(PROBLEM)
    assert_refused(client, client.post("/v1/jobs", json={"problem": problem, "priority": 1}), 422, "priority")
    assert_refused(client, client.post("/v1/jobs", json={"problem": problem, "options": {"threads": 64}}), 422,
                   "options.threads")
    assert_refused(client, client.post("/v1/jobs", json={"options": {}}), 422, "problem")
    problem["orders"][0]["lines"][0]["sku"] = "NO-SUCH-SKU"
    body = assert_refused(client, client.post("/v1/jobs", json={"problem": problem}), 422,
                          "problem.orders[0].lines[0].sku")
    assert "NO-SUCH-SKU" in body["errors"][0]["message"]


def test_a_million_orders_is_refused_by_the_size_limits(client: TestClient) -> None:
    # 10^6 minimal orders are 4 MB, under the body limit: the problem's size caps
    # (models/validation.py Limits.max_orders = 200,000) refuse them by path, before
    # pydantic builds a million objects.
    problem = example_problem(PROBLEM) | {"orders": [{}] * 1_000_000}
    body = assert_refused(client, client.post("/v1/jobs", json={"problem": problem}), 422, "problem.orders")
    assert "1000000 entries exceed the limit of 200000" in body["errors"][0]["message"]


# ---------------------------------------------------------------------------------------------- body limit


def test_a_body_over_the_limit_is_413_announced_or_streamed(tmp_path: Path) -> None:
    settings = service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}", max_body_bytes=2_000)
    body = json.dumps({"problem": example_problem("mixed-small")}).encode()
    assert len(body) > 2_000
    with TestClient(create_app(settings, run_jobs=False)) as c:
        announced = c.post("/v1/jobs", content=body, headers=JSON)
        assert_refused(c, announced, 413)
        assert "2,000 bytes" in announced.json()["detail"] and announced.headers["connection"] == "close"

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 500):
                yield body[i:i + 500]

        for route in ("/v1/jobs", "/v1/problems:validate", "/v1/plans:evaluate"):
            r = c.post(route, content=chunks(), headers=JSON)  # Transfer-Encoding: chunked
            assert "content-length" not in r.request.headers
            assert_refused(c, r, 413)
        # Under the limit, the same service takes the body.
        assert c.post("/v1/problems:validate", json=example_problem(PROBLEM)).status_code == 200


def test_an_endless_stream_is_cut_at_the_limit(tmp_path: Path) -> None:
    """The guard stops reading at the limit: an endless body is answered, not buffered."""
    settings = service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}", max_body_bytes=10_000)
    app = create_app(settings, run_jobs=False)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"problem": {"orders": ['
        while True:
            sent += 1_000
            yield b'{"id": "SO", "customer": "c", "due": "2026-12-07", "lines": []},' * 15

    async def post() -> httpx.Response:
        # httpx's ASGI transport streams the request body chunk by chunk (the TestClient buffers it).
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as ac:
            return await ac.post("/v1/jobs", content=endless(), headers=JSON)

    with TestClient(app) as c:  # the lifespan: database and state
        r = asyncio.run(post())
        assert_refused(c, r, 413)
        assert sent < 50_000  # a few chunks past 10 kB, then the generator was left alone


def test_a_million_full_orders_streamed_are_cut_at_the_default_limit(tmp_path: Path) -> None:
    """10^6 real orders are ~120 MB: streamed without Content-Length, 413 after the first 20 MB."""
    app = create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"), run_jobs=False)
    order = json.dumps(example_problem(PROBLEM)["orders"][0]).encode()
    produced = 0

    async def orders() -> AsyncIterator[bytes]:
        nonlocal produced
        yield b'{"problem": {"orders": ['
        for i in range(0, 1_000_000, 1_000):
            produced += 1_000
            yield b",".join([order] * 1_000) + (b"," if i < 999_000 else b"]}}")

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as ac:
            return await ac.post("/v1/jobs", content=orders(), headers=JSON)

    with TestClient(app) as c:
        assert_refused(c, asyncio.run(post()), 413)
        assert produced < 1_000_000 // 2


# ---------------------------------------------------------------------------------------------- other routes


def test_validate_a_problem(sqlite_client: TestClient) -> None:
    c = sqlite_client
    ok = c.post("/v1/problems:validate", json=example_problem(PROBLEM))
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "orders": 4, "skus": 1, "locations": 1, "agreements": 1, "periods": 6,
                         "warnings": []}
    broken = example_problem(PROBLEM)
    broken["orders"][0]["lines"][0]["sku"] = "NOPE"
    broken["items"][0]["lost_sale_cost"] = -1
    both = assert_refused(c, c.post("/v1/problems:validate", json=broken), 422, "$.items[0].lost_sale_cost")
    # Shape and cross-entity errors in one answer (the order's shape is sound, its sku unknown).
    assert [e["path"] for e in both["errors"]] == ["$.items[0].lost_sale_cost", "$.orders[0].lines[0].sku"]
    broken["items"][0]["lost_sale_cost"] = 10.0
    body = assert_refused(c, c.post("/v1/problems:validate", json=broken), 422, "$.orders[0].lines[0].sku")
    assert body["errors"] == [{"path": "$.orders[0].lines[0].sku", "message": "unknown sku 'NOPE'"}]
    # Refused by the JSON reader, which names paths from the body (no "$." prefix, unlike the validator's).
    nan = c.post("/v1/problems:validate", content=with_item_cost("NaN").encode(), headers=JSON)
    assert_refused(c, nan, 422, "items[0].lost_sale_cost")
    assert_refused(c, c.post("/v1/problems:validate", json=[]), 422, "$")
    assert_refused(c, c.post("/v1/problems:validate", content=b"{}", headers={"Content-Type": "text/plain"}), 415)
    huge = example_problem(PROBLEM) | {"orders": [0] * 1_000_000}
    assert_refused(c, c.post("/v1/problems:validate", json=huge), 422, "$.orders")


def test_a_misspelt_field_is_a_422_naming_it_with_a_suggestion(sqlite_client: TestClient) -> None:
    c = sqlite_client
    problem = example_problem(PROBLEM)
    problem["orders"][0]["earliest_date"] = problem["orders"][0]["due"]
    body = assert_refused(c, c.post("/v1/problems:validate", json=problem), 422, "$.orders[0].earliest_date")
    assert body["errors"] == [{"path": "$.orders[0].earliest_date",
                               "message": "unknown field; did you mean 'earliest'?"}]
    body = assert_refused(c, c.post("/v1/jobs", json={"problem": problem}), 422, "problem.orders[0].earliest_date")
    assert "did you mean 'earliest'?" in body["errors"][0]["message"]
    # The request bodies themselves, too.
    body = assert_refused(c, c.post("/v1/jobs", json={"problem": example_problem(PROBLEM), "optons": {}}), 422,
                          "optons")
    assert body["errors"] == [{"path": "optons", "message": "unknown field; did you mean 'options'?"}]
    body = assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": {"shipment": []}}),
                          422)
    # The problem's errors and the plan's in one answer.
    assert body["errors"] == [
        {"path": "problem.orders[0].earliest_date", "message": "unknown field; did you mean 'earliest'?"},
        {"path": "plan.shipment", "message": "unknown field; did you mean 'shipments'?"}]


def test_evaluate_refuses_what_is_not_a_plan(sqlite_client: TestClient) -> None:
    c = sqlite_client
    problem = example_problem(PROBLEM)
    body = assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": problem}), 422, "plan")
    assert "this is a problem, not a plan" in body["errors"][0]["message"]
    record = {"id": "p1", "state": "proposed", "plan": {"shipments": [], "status": "optimal", "cost": 0.0,
                                                         "costs": {}}}
    body = assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": record}), 422,
                          "plan.plan")
    assert "the plan is under 'plan'" in body["errors"][0]["message"]


def test_evaluate_a_plan_naming_an_unknown_order(sqlite_client: TestClient) -> None:
    plan = {"shipments": [{"order": "SO-404", "line": 0, "location": "WH-1", "period": 0, "quantity": 1}]}
    r = sqlite_client.post("/v1/plans:evaluate", json={"problem": example_problem(PROBLEM), "plan": plan})
    assert r.status_code == 200
    result = r.json()
    assert result["feasible"] is False
    (violation,) = [v for v in result["violations"] if v["rule"] == "unknown_reference"]
    assert "SO-404" in violation["message"] and violation["entities"]["order"] == "SO-404"
    assert job_rows(sqlite_client) == 0  # evaluating queues nothing


def test_evaluate_a_malformed_plan(sqlite_client: TestClient) -> None:
    c = sqlite_client
    problem = example_problem(PROBLEM)
    bad = {"shipments": [{"order": "SO-1", "line": -1, "location": "WH-1", "period": "soon", "quantity": 1}]}
    body = assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": bad}), 422)
    assert {e["path"] for e in body["errors"]} == {"plan.shipments[0].line", "plan.shipments[0].period"}
    assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": {"shipments": {}}}), 422,
                   "plan.shipments")
    assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem}), 422, "plan")
    assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": problem, "plan": {}, "x": 0}), 422, "x")
    unknown_sku = example_problem(PROBLEM)
    unknown_sku["orders"][0]["lines"][0]["sku"] = "NOPE"
    assert_refused(c, c.post("/v1/plans:evaluate", json={"problem": unknown_sku, "plan": {}}), 422,
                   "problem.orders[0].lines[0].sku")
    quantity = b'{"problem": %s, "plan": {"purchase_orders": [{"agreement": "AG-1", "period": 0, "quantity": %s}]}}'
    for value in (b"Infinity", b"1e999"):
        r = c.post("/v1/plans:evaluate", content=quantity % (problem_text().encode(), value), headers=JSON)
        assert_refused(c, r, 422, "plan.purchase_orders[0].quantity")
    assert_refused(c, c.post("/v1/plans:evaluate", json="plan"), 422, "body")


def test_decisions_with_hostile_bodies_are_named(sqlite_client: TestClient) -> None:
    # The body is checked before the plan is looked up: no plan needed.
    c = sqlite_client
    for raw, path in ((b'{"decision": "approve", "target": "shipment", "index": NaN}', "index"),
                      (b'{"decision": "approve", "target": "shipment", "index": 1e999}', "index"),
                      (b'{"decision": "maybe"}', "decision"),
                      (b'{"decision": "approve", "by": "me"}', "by")):
        assert_refused(c, c.post("/v1/plans/any/decisions", content=raw, headers=JSON), 422, path)
