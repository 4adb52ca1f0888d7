"""Named benchmark instances, generated once per process and validated.

Modelled on linopy's ``benchmarks/`` registry: a benchmark names its instance
(``"small-300"``) instead of spelling out a family, a seed and overrides, so
the same names appear in test ids, in saved pytest-benchmark runs and in the
README.

``INSTANCES[name]()`` returns the problem as a JSON-ready dict (the wire
format); :func:`problem` returns it parsed by
:func:`stockplan.models.validation.load_problem`. Both are generated and
validated at most once per process: treat the returned objects as read-only.

Command line (sizes of every instance)::

    python -m benchmarks.registry
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stockplan.models.problem import Problem
from stockplan.models.validation import load_problem

from .generator import generate

#: Seed of every registered instance.
SEED = 0


@dataclass(frozen=True)
class Spec:
    """How a named instance is generated: ``generate(family, seed, **overrides)``."""

    family: str
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = SEED
    #: generating, building and solving it takes seconds rather than milliseconds
    heavy: bool = False


SPECS: dict[str, Spec] = {
    "tiny": Spec("tiny"),  # 10 orders, 3 SKUs, 2 locations, 4 periods
    "small-100": Spec("small", {"orders": 100}),  # 100 SKUs, 2 locations, 8 periods
    "small-300": Spec("small", {"orders": 300}),
    "small": Spec("small"),  # 1,000 orders
    "medium": Spec("medium", heavy=True),  # 10,000 orders, 1,000 SKUs, 3 locations, 12 periods
}

#: Instances whose benchmarks are marked ``slow``.
HEAVY: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.heavy)


@functools.cache
def _generated(name: str) -> tuple[dict[str, Any], Problem]:
    try:
        spec = SPECS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark instance {name!r}; known: {', '.join(SPECS)}") from None
    data = generate(spec.family, spec.seed, **spec.overrides)
    return data, load_problem(data)


def _factory(name: str) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        return _generated(name)[0]

    make.__name__ = make.__qualname__ = f"instance_{name.replace('-', '_')}"
    make.__doc__ = f"The {name!r} instance as a validated JSON-ready dict (cached)."
    return make


#: Instance name -> factory of its validated wire-format dict (cached per process).
INSTANCES: dict[str, Callable[[], dict[str, Any]]] = {name: _factory(name) for name in SPECS}


def problem(name: str) -> Problem:
    """The instance ``name`` parsed and validated (cached per process).

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists the known names.
    """
    return _generated(name)[1]


def main() -> int:
    for name, spec in SPECS.items():
        p = problem(name)
        lines = sum(len(o.lines) for o in p.orders)
        args = ", ".join(f"{k}={v}" for k, v in spec.overrides.items())
        print(
            f"{name:10s} {spec.family}({args}) seed={spec.seed}: {len(p.orders)} orders, "
            f"{lines} lines, {len(p.items)} SKUs, {len(p.agreements)} agreements" + (" [heavy]" if spec.heavy else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
