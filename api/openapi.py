"""The OpenAPI document as served: the hand-parsed bodies described, one summary per operation, every error answer.

The routes (:mod:`stockplan.api.routes`) read their bodies by hand (hostile input is a 4xx naming the field, never
a crash), so FastAPI cannot see them: :func:`install_openapi` puts each body's pydantic schema in the document, a
one-line summary on each operation, and every error answer as RFC 9457 ``application/problem+json`` with the codes
the route can answer (:func:`_document_errors`). A client generated from this document (``openapi-python-client``,
``tests/api/test_generated_client.py``) is typed throughout.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from stockplan.api.schemas import BulkDecisionRequest, DecisionRequest, EditRequest, EvaluateRequestDoc, JobRequestDoc
from stockplan.models.promise import PromiseRequest


def install_openapi(app: FastAPI) -> None:
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


__all__ = ["install_openapi"]
