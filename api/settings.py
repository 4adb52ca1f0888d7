"""Service settings, from the environment (``STOCKPLAN_*``) through pydantic-settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Everything the service reads at start; each field is ``STOCKPLAN_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="STOCKPLAN_", extra="ignore")

    #: SQLite file by default (the embedded default); ``postgresql+psycopg://...`` for PostgreSQL.
    database_url: str = "sqlite:///stockplan.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Solver processes running at once.
    workers: int = Field(default=2, ge=1, le=64)
    #: Server-side cap on a job's time limit (seconds), and the limit when a job gives none.
    max_time_limit: float = Field(default=300.0, gt=0)
    default_time_limit: float = Field(default=60.0, gt=0)
    #: Seconds past a job's time limit (which covers solving, the report and pricing) before the watchdog kills
    #: the job's processes: a solve returns within T + max(2 s, 5 %), this leaves room for start-up and storing.
    watchdog_grace: float = Field(default=10.0, gt=0)
    #: Largest request body read (bytes); larger gets 413 before it is read whole.
    max_body_bytes: int = Field(default=20_000_000, ge=1_000)
    #: Cap on ``wait`` (seconds) of ``POST /v1/jobs``.
    max_wait: float = Field(default=30.0, ge=0)
    #: Times a job interrupted by a server crash is re-queued before it fails.
    max_attempts: int = Field(default=2, ge=1)
    #: Where solves run: ``local`` (a process each) or ``dask`` (``scheduler`` address, or a LocalCluster).
    executor: str = Field(default="local", pattern="^(local|dask)$")
    #: ``local`` only: warm worker processes (solver imported, ready) instead of a fresh interpreter per job.
    warm_workers: bool = True
    scheduler: str | None = None
    #: With API keys: jobs one key's owner may have queued or running at once; one more is refused (429).
    max_jobs_per_key: int = Field(default=4, ge=1)
    #: Seconds between scans of the job table by the dispatcher.
    poll_interval: float = Field(default=0.05, gt=0)


@lru_cache
def get_settings() -> ServiceSettings:
    return ServiceSettings()
