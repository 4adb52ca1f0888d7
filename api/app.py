"""The HTTP service: the FastAPI app (its lifespan, middleware and error handlers), routes under ``/v1``.

``create_app(settings)`` wires the database (migrated at start), the job runner, the
routes (:mod:`stockplan.api.routes`, one module per resource), the OpenAPI document
(:mod:`stockplan.api.openapi`) and the review pages (:mod:`stockplan.api.ui`);
``stockplan serve`` runs it under uvicorn. Request bodies are read through
:class:`stockplan.api.errors.BodyLimit` and parsed by hand
(:func:`stockplan.api.errors.parse_json`) so that hostile input is a 4xx naming
the field, never a crash; the OpenAPI document still describes every body.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from stockplan.api.db import Job, make_engine, migrate, session_factory
from stockplan.api.errors import BodyLimit, install_error_handlers
from stockplan.api.executors import make_executor
from stockplan.api.jobs import JobExecutor, JobRunner, recover_jobs
from stockplan.api.metrics import Metrics
from stockplan.api.openapi import install_openapi
from stockplan.api.routes import install_routes
from stockplan.api.settings import ServiceSettings, get_settings
from stockplan.api.ui import install_ui

log = logging.getLogger("stockplan.api")


def create_app(settings: ServiceSettings | None = None, run_jobs: bool = True) -> FastAPI:
    """The app; ``run_jobs=False`` leaves jobs queued (for tests of the API alone)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        migrate(engine)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        recovered = recover_jobs(app.state.sessions, settings.max_attempts)
        if any(recovered.values()):
            log.warning("after a restart: %s", recovered)
        app.state.metrics = Metrics(app.state)
        app.state.runner = None
        if run_jobs:
            tasks = make_executor(settings.executor, settings.scheduler, settings.workers,
                                  warm=settings.warm_workers)
            runner = JobRunner(app.state.sessions, settings.database_url, settings.workers, settings.watchdog_grace,
                               settings.poll_interval, executor=JobExecutor(tasks),
                               on_finish=lambda job_id: _observe(app, job_id))
            runner.start()
            app.state.runner = runner
        try:
            yield
        finally:
            if app.state.runner is not None:
                app.state.runner.stop()
                app.state.runner.executor.tasks.close()
            engine.dispose()

    app = FastAPI(title="stockplan", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Backorder planning solved to a proven gap: jobs, plans, review and export.\n\n"
                              "Money figures (costs, cost, bound, objective, promise_slip, shipment_fees, "
                              "cost_delta, estimated_cost) are rounded to 2 decimals on the wire; gap is not "
                              "rounded; quantities are integers.")
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    install_routes(app)
    install_openapi(app)
    install_ui(app)
    return app


def _observe(app: FastAPI, job_id: str) -> None:
    with app.state.sessions() as s:
        job = s.get(Job, job_id)
        if job is not None and job.solve_seconds is not None:
            app.state.metrics.solve_seconds.observe(job.solve_seconds)


__all__ = ["create_app"]
