"""Routes: liveness (``/healthz``), readiness (``/readyz``) and Prometheus metrics (``/metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from stockplan.api import auth
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError
from stockplan.api.responses import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="health", response_model=Health)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="ready", response_model=Readiness)
def readyz(request: Request, s: SessionDep) -> dict[str, str]:
    """The database answers and the job runner is dispatching."""
    try:
        s.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means not ready
        raise ApiError(503, f"database unavailable: {type(exc).__name__}") from None
    runner = request.app.state.runner
    if runner is not None and (runner._thread is None or not runner._thread.is_alive()):
        raise ApiError(503, "the job runner is not running")
    return {"status": "ready", "mode": "api keys" if auth.keys_configured(s) else
            "local development (no API keys)"}


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus: requests, jobs by state, solve seconds."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
