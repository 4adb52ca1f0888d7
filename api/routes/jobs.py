"""Routes: solve jobs (``/v1/jobs``): submit (202, or 200 with ``?wait=``), list, read, cancel."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select

from stockplan.api import auth, services
from stockplan.api.db import Job, JobState
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError
from stockplan.api.responses import JobView, job_body
from stockplan.api.routes.common import WriterDep, body_json, json_response, validated
from stockplan.api.schemas import JobRequest
from stockplan.models.validation import FieldError

router = APIRouter(tags=["jobs"])

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


@router.post("/v1/jobs", status_code=202, operation_id="submitJob", response_model=JobView,
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
    settings = request.app.state.settings
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


@router.get("/v1/jobs", operation_id="listJobs", response_model=list[JobView])
def list_jobs(s: SessionDep, state: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
              ) -> list[dict[str, Any]]:
    """Newest jobs first."""
    services.check_filter("state", state)
    q = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if state is not None:
        q = q.where(Job.state == state)
    return [services.job_view(j) for j in s.scalars(q).all()]


@router.get("/v1/jobs/{job_id}", operation_id="getJob", response_model=JobView,
            responses={200: {"headers": JOB_HEADERS}})
def read_job(request: Request, job_id: str, s: SessionDep) -> Response:
    """A job: its state, outcome (optimal / feasible with gap / time limit), or why it failed."""
    return _job_response(request, services.get_job(s, job_id), status=200)


@router.delete("/v1/jobs/{job_id}", operation_id="cancelJob", response_model=JobView,
               responses={200: {"description": "a queued job, canceled"},
                          202: {"model": JobView, "description": "a running job, asked to stop: it keeps its "
                                                                 "best plan so far"}})
def delete_job(response: Response, job_id: str, s: SessionDep, actor: WriterDep) -> dict[str, Any]:
    """Cancel: a queued job at once (200); a running one stops and keeps its best plan (202)."""
    job = services.cancel_job(s, job_id)
    response.status_code = 200 if job.state == JobState.CANCELED else 202
    return services.job_view(job)


async def _wait_for(request: Request, job_id: str, seconds: float) -> Job:
    deadline = time.monotonic() + seconds
    while True:
        with request.app.state.sessions() as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.state in JobState.FINISHED or time.monotonic() >= deadline:
                return job
        await asyncio.sleep(0.05)  # a tiny job finishes in about 0.2 s: poll finely


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
    return json_response(job_body(services.job_view(job, plan)), code, headers)
