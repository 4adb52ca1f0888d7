"""Routes outside the document: ``/docs`` (Swagger UI) and ``/redoc`` from the app's own ``/static`` (vendored:
no CDN), and ``/`` to ``/ui``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

from stockplan.api.ui.web import root_of

router = APIRouter(include_in_schema=False)
STATIC = "/static"


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{root_of(request)}/ui", status_code=307)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = root_of(request)
    return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{request.app.title} API",
                               swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
                               swagger_favicon_url=f"{root}{STATIC}/swagger-favicon-32x32.png")


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = root_of(request)
    return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{request.app.title} API",
                          redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
                          redoc_favicon_url=f"{root}{STATIC}/swagger-favicon-32x32.png", with_google_fonts=False)
