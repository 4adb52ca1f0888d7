"""The rule-family builder builds exactly the model the single ``build_model`` function built.

``tests/solver/builder_before_split.py`` is that function, frozen. For the bundled
examples (under every policy), generated ``tiny`` problems with every feature the
generator has (smoothing, ragged terms, promise slip), a decomposition part and the
``small`` family, both builders must give the same columns, rows, coefficients,
bounds, costs, offset, integrality and blocks, in the same order, and the same map.
The builder has valid strengthenings since (issue 13): the plain build
(``strengthen=NONE``) is the one compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from benchmarks.generator import generate
from stockplan.models.validation import load_problem
from stockplan.solver.builder import build_model
from stockplan.solver.indexing import ProblemIndex, build_index, subset_index
from stockplan.solver.mip import MipModel
from stockplan.solver.model.strengthen import NONE
from tests.conftest import example_data
from tests.solver import builder_before_split as before

EXAMPLES = ("three-customers", "mixed-small", "mixed-medium")
POLICIES = ("min_cost", "priority", "fair_share")


def _with_promises(data: dict[str, Any], cost: float) -> dict[str, Any]:
    """Every other order promised on its due date, with a promise-slip cost."""
    for k, order in enumerate(data["orders"]):
        if k % 2 == 0:
            order["promised"] = order["due"]
    data["settings"]["promise_slip_cost"] = cost
    return data


def _problems() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in EXAMPLES:
        for policy in POLICIES:
            data = example_data(name)
            data.setdefault("settings", {})["policy"] = policy
            yield f"{name}-{policy}", data
    yield "mixed-small-promised", _with_promises(example_data("mixed-small"), 0.5)
    for seed in range(12):
        policy = POLICIES[seed % 3]
        yield f"tiny-{seed}-{policy}", generate("tiny", seed=seed, policy=policy)
        yield f"tiny-{seed}-{policy}-features", _with_promises(
            generate("tiny", seed=seed, policy=policy, smoothing_share=0.5, ragged_terms_share=0.3,
                     price_break_share=0.6, moq_share=0.6, ship_complete_share=0.4), 0.25)
    yield "small-0", generate("small", seed=0)
    yield "small-0-fair_share-smoothing", generate("small", seed=0, policy="fair_share", smoothing_share=0.3)


PROBLEMS = dict(_problems())


def _index(name: str) -> ProblemIndex:
    return build_index(load_problem(PROBLEMS[name]))


def _same_array(name: str, a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
    assert a.shape == b.shape, (name, a.shape, b.shape)
    assert np.array_equal(a, b), name


def assert_identical(got: tuple[MipModel, Any], want: tuple[MipModel, Any]) -> None:
    """Same model (every array, in order, bit for bit) and same column map."""
    model, mp = got
    ref, ref_mp = want
    for f in ("cost", "col_lower", "col_upper", "integrality", "row_lower", "row_upper"):
        _same_array(f, getattr(model, f), getattr(ref, f))
    assert model.matrix.shape == ref.matrix.shape
    for f in ("indptr", "indices", "data"):
        _same_array(f"matrix.{f}", getattr(model.matrix, f), getattr(ref.matrix, f))
    assert model.offset == ref.offset
    assert list(model.blocks.items()) == list(ref.blocks.items())
    assert list(model.row_blocks.items()) == list(ref.row_blocks.items())
    # The map has grown the strengthening's flows since (none in a plain build), and the
    # split-shipment columns (none without shipment fees or a minimum partial shipment).
    assert mp.flows is None and mp.split is None
    fields = [f.name for f in dataclasses.fields(mp) if f.name not in ("flows", "split")]
    assert fields == [f.name for f in dataclasses.fields(ref_mp)]
    for f in fields:
        if f == "policy":
            for g in dataclasses.fields(mp.policy):
                _same_array(f"policy.{g.name}", getattr(mp.policy, g.name), getattr(ref_mp.policy, g.name))
        else:
            _same_array(f, getattr(mp, f), getattr(ref_mp, f))


@pytest.mark.parametrize("all_integer", [False, True], ids=["mip", "all_integer"])
@pytest.mark.parametrize("name", [n for n in PROBLEMS if not n.startswith("small")])
def test_same_model(name: str, all_integer: bool) -> None:
    ix = _index(name)
    assert_identical(build_model(ix, all_integer, NONE), before.build_model(ix, all_integer))


@pytest.mark.parametrize("name", [n for n in PROBLEMS if n.startswith("small")])
def test_same_model_small(name: str) -> None:
    ix = _index(name)
    assert_identical(build_model(ix, strengthen=NONE), before.build_model(ix))
    if name == "small-0":
        assert_identical(build_model(ix, True, NONE), before.build_model(ix, True))


@pytest.mark.parametrize("name", ["mixed-medium-min_cost", "tiny-4-priority-features"])
def test_same_model_of_a_part(name: str) -> None:
    """A decomposition part: a subset of the SKUs, with per-period supplier costs."""
    ix = _index(name)
    skus = np.arange(0, len(ix.skus), 2)
    period_cost = np.full((len(ix.supplier_ids), ix.T), 7.5)
    part = subset_index(ix, skus, period_cost)
    assert_identical(build_model(part, strengthen=NONE), before.build_model(part))


def test_the_examples_are_not_trivial() -> None:
    """The problems reach every column and row family (else the comparison proves little)."""
    seen_cols: set[str] = set()
    seen_rows: set[str] = set()
    for name in PROBLEMS:
        if name.startswith("small"):
            continue
        model, _ = before.build_model(_index(name))
        seen_cols |= {k for k, s in model.blocks.items() if s.stop > s.start}
        seen_rows |= {k for k, s in model.row_blocks.items() if s.stop > s.start}
    assert seen_cols >= {"x", "y", "f", "I", "s", "n", "w", "u", "v", "z_priority", "fair_share_level"}
    assert seen_rows >= {
        "stock_balance", "safety_stock", "line_quantity", "dropship_balance", "segment_upper", "segment_lower",
        "one_segment", "fixed_cost_link", "ship_complete_whole", "ship_complete_once", "order_smoothing",
    }
