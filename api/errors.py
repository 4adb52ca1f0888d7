"""RFC 9457 problem details for every error, and the request-body guard.

Every error leaves the service as ``application/problem+json`` with ``type``,
``title``, ``status`` and ``detail``; validation errors add ``errors``: one
``{path, message}`` per field (the same JSON paths the CLI prints; an unknown field
says ``unknown field``, with the known field it probably misspells). Bodies are
read through :class:`BodyLimit`, which answers 413 as soon as a body is larger
than the limit (from ``Content-Length`` or while streaming), never holding more
than that in memory, and parsed by :func:`parse_json`, which turns hostile JSON
(truncated, NaN, 1e999, a NUL, too deep) into a 422 naming the field instead of a crash.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockplan.models.validation import FieldError, json_path

log = logging.getLogger("stockplan.api")
PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ApiError(Exception):
    """An error to answer with problem details."""

    def __init__(self, status: int, detail: str, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None, extensions: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers
        self.extensions = extensions  # RFC 9457 extension members (e.g. a 429's limit and counts)


def problem_response(status: int, detail: str, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None, instance: str | None = None,
                     extensions: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://stockplan.dev/problems/{status}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [{"path": e.path, "message": e.message} for e in errors]
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.errors, exc.headers, request.url.path, exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None),
                                request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(json_path(e.get("loc", ())), "unknown field" if e.get("type") == "extra_forbidden"
                             else str(e.get("msg", "invalid"))) for e in exc.errors()]
        return problem_response(422, f"{len(errors)} invalid field(s)", errors, None, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error; it has been logged", None, None, request.url.path)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, checked before and while it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._reject(scope, receive, send)
            return
        seen = 0
        too_big = False

        async def limited() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_big = True
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)
        except Exception:
            if too_big and not started:
                await self._reject(scope, receive, send)
            else:
                raise

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, f"the request body is larger than {self.limit:,} bytes",
                                    headers={"Connection": "close"})
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


#: The deepest nesting a body may have. A problem needs six levels; deeper bodies that the
#: parser still accepts (up to Python's recursion limit) fail later, when the JSON columns
#: of the database encode them again, so they are refused here, naming the place.
MAX_DEPTH = 100
#: At most this many bad values are listed in one answer.
MAX_LISTED = 100


def parse_json(raw: bytes, content_type: str | None) -> Any:
    """The JSON of a request body, or an :class:`ApiError` (415 or 422) saying what is wrong with it.

    NaN and ±Infinity (which JSON does not allow), numbers that overflow to infinity
    (``1e999``), integers with more digits than Python converts, strings holding a NUL or
    an unpaired surrogate, and nesting deeper than :data:`MAX_DEPTH` are refused with the
    JSON path of each (``problem.items[0].lost_sale_cost``); nesting too deep for the parser
    itself is refused as ``body``.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, f"send JSON with Content-Type: application/json (got {media or 'none'})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "the body is not UTF-8", [FieldError("body", "not UTF-8 text")]) from None
    try:
        try:
            data = json.loads(text, parse_constant=_constant)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer beyond Python's digit limit: parse again, marking it, to say where it is.
            data = json.loads(text, parse_constant=_constant, parse_int=_integer)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ApiError(422, f"the body is not valid JSON ({where})", [FieldError("body", where)]) from None
    except RecursionError:
        raise ApiError(422, "the body is nested too deeply", [FieldError("body", "nested too deeply")]) from None
    errors = _unusable_values(data, escapes="\\u" in text)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApiError(422, f"{errors[0]}{more}", errors)
    return data


class _Unusable:
    """Stands in, while parsing, for a value that must be refused; says why."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _constant(name: str) -> _Unusable:
    return _Unusable(f"{name} is not a number JSON allows")


def _integer(digits: str) -> int | _Unusable:
    try:
        return int(digits)
    except ValueError:
        return _Unusable(f"an integer of {len(digits.lstrip('-'))} digits is too long")


def _bad_text(text: str) -> str | None:
    """Why a string cannot be stored and sent back (a NUL, or half of a UTF-16 surrogate pair), else None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (\\ud800-\\udfff), which is not Unicode text"
    return None


def _unusable_values(data: Any, escapes: bool) -> list[FieldError]:
    """Every marked, non-finite, unstorable or too deeply nested value of ``data``, by its JSON path.

    JSON escapes can spell strings that are not text: ``\\u0000`` (which PostgreSQL's text
    columns refuse) and unpaired surrogates such as ``\\ud800`` (which no response can
    encode as UTF-8, so a plan holding one could never be read back). Without any
    ``\\u`` escape in the body (``escapes`` false) no string can hold either.
    """
    if not isinstance(data, dict | list):
        why = _scalar_problem(data, escapes)
        return [] if why is None else [FieldError("body", why)]
    found: list[FieldError] = []
    # (container, its place as (parent's place, key) or None, depth): paths are spelled only for errors.
    stack: list[tuple[Any, Any, int]] = [(data, None, 1)]
    while stack and len(found) < MAX_LISTED:
        value, place, depth = stack.pop()
        if depth > MAX_DEPTH:
            found.append(FieldError(_path(place), f"nested deeper than {MAX_DEPTH} levels"))
            continue
        children = []
        for key, item in value.items() if type(value) is dict else enumerate(value):
            if escapes and type(key) is str and (why := _bad_text(key)) is not None:
                # The key itself is not text: name it escaped, so that the answer can be encoded.
                found.append(FieldError(_path((place, repr(key)[1:-1])), f"the key {why}"))
                continue
            kind = type(item)
            if kind is dict or kind is list:
                children.append((item, (place, key), depth + 1))
            elif (kind is float or kind is _Unusable or (escapes and kind is str)) and (
                    why := _scalar_problem(item, escapes)) is not None:
                found.append(FieldError(_path((place, key)), why))
        stack.extend(reversed(children))
    return found[:MAX_LISTED]


def _path(place: Any) -> str:
    keys: list[int | str] = []
    while place is not None:
        place, key = place
        keys.append(key)
    return json_path(reversed(keys))


def _scalar_problem(item: Any, escapes: bool) -> str | None:
    if type(item) is float:
        return None if math.isfinite(item) else "a number out of range (it overflows to infinity)"
    if type(item) is _Unusable:
        return item.message
    if escapes and type(item) is str:
        return _bad_text(item)
    return None
