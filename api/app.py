"""The HTTP service: FastAPI app, routes under ``/v1``, health and metrics.

``create_app(settings)`` wires the database (migrated at start), the job runner
and the routes; ``stockplan serve`` runs it under uvicorn. Request bodies are read
through :class:`stockplan.api.errors.BodyLimit` and parsed by hand
(:func:`stockplan.api.errors.parse_json`) so that hostile input is a 4xx naming
the field, never a crash; the OpenAPI document still describes every body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from stockplan.api import auth, services
from stockplan.api.db import Job, JobState, make_engine, migrate, session_factory
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError, BodyLimit, install_error_handlers, parse_json
from stockplan.api.executors import make_executor
from stockplan.api.jobs import JobExecutor, JobRunner, recover_jobs
from stockplan.api.responses import (
    AuditEntry,
    BulkDecisionResult,
    Evaluation,
    Export,
    Health,
    JobView,
    PlanEvaluation,
    PlanSummary,
    PlanView,
    Quote,
    Readiness,
    ValidationResult,
    job_body,
    plan_body,
)
from stockplan.api.schemas import (
    BulkDecisionRequest,
    DecisionRequest,
    EditRequest,
    EvaluateRequest,
    EvaluateRequestDoc,
    JobRequest,
    JobRequestDoc,
)
from stockplan.api.settings import ServiceSettings, get_settings
from stockplan.api.ui import install_ui
from stockplan.api.ui.web import root_of
from stockplan.models.promise import PromiseRequest
from stockplan.models.validation import FieldError, errors_from_pydantic

log = logging.getLogger("stockplan.api")
M = TypeVar("M", bound=BaseModel)


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

    def __init__(self, app_state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("stockplan_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.solve_seconds = Histogram("stockplan_solve_seconds", "Seconds per finished solve job",
                                       buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600), registry=self.registry)
        state = app_state

        class _Jobs:
            def collect(self) -> Iterator[GaugeMetricFamily]:
                g = GaugeMetricFamily("stockplan_jobs", "Jobs by state", labels=["state"])
                try:
                    with state.sessions() as s:
                        counts = services.jobs_by_state(s)
                        running = services.running_progress(s)
                except SQLAlchemyError:  # the database is down: serve the other metrics anyway
                    log.warning("jobs gauge skipped: the database is unreachable")
                    return
                for name, n in counts.items():
                    g.add_metric([name], n)
                yield g
                yield from _progress_gauges(running)

        self.registry.register(_Jobs())


def _progress_gauges(running: list[tuple[str, dict[str, Any]]]) -> Iterator[GaugeMetricFamily]:
    """Per running job: best cost so far, bound, gap and seconds, labelled with the job and its phase."""
    families = {key: GaugeMetricFamily(f"stockplan_job_{key}", text, labels=["job", "phase"])
                for key, text in (("best_cost", "Best plan cost so far of a running job"),
                                  ("bound", "Proven lower bound so far of a running job"),
                                  ("gap", "Relative gap so far of a running job"),
                                  ("elapsed_seconds", "Seconds a running job has solved"))}
    for job_id, prog in running:
        for key, family in families.items():
            value = prog.get("elapsed" if key == "elapsed_seconds" else key)
            if isinstance(value, int | float):
                family.add_metric([job_id, str(prog.get("phase", ""))], float(value))
    yield from families.values()


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

    _routes(app, settings)
    _docs(app)
    _document_bodies(app)
    install_ui(app)
    return app


def _observe(app: FastAPI, job_id: str) -> None:
    with app.state.sessions() as s:
        job = s.get(Job, job_id)
        if job is not None and job.solve_seconds is not None:
            app.state.metrics.solve_seconds.observe(job.solve_seconds)


# ---------------------------------------------------------------------------------------------- dependencies



#: The OpenAPI document's security scheme of the writes and of the POSTs that compute (validate, evaluate,
#: promise quotes). It only documents the header: :func:`writer` reads ``Authorization`` itself (a key is
#: needed only once keys are configured). The GET routes stay open.
BEARER = HTTPBearer(scheme_name="bearerAuth", auto_error=False,
                    description="An API key (`stockplan keys create`): `Authorization: Bearer <key>`. Needed once "
                                "a key exists on every write and on every POST that computes (validate, evaluate, "
                                "promise quotes); without any key (local development) none is. GETs stay open.")


def writer(request: Request, s: SessionDep,
           _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None) -> str:
    """Who is writing: the key's owner when keys are configured (then a key is required), else local-dev."""
    authorization = request.headers.get("authorization")
    if not auth.keys_configured(s):
        return auth.LOCAL_ACTOR
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "this service requires an API key: Authorization: Bearer <key>",
                       headers={"WWW-Authenticate": "Bearer"})
    owner = auth.owner_of(s, authorization[7:].strip())
    if owner is None:
        raise ApiError(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return owner


WriterDep = Annotated[str, Depends(writer)]
#: The same check on the POSTs that spend CPU without writing (validate, evaluate, promise quotes).
CallerDep = WriterDep


async def body_json(request: Request) -> Any:
    return parse_json(await request.body(), request.headers.get("content-type"))


def validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = errors_from_pydantic(exc, model=model)
        raise ApiError(422, f"{len(errors)} invalid field(s)", errors) from None


# ---------------------------------------------------------------------------------------------- routes


class CsvResponse(Response):
    media_type = "text/csv"


JOB_HEADERS = {
    "Location": {"description": "the job's address", "schema": {"type": "string"}},
    "Retry-After": {"description": "seconds to wait before polling again (while the job has not finished)",
                    "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when an `Idempotency-Key` gave back an existing job",
                            "schema": {"type": "string"}},
}
TOO_MANY_JOBS = {
    "description": "with API keys: the key's owner has `STOCKPLAN_MAX_JOBS_PER_KEY` jobs queued or running "
                   "already; the problem details say the `limit` and how many are `queued` and `running`. "
                   "A replayed `Idempotency-Key` is never refused.",
    "headers": {"Retry-After": {"description": "seconds until one of the owner's running jobs is due to end",
                                "schema": {"type": "string"}}},
}
EXPORT_CONFLICT = {"description": "the approved items break rules on their own; errors lists each "
                                  "(path: the rule, message: what breaks)"}


def _routes(app: FastAPI, settings: ServiceSettings) -> None:
    @app.get("/healthz", tags=["health"], operation_id="health", response_model=Health)
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], operation_id="ready", response_model=Readiness)
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

    @app.get("/metrics", tags=["health"], operation_id="metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus: requests, jobs by state, solve seconds."""
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/jobs", status_code=202, tags=["jobs"], operation_id="submitJob", response_model=JobView,
              responses={202: {"description": "queued or running: poll `Location`", "headers": JOB_HEADERS},
                         200: {"model": JobView, "headers": JOB_HEADERS,
                               "description": "finished (within `wait`, or a replayed `Idempotency-Key` of a "
                                              "finished job), with its plan inline"},
                         429: TOO_MANY_JOBS})
    async def create_job(
        request: Request,
        s: SessionDep,
        actor: WriterDep,
        wait: Annotated[float, Query(ge=0, le=3600, description="Seconds to wait for the plan (capped)")] = 0.0,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """Submit a problem; 202 with ``Location``, or with ``wait`` the finished job and its plan inline.

        ``Idempotency-Key``: the same key and body give back the same job (``Idempotent-Replayed: true``),
        unless that job failed on the server's side (``failure: server``): then a new job starts (202).
        With API keys, a key's owner may have ``STOCKPLAN_MAX_JOBS_PER_KEY`` jobs queued or running; one
        more is 429 with ``Retry-After``.
        """
        raw = await body_json(request)
        if not isinstance(raw, dict):
            raise ApiError(422, "the body must be a JSON object", [FieldError("body", "not an object")])
        req = validated(JobRequest, raw)
        per_owner = settings.max_jobs_per_key if auth.keys_configured(s) else None
        job, created = services.submit_job(s, req, raw, settings, actor, idempotency_key, per_owner)
        if created and request.app.state.runner is not None:
            request.app.state.runner.wake()
        job = await _wait_for(request, job.id, min(wait, settings.max_wait))
        return _job_response(request, job, replayed=not created)

    @app.get("/v1/jobs", tags=["jobs"], operation_id="listJobs", response_model=list[JobView])
    def list_jobs(s: SessionDep, state: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
                  ) -> list[dict[str, Any]]:
        """Newest jobs first."""
        from sqlalchemy import select

        services.check_filter("state", state)
        q = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
        if state is not None:
            q = q.where(Job.state == state)
        return [services.job_view(j) for j in s.scalars(q).all()]

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], operation_id="getJob", response_model=JobView,
             responses={200: {"headers": JOB_HEADERS}})
    def read_job(request: Request, job_id: str, s: SessionDep) -> Response:
        """A job: its state, outcome (optimal / feasible with gap / time limit), or why it failed."""
        return _job_response(request, services.get_job(s, job_id), status=200)

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"], operation_id="cancelJob", response_model=JobView,
                responses={200: {"description": "a queued job, canceled"},
                           202: {"model": JobView, "description": "a running job, asked to stop: it keeps its "
                                                                  "best plan so far"}})
    def delete_job(response: Response, job_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
        """Cancel: a queued job at once (200); a running one stops and keeps its best plan (202)."""
        job = services.cancel_job(s, job_id)
        response.status_code = 200 if job.state == JobState.CANCELED else 202
        return services.job_view(job)

    @app.post("/v1/problems:validate", tags=["problems"], operation_id="validateProblem",
              response_model=ValidationResult)
    async def validate_problem(request: Request, _caller: CallerDep) -> dict[str, Any]:
        """200 with a summary when valid; 422 listing every bad field by its JSON path.

        ``warnings`` lists what is valid but probably not meant (safety stock the model
        ignores for want of a cost, statistics without a primary agreement), by path.
        """
        from stockplan.solver.safety_stock import safety_stock_notes

        problem = services.parse_problem(await body_json(request), prefix="$")
        warnings = [{"path": f"$.{n.path}", "code": n.code.value, "message": n.message}
                    for n in safety_stock_notes(problem)]
        return {"valid": True, "orders": len(problem.orders), "skus": len(problem.items),
                "locations": len(problem.locations), "agreements": len(problem.agreements),
                "periods": problem.horizon.periods, "warnings": warnings}

    @app.post("/v1/plans:evaluate", tags=["plans"], operation_id="evaluatePlan", response_model=Evaluation)
    async def evaluate_plan(request: Request, _caller: CallerDep) -> dict[str, Any]:
        """A plan (edited by a planner, say) checked by the evaluator: violations and cost.

        ``plan`` is the decisions only or a whole plan as solved; a plan record as
        ``GET /v1/plans/{id}`` answers it is refused, naming ``plan.plan`` where its plan is.
        The problem's errors and the plan's are listed together.
        """
        from stockplan.models.plan import load_plan
        from stockplan.models.validation import ProblemError
        from stockplan.solver.evaluator import evaluate

        raw = await body_json(request)
        if not isinstance(raw, dict):
            raise ApiError(422, "the body must be a JSON object", [FieldError("body", "not an object")])
        req = validated(EvaluateRequest, raw)
        errors: list[FieldError] = []
        try:
            problem = services.parse_problem(req.problem)
        except ApiError as exc:
            errors += exc.errors or []
        try:
            plan = load_plan(req.plan)
        except ProblemError as exc:
            errors += [FieldError(f"plan.{e.path}" if e.path != "$" else "plan", e.message) for e in exc.errors]
        if errors:
            raise ApiError(422, f"the problem and plan have {len(errors)} error(s)", errors)
        ev = evaluate(problem, plan)
        return {"feasible": ev.feasible, "cost": ev.cost, "costs": ev.costs.model_dump(),
                "objective": ev.objective, "promise_slip": ev.promise_slip, "shipment_fees": ev.shipment_fees,
                "violations": [{"rule": v.rule, "message": v.message, "entities": v.entities}
                               for v in ev.violations],
                "policy_violations": [{"rule": v.rule, "message": v.message, "entities": v.entities}
                                      for v in ev.policy_violations]}

    @app.get("/v1/plans", tags=["plans"], operation_id="listPlans", response_model=list[PlanSummary])
    def list_plans(s: SessionDep, state: str | None = None, scenario: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
        """Newest plans first, without their decisions."""
        from sqlalchemy import select

        from stockplan.api.db import PlanRow

        services.check_filter("state", state)
        services.check_filter("scenario", scenario)
        q = select(PlanRow).order_by(PlanRow.created_at.desc(), PlanRow.id).limit(limit)
        if state is not None:
            q = q.where(PlanRow.state == state)
        if scenario is not None:
            q = q.where(PlanRow.scenario == scenario)
        return [services.plan_view(s, r, include_plan=False) for r in s.scalars(q).all()]

    @app.get("/v1/plans/{plan_id}", tags=["plans"], operation_id="getPlan", response_model=PlanView)
    def read_plan(plan_id: str, s: SessionDep) -> Response:
        """A plan: its lifecycle state, each item's state, and the plan (decisions, costs, report)."""
        return _json(plan_body(services.plan_view(s, services.get_plan(s, plan_id))))

    @app.post("/v1/plans/{plan_id}/decisions", tags=["plans"], operation_id="decidePlan",
              response_model=PlanSummary)
    async def decide(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
        """Approve or reject the plan or one purchase order or shipment; recorded in the audit log.

        409 when the plan was superseded by a newer plan of its scenario, or is already decided.
        """
        req = validated(DecisionRequest, await body_json(request))
        if actor == auth.LOCAL_ACTOR and req.actor:
            actor = req.actor
        row = services.decide(s, plan_id, req, actor)
        return services.plan_view(s, row, include_plan=False)

    @app.post("/v1/plans/{plan_id}/decisions:bulk", tags=["plans"], operation_id="decidePlanItems",
              response_model=BulkDecisionResult)
    async def decide_many(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
        """Approve or reject many purchase orders (or shipments) at once: one audit entry per item, one comment.

        An approval is refused (409, with the broken rules) when the approved items would
        break a rule on their own, as the export would; nothing is stored then.
        """
        req = validated(BulkDecisionRequest, await body_json(request))
        if actor == auth.LOCAL_ACTOR and req.actor:
            actor = req.actor
        return services.decide_items(s, plan_id, req, actor)

    @app.post("/v1/plans/{plan_id}/edits", tags=["plans"], operation_id="editPlan", response_model=PlanEvaluation)
    async def edit(request: Request, plan_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
        """Change one quantity of a proposed plan; the answer is the edited plan's evaluation.

        The change is audited; approving is refused while the edited plan breaks a rule.
        """
        req = validated(EditRequest, await body_json(request))
        if actor == auth.LOCAL_ACTOR and req.actor:
            actor = req.actor
        return services.edit_item(s, plan_id, req, actor)

    @app.get("/v1/plans/{plan_id}/evaluation", tags=["plans"], operation_id="getPlanEvaluation",
             response_model=PlanEvaluation)
    def evaluation(plan_id: str, s: SessionDep) -> dict[str, Any]:
        """The evaluator's verdict on the plan as edited (rules broken, cost, change in cost)."""
        return services.evaluation_view(s, services.get_plan(s, plan_id))

    @app.get("/v1/plans/{plan_id}/audit", tags=["plans"], operation_id="getPlanAudit",
             response_model=list[AuditEntry])
    def audit(plan_id: str, s: SessionDep) -> list[dict[str, Any]]:
        """Every decision on the plan, oldest first."""
        services.get_plan(s, plan_id)
        return services.audit_trail(s, plan_id)

    @app.get("/v1/plans/{plan_id}/export", tags=["plans"], operation_id="exportPlan", response_model=Export,
             responses={409: EXPORT_CONFLICT})
    def export(plan_id: str, s: SessionDep,
               format: Annotated[str, Query(pattern="^(csv|json)$", include_in_schema=False)] = "json") -> Any:
        """The approved purchase orders and shipments, as an ERP imports them (JSON); the same every time.

        The approved items are first checked on their own by the independent evaluator
        (rejected items left out, the planner's quantity edits applied): 409, listing every
        broken rule, when they are not feasible without what was not approved. Fields: see
        the README ("The HTTP service"). The same as CSV: ``GET /v1/plans/{plan_id}/export.csv``
        (``?format=csv`` here still answers the CSV, for clients written before that route).
        """
        if format == "csv":
            return _export_csv(plan_id, s)
        row = services.get_plan(s, plan_id)
        rows = services.export_rows(s, row, services.problem_of(s, row))
        return {"plan": plan_id, "scenario": row.scenario, "state": row.state, "items": rows}

    @app.get("/v1/plans/{plan_id}/export.csv", tags=["plans"], operation_id="exportPlanCsv",
             response_class=CsvResponse, responses={200: {"description": "the export as CSV, one row per item "
                                                                        "after a header row"}, 409: EXPORT_CONFLICT})
    def export_csv(plan_id: str, s: SessionDep) -> Response:
        """The export as CSV (the columns of ``GET /v1/plans/{plan_id}/export``'s items, in order); 409 as there."""
        return _export_csv(plan_id, s)

    @app.post("/v1/plans/{plan_id}/promises", tags=["plans"], operation_id="quotePromise", response_model=Quote)
    async def promise(request: Request, plan_id: str, s: SessionDep, _caller: CallerDep) -> dict[str, Any]:
        """The earliest date a prospective order can be delivered against this plan (no re-solve)."""
        from stockplan.models.plan import Decisions
        from stockplan.solver.promise import PromiseError
        from stockplan.solver.promise import promise as quote

        row = services.get_plan(s, plan_id)
        req = validated(PromiseRequest, await body_json(request))
        plan = Decisions.model_validate({k: row.plan.get(k, []) for k in ("shipments", "forecast_fills",
                                                                             "purchase_orders")})
        try:
            return quote(services.problem_of(s, row), plan, req).model_dump(mode="json")
        except PromiseError as exc:
            path = getattr(exc, "path", None)
            raise ApiError(422, str(exc), [FieldError(path or "body", str(exc))]) from None


def _export_csv(plan_id: str, s: Session) -> Response:
    row = services.get_plan(s, plan_id)
    rows = services.export_rows(s, row, services.problem_of(s, row))
    return CsvResponse(services.export_csv(rows),
                       headers={"Content-Disposition": f'attachment; filename="plan-{plan_id}.csv"'})


def _docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` from the app's own ``/static`` (vendored: no CDN), and ``/`` to ``/ui``."""
    static = "/static"

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{root_of(request)}/ui", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = root_of(request)
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} API",
                                   swagger_js_url=f"{root}{static}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{static}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{static}/swagger-favicon-32x32.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = root_of(request)
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} API",
                              redoc_js_url=f"{root}{static}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{static}/swagger-favicon-32x32.png", with_google_fonts=False)


async def _wait_for(request: Request, job_id: str, seconds: float) -> Job:
    deadline = time.monotonic() + seconds
    while True:
        with request.app.state.sessions() as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.state in JobState.FINISHED or time.monotonic() >= deadline:
                return job
        await asyncio.sleep(0.05)  # a tiny job finishes in about 0.2 s: poll finely


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer already in its wire form (:func:`~stockplan.api.responses.plan_body`), encoded by pydantic-core."""
    return Response(to_json(body), status_code=status, headers=headers, media_type="application/json")


def _job_response(request: Request, job: Job, status: int | None = None, replayed: bool = False) -> Response:
    plan = None
    if job.plan_id is not None and job.state in JobState.FINISHED:
        with request.app.state.sessions() as s:
            plan = services.plan_view(s, services.get_plan(s, job.plan_id))
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if job.state not in JobState.FINISHED:
        headers["Retry-After"] = "1"
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    code = status or (200 if job.state in JobState.FINISHED else 202)
    return _json(job_body(services.job_view(job, plan)), code, headers)


def _document_bodies(app: FastAPI) -> None:
    """Describe the hand-parsed bodies in the OpenAPI document (their pydantic schemas)."""
    bodies = {("/v1/jobs", "post"): JobRequestDoc, ("/v1/plans:evaluate", "post"): EvaluateRequestDoc,
              ("/v1/plans/{plan_id}/decisions", "post"): DecisionRequest,
              ("/v1/plans/{plan_id}/decisions:bulk", "post"): BulkDecisionRequest,
              ("/v1/plans/{plan_id}/edits", "post"): EditRequest,
              ("/v1/plans/{plan_id}/promises", "post"): PromiseRequest}
    validate_body = {("/v1/problems:validate", "post")}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        # One schema per model (no -Input/-Output pairs): the bodies below are validation schemas too.
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                          separate_input_output_schemas=False)
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        from stockplan.models.problem import Problem

        ref = "#/components/schemas/{model}"
        for (path, method), model in [*bodies.items(), *((k, Problem) for k in validate_body)]:
            schema = model.model_json_schema(ref_template=ref)
            components.update(schema.pop("$defs", {}))  # the same models the answers use (one schema per model)
            components[model.__name__] = schema
            doc["paths"][path][method]["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": ref.format(model=model.__name__)}}},
            }
        _document_errors(doc)
        for item in doc["paths"].values():
            for op in item.values():
                op["summary"] = SUMMARIES.get(op.get("operationId", ""), op.get("summary"))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


#: Each operation's one-line summary in the document (its description is the route's docstring).
SUMMARIES = {
    "health": "Liveness", "ready": "Readiness", "metrics": "Prometheus metrics",
    "submitJob": "Submit a problem to solve", "listJobs": "List jobs", "getJob": "Get a job",
    "cancelJob": "Cancel a job", "validateProblem": "Validate a problem", "evaluatePlan": "Evaluate a plan",
    "listPlans": "List plans", "getPlan": "Get a plan", "decidePlan": "Approve or reject a plan or one item",
    "decidePlanItems": "Approve or reject many items", "editPlan": "Edit an item's quantity",
    "getPlanEvaluation": "Evaluate a plan as edited", "getPlanAudit": "Get a plan's audit trail",
    "exportPlan": "Export the approved items (JSON)", "exportPlanCsv": "Export the approved items (CSV)",
    "quotePromise": "Quote a delivery date",
}

PROBLEM_DETAILS = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "description": "one entry per bad field", "items": {
            "type": "object", "required": ["path", "message"],
            "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
ERROR_TEXT = {"401": "no or a bad API key", "429": "too many jobs queued or running for this API key",
              "404": "no such job or plan", "409": "conflicts with the current state",
              "413": "body too large", "415": "not JSON", "422": "invalid fields, each named by its path",
              "503": "not ready", "500": "unexpected error"}


def _document_errors(doc: dict[str, Any]) -> None:
    """Every error answer as problem+json in the OpenAPI document, each route with the codes it can answer.

    401 on the routes with the ``bearerAuth`` security requirement (the writes and the computing POSTs),
    429 where a route declares it (``submitJob``), 404 on an unknown id, 409 on a decided or superseded
    plan, a finished job or an export whose approved items break a rule, 413 and 415 on bodies, 422 on
    invalid fields, 503 from ``/readyz``, 500 anywhere.
    FastAPI's own 422 schema (``HTTPValidationError``) is replaced: this service answers problem+json.
    """
    schemas = doc["components"]["schemas"]
    schemas["ProblemDetails"] = PROBLEM_DETAILS
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = {"500"}
            if method == "post":
                codes |= {"413", "415", "422"}
            if op.get("security"):
                codes.add("401")
            if "{" in path:
                codes |= {"404", "422"}
            if "/decisions" in path or "/edits" in path or method == "delete" or "/export" in path:
                codes.add("409")
            if path == "/readyz":
                codes.add("503")
            if op.get("parameters"):
                codes.add("422")
            codes |= {code for code in op["responses"] if code in ERROR_TEXT}  # declared by the route (429)
            for code in sorted(codes):
                known = op["responses"].get(code, {})
                op["responses"][code] = {"description": known.get("description", ERROR_TEXT[code]),
                                         "content": content} | ({"headers": known["headers"]}
                                                                if "headers" in known else {})


__all__ = ["create_app"]
