"""Dependencies shared by the API's and the review pages' routes (a database session per request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, from the app's session factory (closed when the response is sent)."""
    with request.app.state.sessions() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]
