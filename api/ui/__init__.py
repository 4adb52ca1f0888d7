"""The planner's review pages under ``/ui``: server-rendered (Jinja2), htmx for checking an edit in place.

The pages use the same service layer as the API (:mod:`stockplan.api.services`):
reading a plan, deciding, editing and evaluating go through the functions the
``/v1`` routes call, so a decision made here is the same decision, with the same
audit entry and the same refusals (409 while an edited plan breaks a rule).
Nothing here needs JavaScript but the in-place check of an edited quantity; htmx
(``static/htmx.min.js``, vendored from the npm package) does that, and without it
the edit form posts and the page comes back with the verdict.

One module per concern: :mod:`.formatting` (filters), :mod:`.identity` (who decides,
cookies, same-origin checks), :mod:`.web` (rendering, forms), :mod:`.charts`,
:mod:`.compare`, and :mod:`.routes` (routing only).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

# Aliased: ``compare`` here is the module of the compare page's figures (:mod:`.compare`), not its route.
from stockplan.api.ui.routes import compare as compare_route
from stockplan.api.ui.routes import fallback, plan, plans, session

STATIC = Path(__file__).resolve().parent.parent / "static"


def install_ui(app: FastAPI) -> None:
    """Serve the review pages under ``/ui`` and their assets under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (plans, plan, compare_route, session, fallback):  # the catch-all 404 last
        app.include_router(module.router)


__all__ = ["install_ui"]
