"""Who is deciding on the review pages, and the checks that keep a cookie-borne key safe.

In local development mode (no API keys) anyone on loopback may decide, as ``local-dev``
or the name set at ``/ui/login``; once keys exist, ``/ui/login`` takes a key into an
HttpOnly cookie and every write records the key's owner. Writes posted from another
site are refused (the key rides in a cookie).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy.orm import Session

from stockplan.api import auth
from stockplan.api.ui.errors import UiError

KEY_COOKIE = "stockplan_key"
ACTOR_COOKIE = "stockplan_actor"


def identity(request: Request, s: Session) -> dict[str, Any]:
    """Who is looking: the mode, and the actor their writes would record (None: must sign in first)."""
    if not auth.keys_configured(s):
        name = (request.cookies.get(ACTOR_COOKIE) or "").strip()[:200]
        return {"key_mode": False, "actor": name or auth.LOCAL_ACTOR, "named": bool(name)}
    key = request.cookies.get(KEY_COOKIE)
    owner = auth.owner_of(s, key) if key else None
    return {"key_mode": True, "actor": owner, "named": owner is not None, "stale": key is not None and owner is None}


def writer_of(request: Request, s: Session) -> str:
    """The actor of a write from these pages, or a 401 asking to sign in."""
    who = identity(request, s)
    if who["actor"] is None:
        detail = ("your API key is unknown or revoked: sign in again with a valid key" if who.get("stale") else
                  "this service requires an API key for decisions and edits: sign in with yours first")
        raise UiError(401, "Sign in to decide", detail)
    return str(who["actor"])


def same_origin(request: Request) -> None:
    """Refuse a write posted from another site (the key rides in a cookie)."""
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host")):
        raise UiError(403, "Refused", "this form was posted from another site")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise UiError(403, "Refused", "this form was posted from another site")


def safe_next(target: str | None) -> str:
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"
