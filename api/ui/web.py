"""Rendering a review page: the template context every page shares, security headers, forms and htmx."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stockplan.api.ui.errors import UiError
from stockplan.api.ui.formatting import templates
from stockplan.api.ui.identity import identity

HTMX_VERSION = "2.0.11"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def root_of(request: Request) -> str:
    """The path the app is mounted under (behind a proxy), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(request: Request, s: Session, name: str, context: dict[str, Any], status: int = 200) -> Response:
    ctx = {"root": root_of(request), "who": identity(request, s), "htmx_version": HTMX_VERSION,
           "path": request.url.path, **context}
    return templates.TemplateResponse(request, name, ctx, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, s: Session, exc: UiError) -> Response:
    return page(request, s, "error.html", {"error": exc, "title": exc.title}, status=exc.status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def form_fields(request: Request, max_fields: int = 50) -> dict[str, list[str]]:
    """An urlencoded form (what these pages and htmx post): every value of every field."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UiError(415, "Unsupported form", f"post the form as application/x-www-form-urlencoded, "
                                               f"not {media or 'nothing'}")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise UiError(422, "Invalid form", "the form is not UTF-8") from None
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        raise UiError(413, "Form too large", f"a form has at most {max_fields} fields") from None


async def form_data(request: Request) -> dict[str, str]:
    """An urlencoded form, last value per field."""
    return {k: v[-1] for k, v in (await form_fields(request)).items()}
