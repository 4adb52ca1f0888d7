"""Routes: signing in and out of the review pages (a key, or a name in local development)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockplan.api import auth
from stockplan.api.deps import SessionDep
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.identity import ACTOR_COOKIE, KEY_COOKIE, safe_next, same_origin
from stockplan.api.ui.web import error_page, form_data, page, root_of

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, s: SessionDep, next: str | None = None) -> Response:
    """A key (when keys are configured) or a name (local development) for the decisions made here."""
    return page(request, s, "login.html", {"title": "Sign in", "next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, s: SessionDep) -> Response:
    try:
        same_origin(request)
        form = await form_data(request)
    except UiError as exc:
        return error_page(request, s, exc)
    target = safe_next(form.get("next"))
    secure = request.url.scheme == "https"
    if auth.keys_configured(s):
        key = (form.get("key") or "").strip()
        owner = auth.owner_of(s, key) if key else None
        if owner is None:
            return page(request, s, "login.html", {"title": "Sign in", "next": target,
                                                   "error": "unknown or revoked API key" if key else
                                                   "enter your API key"}, status=401)
        response = RedirectResponse(f"{root_of(request)}{target}", status_code=303)
        response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", secure=secure, path="/ui")
        return response
    name = (form.get("name") or "").strip()
    if len(name) > 200:
        return page(request, s, "login.html", {"title": "Sign in", "next": target,
                                               "error": "a name has at most 200 characters"}, status=422)
    response = RedirectResponse(f"{root_of(request)}{target}", status_code=303)
    if name:
        response.set_cookie(ACTOR_COOKIE, name, httponly=True, samesite="strict", secure=secure, path="/ui",
                            max_age=30 * 86_400)
    else:
        response.delete_cookie(ACTOR_COOKIE, path="/ui")
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, s: SessionDep) -> Response:
    try:
        same_origin(request)
    except UiError as exc:
        return error_page(request, s, exc)
    response = RedirectResponse(f"{root_of(request)}/ui", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/ui")
    response.delete_cookie(ACTOR_COOKIE, path="/ui")
    return response
