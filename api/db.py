"""Persistence: SQLAlchemy 2 tables for jobs, plans, decisions, the audit log and API keys.

The schema is created and upgraded by Alembic (``api/migrations``), applied at start
by :func:`migrate`. SQLite is the embedded default (WAL, a busy timeout, so the
solver processes and the server can write the same file); PostgreSQL through
psycopg 3 by URL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)}


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    FINISHED = (SUCCEEDED, FAILED, CANCELED)
    UNFINISHED = (QUEUED, RUNNING)


class Failure:
    """Why a failed job failed (``jobs.failure``), set where the job is failed, never read from its reason.

    ``server``: the service let it down (its worker died, the watchdog stopped it, a server restart
    interrupted it out of attempts, no worker could start, the solver raised): its ``Idempotency-Key``
    may be submitted again and starts a new job. ``client``: the request's own fault (the problem is
    invalid or has no feasible plan): the same request would fail the same way, so its key replays it.
    """

    SERVER = "server"
    CLIENT = "client"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ux_jobs_batch_scenario", "batch_id", "scenario", unique=True),
                      Index("ix_jobs_created_by_state", "created_by", "state"))  # the per-key job limit

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED, index=True)
    scenario: Mapped[str | None] = mapped_column(String(200), index=True)
    problem: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    #: A fresh token per run: a worker writes its result only while the job still carries it.
    run_token: Mapped[str | None] = mapped_column(String(32))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(16))  # the plan's status: optimal, feasible, time_limit
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed or was canceled
    #: A failed job's kind of failure (:class:`Failure`); None for any other state (and jobs failed before 0006).
    failure: Mapped[str | None] = mapped_column(String(16))
    #: The ``Idempotency-Key`` this job gave up when a retry with it started a new job (``retried_by``).
    released_idempotency_key: Mapped[str | None] = mapped_column(String(200), index=True)
    #: The job that the retry of this server-side failure started (the key now belongs to it).
    retried_by: Mapped[str | None] = mapped_column(String(32))
    #: The job this one retries (a server-side failure with the same ``Idempotency-Key`` and body).
    retry_of: Mapped[str | None] = mapped_column(String(32))
    solve_seconds: Mapped[float | None] = mapped_column(Float)
    plan_id: Mapped[str | None] = mapped_column(String(32))
    #: The batch run that solved it (``stockplan batch``); its problem's name is the scenario.
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    #: While it runs: phase, detail, best_cost, bound, gap, round, elapsed (see ``stockplan.solver.progress``).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BatchRun(Base):
    """A ``stockplan batch`` run: its plans are jobs with ``batch_id`` and plans like any other."""

    __tablename__ = "batch_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(Text)
    executor: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    scenario: Mapped[str | None] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed, approved, rejected
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    cost: Mapped[float] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    #: A planner's edits: {"purchase_orders": {"<index>": quantity}}; the plan as solved stays in ``plan``.
    edits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: What the plans list and the plan's header show (``review_index.plan_summary``); None until indexed.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: What comparing it with another plan needs (``compare_facts.plan_facts``); None until worked out.
    compare: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)


class ReviewRow(Base):
    """One thing a planner reviews in a plan (a late line, a purchase order, an order, a notice, a stock chart).

    Columns are what the review pages filter and sort by; ``data`` is what they show.
    Written with the plan (``stockplan.api.review_index``), never changed after.
    """

    __tablename__ = "review_rows"
    __table_args__ = (Index("ix_review_rows_plan_kind", "plan_id", "kind", "item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # line, purchase_order, order, notice, stock
    item: Mapped[int] = mapped_column(Integer)  # index in the plan's list (purchase orders) or the report's
    sku: Mapped[str | None] = mapped_column(String(200))
    supplier: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    order_ref: Mapped[str | None] = mapped_column(String(200))
    customer: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int | None] = mapped_column(Integer)  # severity (0 worst) or attention (0: needs it)
    stake: Mapped[float | None] = mapped_column(Float)  # money at stake, or a purchase order's cost
    units: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[str | None] = mapped_column(String(10))  # ISO date: due, placed or new date
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ItemDecision(Base):
    """The state of one purchase order or shipment of a plan, when decided on its own."""

    __tablename__ = "item_decisions"
    __table_args__ = (Index("ix_item_decisions_target", "plan_id", "kind", "item", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    kind: Mapped[str] = mapped_column(String(16))  # purchase_order or shipment
    item: Mapped[int] = mapped_column(Integer)  # index in the plan's list
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=now)


class AuditEntry(Base):
    """Append-only: every decision, written in the transaction that makes it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[str | None] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(64))  # "plan", "purchase_order:3", "shipment:0"
    comment: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the key: never the key itself
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def _json_text(value: Any) -> str:
    """A JSON column's text, written by orjson: a 10,000-order plan and its review index are some 30 MB of
    JSON, which the standard library takes seconds to write inside a job's time limit."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: How every engine reads and writes JSON columns.
JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout (several processes write it)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **JSON_CODEC)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at every start)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
