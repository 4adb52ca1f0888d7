"""Fixtures of the HTTP API tests: the same tests on SQLite and on PostgreSQL.

PostgreSQL is reached through ``STOCKPLAN_TEST_POSTGRES_URL`` (``.ci/run`` sets it to
the machine's server on 127.0.0.1:5432); each test gets a database of its own,
created from that one and dropped afterwards. Without the variable the PostgreSQL
variants say so and do not run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from stockplan.api.settings import ServiceSettings

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
POSTGRES_ENV = "STOCKPLAN_TEST_POSTGRES_URL"


def example_problem(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def _postgres_database() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant not run: set {POSTGRES_ENV} (e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it")
    url = make_url(base)
    name = f"stockplan_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stockplan.db'}"
    else:
        yield from _postgres_database()


def service_settings(database_url: str, **changes: Any) -> ServiceSettings:
    values: dict[str, Any] = {"database_url": database_url, "workers": 2, "poll_interval": 0.05,
                              "default_time_limit": 20.0, "max_time_limit": 60.0, "max_wait": 30.0}
    values.update(changes)
    return ServiceSettings(**values)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The app with its job runner, on a fresh database."""
    with TestClient(create_app(service_settings(database_url))) as c:
        yield c


def wait_for_job(client: TestClient, job_id: str, timeout: float = 120.0,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Poll a job until it has finished; its last view."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if view["state"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
               every: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something true; that value (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(folder: Path, database_url: str, env: dict[str, str], ready: str = "/healthz") -> Iterator[str]:
    """``stockplan serve`` on a free port over ``database_url`` (its log in ``folder``), as a user starts it;
    its base URL once ``ready`` answers 200. Stopped (terminate, then kill) on the way out."""
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stockplan.api.cli", "serve", "--port", str(port),
                                 "--database-url", database_url], cwd=folder, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}{ready}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stockplan serve did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
