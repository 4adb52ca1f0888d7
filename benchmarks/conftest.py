"""Options of the benchmark suite: ``--run-slow`` and ``--solve-time-limit``.

Benchmarks marked ``slow`` (the heavy instances, minutes each) are deselected
unless ``--run-slow`` is given — they are measurements to run on purpose, not
tests CI skips; this applies to items under this directory only.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stockplan benchmarks")
    with contextlib.suppress(ValueError):  # another conftest may have registered it
        group.addoption(
            "--run-slow",
            action="store_true",
            default=False,
            help="also run benchmarks marked slow (the heavy instances)",
        )
    group.addoption(
        "--solve-time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time limit of each test_solve case (default: 20 s with --benchmark-enable, "
        "3 s when benchmarks are disabled, i.e. the smoke run)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    heavy = [i for i in items if "slow" in i.keywords and Path(i.path).resolve().is_relative_to(HERE)]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [i for i in items if i not in heavy]
