"""Route: two plans side by side (``/ui/compare``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import defer

from stockplan.api.db import PlanRow
from stockplan.api.deps import SessionDep
from stockplan.api.ui.compare import compare_context, page_numbers
from stockplan.api.ui.errors import UiError
from stockplan.api.ui.web import error_page, page, root_of

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, s: SessionDep, a: str | None = None, b: str | None = None,
            orders_page: str | None = None, skus_page: str | None = None, lines_page: str | None = None) -> Response:
    """Two plans side by side: cost parts with deltas (B − A), what changed per order and per SKU, and the
    decisions that changed. The pages are strings here so that a bad one is an error page, not JSON."""
    if not a or not b:
        return error_page(request, s, UiError(422, "Pick two plans", "choose plan A and plan B to compare: "
                                                                     "the A and B columns of the plans list"))
    if a == b:
        return error_page(request, s, UiError(422, "Pick two plans", "plan A and plan B are the same plan"))
    rows = {p: s.get(PlanRow, p, options=[defer(PlanRow.plan)]) for p in (a, b)}  # documents only if needed
    missing = [p for p, row in rows.items() if row is None]
    if missing:
        return error_page(request, s, UiError(404, "Plan not found",
                                              f"there is no plan {' or '.join(repr(m) for m in missing)}"))
    try:
        pages = page_numbers({"orders_page": orders_page, "skus_page": skus_page, "lines_page": lines_page})
    except UiError as exc:
        return error_page(request, s, exc)
    a_row, b_row = rows[a], rows[b]
    assert a_row is not None and b_row is not None
    return page(request, s, "compare.html", compare_context(s, a_row, b_row, pages, root_of(request),
                                                            lines_page is not None))
