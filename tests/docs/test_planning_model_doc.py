"""The project's copy of the contract documents every field a problem may carry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from stockplan.models.problem import Problem

DOC = Path(__file__).resolve().parents[2] / "docs" / "planning-model.md"


def wire_fields(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every field name of ``model`` and of the models its fields hold."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        stack: list[Any] = [info.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                names |= wire_fields(t, seen)
            elif get_origin(t) is not None:
                stack.extend(get_args(t))
    return names


def test_the_doc_starts_with_the_contract_and_names_every_input_field() -> None:
    text = DOC.read_text()
    assert text.startswith("# The planning model, version 1")
    # A field counts as documented when its name appears inside a code span (`horizon = {start: ...}` too).
    documented = {word for span in re.findall(r"`([^`]+)`", text) for word in re.findall(r"[a-z_]+", span)}
    missing = sorted(wire_fields(Problem) - documented)
    assert not missing, f"fields not documented in docs/planning-model.md: {missing}"
