"""Benchmarks of promise quotes on the medium instance with its greedy plan.

A checkout page asks for a quote per visit: what matters is the time of one
:meth:`~stockplan.solver.promise.PromiseIndex.quote` once the index of the plan is
built, and the one-off time of building it. By default (``--benchmark-disable``)
every body runs once as a smoke test; ``--benchmark-enable`` times them::

    python -m pytest benchmarks/test_bench_promise.py --benchmark-enable

The setup (generating "medium", validating it and its greedy plan) takes a few
seconds, so these are not marked slow. Speed is reported, never asserted.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from benchmarks.registry import problem
from stockplan.models.plan import Decisions
from stockplan.models.problem import Problem
from stockplan.models.promise import PromiseQuote, PromiseRequest
from stockplan.solver.greedy import greedy_plan
from stockplan.solver.indexing import build_index
from stockplan.solver.promise import PromiseIndex

INSTANCE = "medium"  # generate("medium", seed=0)


@functools.cache
def medium() -> tuple[Problem, Decisions, PromiseIndex]:
    """The medium instance, its greedy plan and the plan's promise index (cached)."""
    p = problem(INSTANCE)
    plan = greedy_plan(build_index(p))
    return p, plan, PromiseIndex(p, plan)


@functools.cache
def request_answered_by(source: str | None) -> PromiseRequest:
    """The first request (SKUs in order, then a few quantities) whose quote comes from ``source``."""
    p, _, index = medium()
    for quantity in (1, 5, 20, 100, 10_000):
        for item in p.items:
            request = PromiseRequest(sku=item.sku, quantity=quantity)
            if index.quote(request).source == source:
                return request
    raise LookupError(f"no request on {INSTANCE} is answered by {source}")  # pragma: no cover


@pytest.mark.benchmark(group="promise")
def test_promise_index_build(benchmark: Any) -> None:
    """The one-off precomputation per plan: stock projections, suffix minima, order bands."""
    p, plan, _ = medium()
    index = benchmark(PromiseIndex, p, plan)
    n_pairs = len(p.items) * len(p.locations)
    assert index.projected.shape == (n_pairs, p.horizon.periods)
    assert (index.projected >= 0).all()
    assert (index.projected >= index.projected_without_purchases).all()
    benchmark.extra_info.update(instance=INSTANCE, pairs=n_pairs, agreements=len(p.agreements),
                                shipments=len(plan.shipments), purchase_orders=len(plan.purchase_orders))


@pytest.mark.benchmark(group="promise")
@pytest.mark.parametrize("source", ["stock", "planned_purchase_order", "new_purchase_order", "dropship", None],
                         ids=["stock", "planned", "new-po", "dropship", "infeasible"])
def test_promise_quote(benchmark: Any, source: str | None) -> None:
    """One quote on the prebuilt index, for a request each source answers."""
    p, _, index = medium()
    request = request_answered_by(source)
    quote: PromiseQuote = benchmark(index.quote, request)
    assert quote.source == source
    assert quote.feasible == (source is not None)
    if quote.period is not None:
        assert 0 <= quote.period < p.horizon.periods
        assert quote.date == p.horizon.date_of(quote.period)
    benchmark.extra_info.update(instance=INSTANCE, sku=request.sku, quantity=request.quantity,
                                source=str(source), message=quote.message)


@pytest.mark.benchmark(group="promise")
def test_promise_quotes_mixed(benchmark: Any) -> None:
    """100 seeded random requests (any SKU, 1-60 units, some with a ship-from list or an earliest date)."""
    p, _, index = medium()
    rng = np.random.default_rng(0)
    locs = [loc.id for loc in p.locations]
    requests = [
        PromiseRequest(
            sku=p.items[int(rng.integers(len(p.items)))].sku,
            quantity=int(rng.integers(1, 61)),
            locations=[locs[int(rng.integers(len(locs)))]] if rng.random() < 0.3 else None,
            earliest=p.horizon.date_of(int(rng.integers(p.horizon.periods))) if rng.random() < 0.3 else None,
        )
        for _ in range(100)
    ]

    def quote_all() -> list[PromiseQuote]:
        return [index.quote(r) for r in requests]

    quotes = benchmark(quote_all)
    assert len(quotes) == len(requests)
    assert sum(q.feasible for q in quotes) > len(quotes) // 2
    benchmark.extra_info.update(instance=INSTANCE, requests=len(requests),
                                sources=sorted({str(q.source) for q in quotes}))
