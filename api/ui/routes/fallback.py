"""Route: any other address under ``/ui`` is a page saying so (the API's 404s stay JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockplan.api.deps import SessionDep
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.web import error_page, root_of

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.api_route("/{rest:path}", methods=["GET", "POST"], response_class=HTMLResponse)
def not_found(request: Request, rest: str, s: SessionDep) -> Response:
    """Any other address under /ui: a page saying so (the API's 404s stay JSON)."""
    if rest == "":
        return RedirectResponse(f"{root_of(request)}/ui", status_code=307)
    return error_page(request, s, UiError(404, "Page not found", f"there is no page {request.url.path!r}"))

