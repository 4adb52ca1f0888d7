"""API keys: local development mode without any, bearer keys for every write once one exists.

Without a key, writes are open and decisions are recorded as ``local-dev`` (and
``/readyz`` says so). With a key, a write without it, with a wrong or revoked one is a
401 problem+json with ``WWW-Authenticate: Bearer``; with it, the audit log records the
key's owner; reads stay open. Keys are stored as SHA-256 digests only, and ``stockplan
serve`` refuses any address but loopback while no key exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from stockplan.api import auth
from stockplan.api.app import create_app
from stockplan.api.db import AuditEntry, Job, PlanRow, now
from tests.api.conftest import example_problem, free_port, service_settings, wait_for_job

PROBLEM = "three-customers"


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``stockplan ARGS`` in a fresh interpreter (as an operator runs it)."""
    return subprocess.run([sys.executable, "-m", "stockplan.api.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": "/tmp"})


def create_key_with_cli(database_url: str, owner: str) -> str:
    proc = cli("keys", "create", "--owner", owner, "--database-url", database_url)
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert key.startswith(auth.KEY_PREFIX) and len(key) > 40 and "\n" not in key, proc.stdout
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sessions(client: TestClient) -> Any:
    return client.app.state.sessions  # type: ignore[attr-defined]


def count_jobs(client: TestClient) -> int:
    with sessions(client)() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def solved_plan_id(client: TestClient, headers: dict[str, str] | None = None) -> str:
    r = client.post("/v1/jobs", json={"problem": example_problem(PROBLEM)}, headers=headers)
    assert r.status_code == 202, r.text
    job = wait_for_job(client, r.json()["id"])
    assert job["state"] == "succeeded", job
    return str(job["plan_id"])


def computing_posts(plan_id: str) -> list[tuple[str, Any]]:
    """The POSTs that spend CPU without writing anything, each with a body it answers 200 to."""
    return [("/v1/problems:validate", example_problem(PROBLEM)),
            ("/v1/plans:evaluate", {"problem": example_problem(PROBLEM), "plan": {}}),
            (f"/v1/plans/{plan_id}/promises", {"sku": "CHOC-BOX", "quantity": 1})]


