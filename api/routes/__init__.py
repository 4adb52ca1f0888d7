"""The HTTP API's routes, one module per resource (``APIRouter`` each), included by :func:`install_routes`.

:mod:`.health` (``/healthz``, ``/readyz``, ``/metrics``), :mod:`.jobs` (``/v1/jobs``), :mod:`.problems`
(``/v1/problems:validate``), :mod:`.plans` (``/v1/plans``: review, decisions, export, promises) and
:mod:`.docs` (``/``, ``/docs``, ``/redoc``); :mod:`.common` holds what they share (the API key check,
hand-parsed bodies, JSON and CSV answers). The OpenAPI document is finished by :mod:`stockplan.api.openapi`.
"""

from __future__ import annotations

from fastapi import FastAPI

from stockplan.api.routes import docs, health, jobs, plans, problems


def install_routes(app: FastAPI) -> None:
    """Include every router, in the order the document lists them (the review pages come after, in ``ui``)."""
    for module in (health, jobs, problems, plans, docs):
        app.include_router(module.router)


__all__ = ["install_routes"]
