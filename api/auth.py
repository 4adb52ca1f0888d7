"""Bearer API keys: created once, stored as a SHA-256 digest, checked on every write and computing POST.

With no key configured the service runs in *local development mode*: writes need
no key, and ``stockplan serve`` refuses to bind anywhere but loopback. As soon as
one key has been created, every write — and every POST that computes without
writing (validate, evaluate, promise quotes) — needs ``Authorization: Bearer <key>``
(of a key not revoked), decisions record the key's owner as their actor, and each
owner may have ``max_jobs_per_key`` jobs queued or running (``api/services.py``). Revoking
keys never falls back to local development mode: with every key revoked, no write
is accepted until a new key is created.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockplan.api.db import ApiKey

KEY_PREFIX = "spk_"
LOCAL_ACTOR = "local-dev"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, owner: str) -> str:
    """Store a new key for ``owner``; return it (the only time it is ever shown)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(owner=owner, prefix=key[:10], digest=digest(key)))
    session.commit()
    return key


def keys_configured(session: Session) -> bool:
    """Whether the service is in API-key mode: a key was ever created (revoked ones count)."""
    return session.scalar(select(ApiKey.id).limit(1)) is not None


def owner_of(session: Session, key: str) -> str | None:
    """The owner of a valid (not revoked) key, else None."""
    row = session.scalar(select(ApiKey).where(ApiKey.digest == digest(key), ApiKey.revoked.is_(False)))
    return row.owner if row is not None else None


def revoke_key(session: Session, prefix: str) -> int:
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked.is_(False))).all()
    for row in rows:
        row.revoked = True
    session.commit()
    return len(rows)


def is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")