def assert_401(r: Any, detail: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and detail in body["detail"]


# ---------------------------------------------------------------------------------------------- no keys


def test_local_development_mode_writes_are_open_as_local_dev(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "mode": "local development (no API keys)"}
    plan_id = solved_plan_id(client)  # a write without any Authorization header
    r = client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["decided_by"] == "local-dev"
    (entry,) = client.get(f"/v1/plans/{plan_id}/audit").json()
    assert entry["actor"] == auth.LOCAL_ACTOR == "local-dev" and entry["action"] == "approve"
    with sessions(client)() as s:
        assert s.scalars(select(AuditEntry.actor).where(AuditEntry.plan_id == plan_id)).all() == ["local-dev"]
        assert s.scalars(select(Job.created_by)).all() == ["local-dev"]
    # The computing POSTs are open too.
    for path, body in computing_posts(plan_id):
        assert client.post(path, json=body).status_code == 200, path
    # Any Authorization header is ignored while no key exists.
    r = client.post("/v1/jobs", json={"problem": example_problem(PROBLEM)}, headers=bearer("spk_whatever"))
    assert r.status_code == 202
    assert client.delete(f"/v1/jobs/{r.json()['id']}").status_code in (200, 202)


# ---------------------------------------------------------------------------------------------- with a key


def test_with_a_key_every_write_needs_it_and_the_owner_is_the_actor(client: TestClient) -> None:
    with sessions(client)() as s:
        key = auth.create_key(s, "alice")
    assert client.get("/readyz").json()["mode"] == "api keys"
    body = {"problem": example_problem(PROBLEM)}

    # Writes without a key, with another scheme, with a wrong key: 401, nothing written.
    assert_401(client.post("/v1/jobs", json=body), "requires an API key")
    assert_401(client.post("/v1/jobs", json=body, headers={"Authorization": f"Basic {key}"}), "requires an API key")
    assert_401(client.post("/v1/jobs", json=body, headers={"Authorization": "Bearer"}), "requires an API key")
    assert_401(client.post("/v1/jobs", json=body, headers=bearer(key[:-1] + "x")), "unknown or revoked")
    assert_401(client.post("/v1/jobs", json=body, headers=bearer(key.upper())), "unknown or revoked")
    # The key is checked before the body is read: a hostile body without a key is still a 401.
    assert_401(client.post("/v1/jobs", content=b"[" * 10_000, headers={"Content-Type": "application/json"}),
               "requires an API key")
    assert count_jobs(client) == 0

    # The right key (the scheme is case-insensitive).
    plan_id = solved_plan_id(client, {"Authorization": f"bearer {key}"})
    with sessions(client)() as s:
        assert s.scalars(select(Job.created_by)).all() == ["alice"]

    # Decisions: 401 without the key; with it the owner is the actor, whatever the body claims.
    assert_401(client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": "approve"}), "requires an API key")
    assert_401(client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": "approve"},
                           headers=bearer("spk_" + "A" * 43)), "unknown or revoked")
    r = client.post(f"/v1/plans/{plan_id}/decisions", json={"decision": "approve", "actor": "mallory"},
                    headers=bearer(key))
    assert r.status_code == 200 and r.json()["decided_by"] == "alice"
    (entry,) = client.get(f"/v1/plans/{plan_id}/audit").json()
    assert entry["actor"] == "alice" and entry["action"] == "approve"
    with sessions(client)() as s:
        assert s.scalars(select(AuditEntry.actor)).all() == ["alice"]
        assert s.get(PlanRow, plan_id).decided_by == "alice"  # type: ignore[union-attr]

    # DELETE: 401 without the key (the job is untouched), 409 with it (the job has finished).
    job_id = client.get(f"/v1/plans/{plan_id}").json()["job_id"]
    assert_401(client.delete(f"/v1/jobs/{job_id}"), "requires an API key")
    assert_401(client.delete(f"/v1/jobs/{job_id}", headers=bearer("nope")), "unknown or revoked")
    assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded"
    assert client.delete(f"/v1/jobs/{job_id}", headers=bearer(key)).status_code == 409

    # Reads stay open.
    for path in ("/v1/jobs", f"/v1/jobs/{job_id}", "/v1/plans", f"/v1/plans/{plan_id}", f"/v1/plans/{plan_id}/audit",
                 f"/v1/plans/{plan_id}/export?format=csv", f"/v1/plans/{plan_id}/export?format=json",
                 "/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    # The POSTs that compute without writing (validate, evaluate, promise quotes) spend CPU: they need the key
    # too (checked before the body is read), and write nothing with it.
    for path, body in computing_posts(plan_id):
        assert_401(client.post(path, json=body), "requires an API key")
        assert_401(client.post(path, json=body, headers=bearer("spk_nope")), "unknown or revoked")
        assert_401(client.post(path, content=b"[" * 10_000, headers={"Content-Type": "application/json"}),
                   "requires an API key")
        assert client.post(path, json=body, headers=bearer(key)).status_code == 200, path
    with sessions(client)() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 1  # none of that wrote anything


def test_revoked_keys_are_refused_and_never_reopen_the_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stockplan.db'}"
    alice = create_key_with_cli(url, "alice")
    body = {"problem": example_problem(PROBLEM)}
    with TestClient(create_app(service_settings(url), run_jobs=False)) as c:
        with sessions(c)() as s:
            bob = auth.create_key(s, "bob")
        assert alice != bob and alice[:10] != bob[:10]
        listed = cli("keys", "list", "--database-url", url)
        assert listed.returncode == 0 and "alice" in listed.stdout and "bob" in listed.stdout
        assert alice not in listed.stdout and bob not in listed.stdout
        assert c.post("/v1/jobs", json=body, headers=bearer(bob)).status_code == 202
        revoked = cli("keys", "revoke", bob[:10], "--database-url", url)
        assert revoked.returncode == 0 and "revoked 1 key" in revoked.stdout
        assert_401(c.post("/v1/jobs", json=body, headers=bearer(bob)), "unknown or revoked")
        assert c.post("/v1/jobs", json=body, headers=bearer(alice)).status_code == 202

        # Revoking the last key must not turn the service back into open local development mode.
        with sessions(c)() as s:
            assert auth.revoke_key(s, bob[:10]) == 0  # revoked already
            assert auth.revoke_key(s, alice[:10]) == 1
        assert_401(c.post("/v1/jobs", json=body, headers=bearer(alice)), "unknown or revoked")
        assert_401(c.post("/v1/jobs", json=body), "requires an API key")
        assert c.get("/readyz").json()["mode"] == "api keys"
        assert len(c.get("/v1/jobs").json()) == 2

        # A new key opens writes again, for its owner.
        with sessions(c)() as s:
            carol = auth.create_key(s, "carol")
        assert c.post("/v1/jobs", json=body, headers=bearer(carol)).status_code == 202
        with sessions(c)() as s:
            assert s.scalars(select(Job.created_by).order_by(Job.created_at)).all() == ["bob", "alice", "carol"]


def test_the_database_stores_no_plaintext_key(database_url: str) -> None:
    key = create_key_with_cli(database_url, "alice")
    with TestClient(create_app(service_settings(database_url), run_jobs=False)) as c:
        with sessions(c)() as s:
            rows = [dict(r._mapping) for r in s.execute(text("SELECT * FROM api_keys")).all()]
        assert len(rows) == 1
        (row,) = rows
        assert row["owner"] == "alice" and row["digest"] == hashlib.sha256(key.encode()).hexdigest()
        assert row["prefix"] == key[:10]
        stored = " ".join(str(v) for v in row.values())
        assert key not in stored and key[10:] not in stored and key[-12:] not in stored
        assert c.post("/v1/jobs", json={"problem": example_problem(PROBLEM)}, headers=bearer(key)).status_code == 202


# ---------------------------------------------------------------------------------------------- serve


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stockplan.db'}"
    port = free_port()
    proc = cli("serve", "--host", "0.0.0.0", "--port", str(port), "--database-url", url, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    message = " ".join(proc.stderr.split())
    assert "loopback" in message and "0.0.0.0" in message and "stockplan keys create" in message
    assert "Uvicorn running" not in proc.stderr + proc.stdout
    with socket.socket() as sock:  # nothing was left listening
        assert sock.connect_ex(("127.0.0.1", port)) != 0


# ---------------------------------------------------------------------------------------------- per-key job limit


def test_each_keys_owner_may_have_so_many_jobs_queued_or_running(database_url: str) -> None:
    body = {"problem": example_problem(PROBLEM)}
    with TestClient(create_app(service_settings(database_url, max_jobs_per_key=3), run_jobs=False)) as c:
        with sessions(c)() as s:
            alice, bob = auth.create_key(s, "alice"), auth.create_key(s, "bob")
        ids = [c.post("/v1/jobs", json={**body, "scenario": f"s{i}"}, headers=bearer(alice)
                      | {"Idempotency-Key": f"a{i}"}).json()["id"] for i in range(3)]
        # One of them running, 20 s into its 60 s: the answer says when it is due to end.
        with sessions(c)() as s, s.begin():
            s.execute(update(Job).where(Job.id == ids[0]).values(
                state="running", started_at=now() - dt.timedelta(seconds=20), options={"time_limit": 60.0}))

        r = c.post("/v1/jobs", json=body, headers=bearer(alice))
        assert r.status_code == 429, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert 35 <= int(r.headers["retry-after"]) <= 40
        problem = r.json()
        assert problem["status"] == 429 and problem["title"] == "Too many requests"
        assert (problem["limit"], problem["queued"], problem["running"]) == (3, 2, 1)
        assert "at most 3 jobs per API key" in problem["detail"] and "2 queued, 1 running" in problem["detail"]
        assert count_jobs(c) == 3  # nothing was stored

        # A replay is not a new job: never refused. Another key's owner can still submit.
        replay = c.post("/v1/jobs", json={**body, "scenario": "s1"}, headers=bearer(alice) | {"Idempotency-Key": "a1"})
        assert replay.status_code == 202 and replay.json()["id"] == ids[1]
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert c.post("/v1/jobs", json=body, headers=bearer(bob)).status_code == 202

        # Finished jobs do not count: once one is canceled, alice may submit one more (and only one).
        assert c.delete(f"/v1/jobs/{ids[2]}", headers=bearer(alice)).status_code == 200
        assert c.post("/v1/jobs", json=body, headers=bearer(alice)).status_code == 202
        refused = c.post("/v1/jobs", json=body, headers=bearer(alice))
        assert refused.status_code == 429 and refused.json()["queued"] == 2
        # A retry of a server-side failure is a new job: it counts (and is refused over the limit).
        with sessions(c)() as s, s.begin():
            s.execute(update(Job).where(Job.id == ids[1]).values(state="failed", failure="server"))
        retry = c.post("/v1/jobs", json={**body, "scenario": "s1"}, headers=bearer(alice) | {"Idempotency-Key": "a1"})
        assert retry.status_code == 202 and retry.json()["retry_of"] == ids[1]
        over = c.post("/v1/jobs", json={**body, "scenario": "s9"}, headers=bearer(alice) | {"Idempotency-Key": "a9"})
        assert over.status_code == 429
        assert c.post("/v1/jobs", json={**body, "scenario": "s9"},
                      headers=bearer(alice) | {"Idempotency-Key": "a9"}).status_code == 429  # the key was not taken
        with sessions(c)() as s:
            assert s.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key == "a9")) == 0


def test_local_development_mode_has_no_job_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url, max_jobs_per_key=1), run_jobs=False)) as c:
        for _ in range(3):
            assert c.post("/v1/jobs", json={"problem": example_problem(PROBLEM)}).status_code == 202
        assert count_jobs(c) == 3


def test_the_limit_holds_for_submissions_at_once(database_url: str) -> None:
    """Eight submissions of one owner at the same moment: exactly the limit are queued, the rest get 429."""
    import threading

    from stockplan.api import services
    from stockplan.api.errors import ApiError
    from stockplan.api.schemas import JobRequest

    settings = service_settings(database_url, max_jobs_per_key=3)
    raw = {"problem": example_problem(PROBLEM)}
    with TestClient(create_app(settings, run_jobs=False)) as c:
        start, outcomes = threading.Barrier(8), []

        def submit(i: int) -> None:
            body = {**raw, "scenario": f"s{i}"}
            with sessions(c)() as s:
                start.wait()
                try:
                    services.submit_job(s, JobRequest.model_validate(body), body, settings, "alice", None, 3)
                    outcomes.append(202)
                except ApiError as exc:
                    outcomes.append(exc.status)

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == [202] * 3 + [429] * 5, outcomes
        assert count_jobs(c) == 3
