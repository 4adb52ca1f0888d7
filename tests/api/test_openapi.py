"""The OpenAPI document: every route, body and answer is described, and the service keeps to it under schemathesis.

The document is what an integrator generates a client from: short operation ids and
schema names, a typed model for every JSON answer, every status a route answers (errors
as RFC 9457 ``application/problem+json``: 401 on writes, 404 on unknown ids, 409 on
decided plans and finished jobs, 413 and 415 on bodies, 503 from ``/readyz``), the API
key as a ``bearerAuth`` security scheme, and the CSV export as ``text/csv`` on its own
route. The fuzz run checks the service against the document as served.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from stockplan.api.app import create_app
from tests.api.conftest import example_problem, service_settings

ROUTES = {
    ("/v1/jobs", "post"), ("/v1/jobs", "get"), ("/v1/jobs/{job_id}", "get"), ("/v1/jobs/{job_id}", "delete"),
    ("/v1/problems:validate", "post"), ("/v1/plans:evaluate", "post"), ("/v1/plans", "get"),
    ("/v1/plans/{plan_id}", "get"), ("/v1/plans/{plan_id}/decisions", "post"), ("/v1/plans/{plan_id}/audit", "get"),
    ("/v1/plans/{plan_id}/decisions:bulk", "post"), ("/v1/plans/{plan_id}/edits", "post"),
    ("/v1/plans/{plan_id}/evaluation", "get"),
    ("/v1/plans/{plan_id}/export", "get"), ("/v1/plans/{plan_id}/export.csv", "get"),
    ("/v1/plans/{plan_id}/promises", "post"),
    ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"),
}
OPERATION_IDS = {
    ("/v1/jobs", "post"): "submitJob", ("/v1/jobs", "get"): "listJobs", ("/v1/jobs/{job_id}", "get"): "getJob",
    ("/v1/jobs/{job_id}", "delete"): "cancelJob", ("/v1/problems:validate", "post"): "validateProblem",
    ("/v1/plans:evaluate", "post"): "evaluatePlan", ("/v1/plans", "get"): "listPlans",
    ("/v1/plans/{plan_id}", "get"): "getPlan", ("/v1/plans/{plan_id}/decisions", "post"): "decidePlan",
    ("/v1/plans/{plan_id}/decisions:bulk", "post"): "decidePlanItems",
    ("/v1/plans/{plan_id}/edits", "post"): "editPlan",
    ("/v1/plans/{plan_id}/evaluation", "get"): "getPlanEvaluation",
    ("/v1/plans/{plan_id}/audit", "get"): "getPlanAudit",
    ("/v1/plans/{plan_id}/export", "get"): "exportPlan",
    ("/v1/plans/{plan_id}/export.csv", "get"): "exportPlanCsv",
    ("/v1/plans/{plan_id}/promises", "post"): "quotePromise",
    ("/healthz", "get"): "health", ("/readyz", "get"): "ready", ("/metrics", "get"): "metrics",
}
#: The JSON answer of each route that answers JSON: its success codes and the model of their body.
ANSWERS = {
    ("/v1/jobs", "post"): ({"200", "202"}, "JobView"), ("/v1/jobs", "get"): ({"200"}, "JobView[]"),
    ("/v1/jobs/{job_id}", "get"): ({"200"}, "JobView"), ("/v1/jobs/{job_id}", "delete"): ({"200", "202"}, "JobView"),
    ("/v1/problems:validate", "post"): ({"200"}, "ValidationResult"),
    ("/v1/plans:evaluate", "post"): ({"200"}, "Evaluation"), ("/v1/plans", "get"): ({"200"}, "PlanSummary[]"),
    ("/v1/plans/{plan_id}", "get"): ({"200"}, "PlanView"),
    ("/v1/plans/{plan_id}/decisions", "post"): ({"200"}, "PlanSummary"),
    ("/v1/plans/{plan_id}/decisions:bulk", "post"): ({"200"}, "BulkDecisionResult"),
    ("/v1/plans/{plan_id}/edits", "post"): ({"200"}, "PlanEvaluation"),
    ("/v1/plans/{plan_id}/evaluation", "get"): ({"200"}, "PlanEvaluation"),
    ("/v1/plans/{plan_id}/audit", "get"): ({"200"}, "AuditEntry[]"),
    ("/v1/plans/{plan_id}/export", "get"): ({"200"}, "Export"),
    ("/v1/plans/{plan_id}/promises", "post"): ({"200"}, "Quote"),
    ("/healthz", "get"): ({"200"}, "Health"), ("/readyz", "get"): ({"200"}, "Readiness"),
}
WRITES = {("/v1/jobs", "post"), ("/v1/jobs/{job_id}", "delete"), ("/v1/plans/{plan_id}/decisions", "post"),
          ("/v1/plans/{plan_id}/decisions:bulk", "post"), ("/v1/plans/{plan_id}/edits", "post")}
#: The POSTs that spend CPU without writing: like the writes, they need the key once keys exist.
COMPUTING = {("/v1/problems:validate", "post"), ("/v1/plans:evaluate", "post"),
             ("/v1/plans/{plan_id}/promises", "post")}
KEYED = WRITES | COMPUTING
BODIES = {
    "/v1/jobs": "JobRequestDoc", "/v1/problems:validate": "Problem", "/v1/plans:evaluate": "EvaluateRequestDoc",
    "/v1/plans/{plan_id}/decisions": "DecisionRequest", "/v1/plans/{plan_id}/promises": "PromiseRequest",
    "/v1/plans/{plan_id}/decisions:bulk": "BulkDecisionRequest", "/v1/plans/{plan_id}/edits": "EditRequest",
}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url), run_jobs=False)) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        doc: dict[str, Any] = r.json()
        return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def test_the_document_lists_every_route_with_its_body(document: dict[str, Any]) -> None:
    doc = document
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "stockplan"
    listed = {(path, method) for path, method, _ in operations(doc)}
    assert listed >= ROUTES, ROUTES - listed
    # Nothing the app routes is missing from the document (new routes included).
    # (Each resource's routes are an included router: walked as FastAPI walks them for the document.)
    routed = {(c.path, m.lower()) for c in iter_route_contexts(create_app(service_settings("sqlite://"),
                                                                          run_jobs=False).routes)
              if isinstance(c.original_route, APIRoute) and c.include_in_schema for m in c.methods or ()}
    assert routed == listed
    schemas = doc["components"]["schemas"]
    for path, method, op in operations(doc):
        assert op.get("summary") and op.get("responses"), (method, path)
        if method != "post":
            continue
        body = op.get("requestBody")
        assert body is not None and body["required"] is True, path  # every POST documents its body
        (media,) = body["content"]
        ref = body["content"][media]["schema"]["$ref"]
        assert media == "application/json" and ref.startswith("#/components/schemas/"), path
        assert ref.rsplit("/", 1)[1] in schemas, ref
        if path in BODIES:
            assert ref == f"#/components/schemas/{BODIES[path]}", path
    # Every reference resolves, and the bodies are the real models (not bare objects).
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    job = schemas["JobRequestDoc"]
    assert job["required"] == ["problem"] and job["additionalProperties"] is False
    assert job["properties"]["problem"]["$ref"] == "#/components/schemas/Problem"
    assert {"horizon", "items", "locations", "orders", "agreements"} <= set(schemas["Problem"]["properties"])
    assert set(schemas["DecisionRequest"]["properties"]["decision"]["enum"]) == {"approve", "reject"}
    assert {"plan", "problem"} <= set(schemas["EvaluateRequestDoc"]["required"])
    # Parameters the ERP relies on.
    submit = doc["paths"]["/v1/jobs"]["post"]
    assert {(p["name"], p["in"]) for p in submit["parameters"]} >= {("wait", "query"), ("idempotency-key", "header")}
    # The JSON export takes no format (a generated client calls one route per media type).
    export = doc["paths"]["/v1/plans/{plan_id}/export"]["get"]
    assert [p["name"] for p in export["parameters"]] == ["plan_id"]


def test_the_document_declares_the_error_responses(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "404" in paths["/v1/jobs/{job_id}"]["get"]["responses"]
    assert {"401", "413", "415"} <= set(paths["/v1/jobs"]["post"]["responses"])
    assert "409" in paths["/v1/plans/{plan_id}/decisions"]["post"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "application/problem+json" in paths["/v1/jobs"]["post"]["responses"]["422"]["content"]
    # Every documented answer says what its body is.
    for path, method, op in operations(document):
        for code, answer in op["responses"].items():
            assert answer.get("description"), (method, path, code)
            media = answer.get("content")
            assert media and all("schema" in m for m in media.values()), (method, path, code)
            if code.startswith(("4", "5")):
                assert set(media) == {"application/problem+json"}, (method, path, code)
                assert media["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
    # FastAPI's own 422 body is not this service's: it is not left in the document.
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_operations_have_short_stable_ids(document: dict[str, Any]) -> None:
    ids = {(path, method): op.get("operationId") for path, method, op in operations(document)}
    assert ids == OPERATION_IDS
    summaries = [op["summary"] for _, _, op in operations(document)]
    assert len(set(summaries)) == len(summaries)  # each its own, not a function's name


def test_every_json_answer_is_a_named_model(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for (path, method), (codes, model) in ANSWERS.items():
        responses = paths[path][method]["responses"]
        assert {c for c in responses if c.startswith("2")} == codes, (method, path)
        for code in codes:
            (media,) = responses[code]["content"]
            schema = responses[code]["content"][media]["schema"]
            assert media == "application/json", (method, path, code)
            if model.endswith("[]"):
                assert schema["type"] == "array", (method, path)
                schema = schema["items"]
            assert schema == {"$ref": f"#/components/schemas/{model.removesuffix('[]')}"}, (method, path, code)
    # Job answers carry their headers; the plan is typed inline (not a bag of additional properties).
    submit = paths["/v1/jobs"]["post"]["responses"]
    assert {"Location", "Retry-After"} <= set(submit["202"]["headers"]) and "Location" in submit["200"]["headers"]
    schemas = document["components"]["schemas"]
    assert schemas["PlanView"]["properties"]["plan"] == {"$ref": "#/components/schemas/PlanDocument"}
    assert {"shipments", "purchase_orders", "costs", "bound", "gap", "status", "report"} <= set(
        schemas["PlanDocument"]["properties"])


def test_schema_names_are_short(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    assert max(map(len, names)) <= 40, sorted(names, key=len)[-3:]
    assert not [n for n in names if "V1" in n or "__" in n or n.endswith(("Get", "Post", "Delete"))]


def test_the_api_key_is_a_bearer_security_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    for path, method, op in operations(document):
        names = {p["name"].lower() for p in op.get("parameters", [])}
        assert "authorization" not in names, (method, path)  # the header is the scheme's, not a parameter
        if (path, method) in KEYED:
            assert op["security"] == [{"bearerAuth": []}], (method, path)
            assert "401" in op["responses"], (method, path)
        else:
            assert "security" not in op and "401" not in op["responses"], (method, path)


def test_submit_job_documents_the_per_key_limit(document: dict[str, Any]) -> None:
    too_many = document["paths"]["/v1/jobs"]["post"]["responses"]["429"]
    problem = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    assert too_many["content"] == {"application/problem+json": problem}
    assert set(too_many["headers"]) == {"Retry-After"} and "STOCKPLAN_MAX_JOBS_PER_KEY" in too_many["description"]
    others = {(path, method) for path, method, op in operations(document) if "429" in op["responses"]}
    assert others == {("/v1/jobs", "post")}
    job = document["components"]["schemas"]["JobView"]["properties"]
    assert {"failure", "retry_of", "retried_by"} <= set(job)


def test_the_csv_export_is_text_csv_only(document: dict[str, Any]) -> None:
    paths = document["paths"]
    csv = paths["/v1/plans/{plan_id}/export.csv"]["get"]["responses"]
    assert csv["200"]["content"] == {"text/csv": {"schema": {"type": "string"}}}
    assert {"404", "409"} <= set(csv)
    assert set(paths["/v1/plans/{plan_id}/export"]["get"]["responses"]["200"]["content"]) == {"application/json"}
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}


def test_money_is_documented_as_rounded(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "2 decimals" in schemas["PlanSummary"]["properties"]["cost"]["description"]
    assert "not rounded" in schemas["PlanSummary"]["properties"]["gap"]["description"]
    assert "2 decimals" in schemas["CostsView"]["properties"]["purchase"]["description"]
    assert schemas["PlanDocument"]["properties"]["costs"] == {"$ref": "#/components/schemas/CostsView"}


# ---------------------------------------------------------------------------------------------- schemathesis

PROBLEM_DETAILS = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["path", "message"],
            "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}},
    },
}


def with_error_contract(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` plus the error responses the README promises, each as problem+json (nothing is missing: see
    ``test_the_document_carries_the_error_contract``)."""
    doc = copy.deepcopy(doc)
    doc["components"]["schemas"]["ProblemDetails"] = PROBLEM_DETAILS
    problem = {"description": "RFC 9457 problem details",
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
    for path, method, op in operations(doc):
        responses = op["responses"]
        codes = {code for code in responses if code.startswith(("4", "5"))}
        if "{" in path:
            codes.add("404")
        if op.get("security"):  # the writes and the computing POSTs
            codes.add("401")
            if "{" in path and (path, method) in WRITES:
                codes.add("409")  # a finished job, a decided or superseded plan
        if "requestBody" in op:
            codes |= {"413", "415", "422"}
        if path == "/readyz":
            codes.add("503")
        for code in codes:
            responses[code] = problem | {"description": responses.get(code, problem)["description"]}
    return doc


def test_the_document_carries_the_error_contract(document: dict[str, Any]) -> None:
    def contract(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(path, method, code) for path, method, op in operations(doc) for code in op["responses"]}

    assert contract(with_error_contract(document)) == contract(document)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any]) -> Any:
    """The document with its error contract, against an app on SQLite holding one solved plan."""
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'stockplan.db'}"
    with TestClient(create_app(service_settings(url))) as c:  # solve one plan with the runner
        job = c.post("/v1/jobs?wait=60", json={"problem": example_problem("three-customers")}).json()
        assert job["state"] == "succeeded", job
    # No runner (jobs the fuzzer submits stay queued), and no waiting: ?wait= must not stall the run.
    app = create_app(service_settings(url, max_wait=0.0), run_jobs=False)
    schema = schemathesis.openapi.from_dict(with_error_contract(document))
    schema.app = app  # served in-process; schemathesis runs its lifespan (until the process exits)
    schema.location = "/openapi.json"
    # Every case names the solved plan and its job, so that the fuzzed bodies and queries reach the code
    # behind the lookup (decisions, promises, export) instead of stopping at a 404 for a random id.
    schema.config.update(parameters={"plan_id": job["plan_id"], "job_id": job["id"]})
    schema.config.generation.update(max_examples=25, deterministic=True)
    # Explicit examples and 25 generated cases per operation (valid and invalid); the coverage phase
    # (every boundary value of every field: ~900 cases for POST /v1/jobs alone) is left out to bound the run.
    schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_the_service_keeps_to_its_document(case: Any) -> None:
    case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
                response_headers_conformance],
        # Not meaningful here:
        # - positive_data_acceptance: a body valid by the JSON Schema is still refused when it breaks the rules
        #   JSON Schema cannot state (references between entities, dates in order, plans that exist), so a
        #   422 or 404 to schema-valid data is correct.
        # - unsupported_method: Starlette answers 405 with the `Allow` of the first route matching the path,
        #   so GET and DELETE /v1/jobs/{job_id} (two routes) list only GET: a framework limit, not the API's.
        excluded_checks=[positive_data_acceptance, unsupported_method],
    )
