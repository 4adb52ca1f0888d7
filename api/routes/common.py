"""What the API's routes share: who is writing (the API key), hand-parsed bodies, JSON and CSV answers."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from stockplan.api import auth
from stockplan.api.deps import SessionDep
from stockplan.api.errors import ApiError, parse_json
from stockplan.models.validation import errors_from_pydantic

M = TypeVar("M", bound=BaseModel)

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


class CsvResponse(Response):
    media_type = "text/csv"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer already in its wire form (:func:`~stockplan.api.responses.plan_body`), encoded by pydantic-core."""
    return Response(to_json(body), status_code=status, headers=headers, media_type="application/json")


__all__ = ["BEARER", "CallerDep", "CsvResponse", "WriterDep", "body_json", "json_response", "validated", "writer"]
