"""Errors the review pages show as a page (or an htmx fragment), and how API and validation errors become them."""

from __future__ import annotations

from pydantic import ValidationError

from stockplan.api.errors import ApiError
from stockplan.models.validation import errors_from_pydantic


class UiError(Exception):
    """An error to show as a page (or, for htmx, as a fragment)."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []


def from_api_error(exc: ApiError) -> UiError:
    titles = {404: "Not found", 409: "Refused", 422: "Invalid input", 401: "Sign in to decide"}
    errors = [{"path": e.path, "message": e.message} for e in exc.errors or []]
    return UiError(exc.status, titles.get(exc.status, "Error"), exc.detail, errors)


def from_validation_error(exc: ValidationError) -> UiError:
    errors = [{"path": e.path, "message": e.message} for e in errors_from_pydantic(exc)]
    return UiError(422, "Invalid input", f"{len(errors)} invalid field(s)", errors)
