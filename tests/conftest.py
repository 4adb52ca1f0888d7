"""Shared fixtures: the example problems copied from the spec, with their known optima."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem

EXAMPLES = Path(__file__).parent / "data" / "examples"


def example_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def example(name: str) -> Problem:
    return load_problem(example_data(name))


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "expected.json").read_text())
    return data


@pytest.fixture(scope="session")
def small_problem_data() -> dict[str, Any]:
    """A generated problem of the ``small`` family (seed 0: 1,000 orders, 1,737 lines): the size shops have."""
    from stockplan.benchmarks.generator import generate

    return generate("small", seed=0)


def grace(time_limit: float) -> float:
    """The wall-clock promise: a solve with limit T returns within T + max(2 s, 5 % of T)."""
    return max(2.0, 0.05 * time_limit)
