"""The seeded instance generator: valid problems, deterministic, realistic shares."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generator import FAMILIES, Family, generate, main, write_family
from stockplan.models.validation import load_problem


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return generate("small", seed=7)


@pytest.fixture(scope="module")
def medium() -> dict[str, Any]:
    return generate("medium", seed=1)


@pytest.fixture(scope="module")
def large_reduced() -> dict[str, Any]:
    return generate("large", seed=2, orders=2_000)


def lines(problem: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for order in problem["orders"]:
        yield from order["lines"]


def share(values: list[bool]) -> float:
    return sum(values) / len(values)


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("family", ["tiny", "small", "medium"])
def test_family_validates(family: str) -> None:
    problem = generate(family, seed=3)
    parsed = load_problem(problem)
    fam = FAMILIES[family]
    assert len(parsed.orders) == fam.orders
    assert len(parsed.items) == fam.skus
    assert len(parsed.locations) == fam.locations
    assert parsed.horizon.periods == fam.periods
    assert parsed.horizon.period_days == fam.period_days
    assert len(parsed.suppliers) == max(3, round(fam.skus / 25))


def test_large_counts_with_fewer_orders(large_reduced: dict[str, Any]) -> None:
    p = large_reduced
    assert len(p["orders"]) == 2_000
    assert len(p["items"]) == 5_000
    assert len(p["locations"]) == 3
    assert p["horizon"]["periods"] == 12
    assert len(p["suppliers"]) == 200
    assert len(p["stock"]) == 5_000 * 3
    # every SKU and location has a primary agreement
    primaries = {(a["sku"], a["location"]) for a in p["agreements"] if a["role"] == "primary"}
    assert len(primaries) == 5_000 * 3
    assert_references_resolve(p)


@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_tiny_validates_for_any_seed(seed: int) -> None:
    problem = generate("tiny", seed=seed)
    load_problem(problem)
    assert_references_resolve(problem)
    assert_price_breaks_monotone(problem)


def test_is_json_ready(small: dict[str, Any]) -> None:
    assert json.loads(json.dumps(small, allow_nan=False)) == small


def test_overrides_and_family_objects() -> None:
    p = generate("small", seed=0, orders=50, periods=5)
    assert len(p["orders"]) == 50
    assert p["horizon"]["periods"] == 5
    custom = Family("custom", orders=20, skus=10, locations=1, periods=3, period_days=1)
    q = generate(custom, seed=0)
    load_problem(q)
    assert all("location" not in a or a["location"] == "WH-0" for a in q["agreements"])
    assert all(len(o.get("ship_cost", {"WH-0": 0})) == 1 for o in q["orders"])
    with pytest.raises(TypeError):
        generate("small", no_such_field=1)
    with pytest.raises(ValueError, match="unknown family"):
        generate("huge")
    with pytest.raises(ValueError, match="orders"):
        generate("tiny", orders=0)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_problem() -> None:
    assert generate("small", seed=11) == generate("small", seed=11)
    assert generate("tiny", seed=5) == generate(FAMILIES["tiny"], seed=5)


def test_different_seed_differs() -> None:
    assert generate("small", seed=11) != generate("small", seed=12)
    assert generate("tiny", seed=0) != generate("tiny", seed=1)


def test_large_generation_is_fast() -> None:
    t0 = time.perf_counter()
    problem = generate("large", seed=0)
    elapsed = time.perf_counter() - t0
    assert elapsed < 10.0
    assert len(problem["orders"]) == 50_000
    assert len(problem["items"]) == 5_000


# --------------------------------------------------------------------------- references and ids


def assert_references_resolve(p: dict[str, Any]) -> None:
    skus = {i["sku"] for i in p["items"]}
    locs = {loc["id"] for loc in p["locations"]}
    sups = {s["id"] for s in p["suppliers"]}
    assert len(skus) == len(p["items"])
    assert len(locs) == len(p["locations"])
    assert len(sups) == len(p["suppliers"])
    assert len({o["id"] for o in p["orders"]}) == len(p["orders"])
    assert len({a["id"] for a in p["agreements"]}) == len(p["agreements"])
    for section in ("stock", "inbound", "forecast"):
        for e in p[section]:
            assert e["sku"] in skus and e["location"] in locs
    for o in p["orders"]:
        assert o["lines"]
        assert all(line["sku"] in skus for line in o["lines"])
        assert set(o.get("ship_cost", {})) <= locs
    for a in p["agreements"]:
        assert a["supplier"] in sups and a["sku"] in skus
        if a["role"] == "dropship":
            assert "location" not in a
        else:
            assert a["location"] in locs


def test_every_reference_resolves(small: dict[str, Any], medium: dict[str, Any]) -> None:
    assert_references_resolve(small)
    assert_references_resolve(medium)


def test_id_formats(small: dict[str, Any]) -> None:
    patterns = {
        "items": ("sku", r"SKU-\d{5}"),
        "orders": ("id", r"SO-\d{6}"),
        "locations": ("id", r"WH-\d"),
        "suppliers": ("id", r"SUP-\d{3}"),
        "agreements": ("id", r"AG-\d{6}"),
    }
    for section, (field, pattern) in patterns.items():
        assert all(re.fullmatch(pattern, e[field]) for e in small[section]), section


def test_costs_rounded_to_cents(small: dict[str, Any]) -> None:
    def cents(x: float) -> bool:
        return abs(round(x, 2) - x) < 1e-9

    values = [
        v
        for i in small["items"]
        for v in (i["holding_cost"], i["backorder_cost"], i["lost_sale_cost"])
    ]
    values += [a["unit_cost"] for a in small["agreements"]]
    values += [pb["unit_cost"] for a in small["agreements"] for pb in a.get("price_breaks", [])]
    values += [c for o in small["orders"] for c in o.get("ship_cost", {}).values()]
    values += [s["order_cost"] for s in small["suppliers"]]
    assert all(cents(v) for v in values)


# --------------------------------------------------------------------------- shares


def test_order_feature_shares(medium: dict[str, Any]) -> None:
    orders = medium["orders"]
    start = date.fromisoformat(medium["horizon"]["start"])
    n_lines = Counter(len(o["lines"]) for o in orders)
    assert set(n_lines) <= {1, 2, 3, 4}
    assert (n_lines[1] + n_lines[2]) / len(orders) > 0.7
    assert n_lines[4] > 0
    prio = Counter(o["priority"] for o in orders)
    assert set(prio) == {1, 2, 3, 4, 5}
    assert prio.most_common(1)[0][0] == 3
    assert 0.55 <= share(["latest" in o for o in orders]) <= 0.65
    assert 0.07 <= share(["earliest" in o for o in orders]) <= 0.13
    assert 0.12 <= share([o.get("ship_complete", False) for o in orders]) <= 0.18
    assert 0.45 <= share(["ship_cost" in o for o in orders]) <= 0.55
    assert {len(o["ship_cost"]) for o in orders if "ship_cost" in o} == {1, 2, 3}
    late = share([date.fromisoformat(o["due"]) < start for o in orders])
    assert 0.05 <= late <= 0.15
    overrides = share(["backorder_cost" in line for line in lines(medium)])
    assert 0.01 <= overrides <= 0.06
    for o in orders:
        if "latest" in o:
            assert o["latest"] >= o["due"]
            if "earliest" in o:
                assert o["earliest"] <= o["latest"]
        skus = [line["sku"] for line in o["lines"]]
        assert len(set(skus)) == len(skus)


def test_stock_is_short(small: dict[str, Any], medium: dict[str, Any]) -> None:
    for p in (small, medium):
        demand = sum(line["quantity"] for line in lines(p))
        on_hand = sum(s["on_hand"] for s in p["stock"])
        assert 0.35 <= on_hand / demand <= 0.72
    stock = medium["stock"]
    with_ss = share(["safety_stock" in s for s in stock])
    with_stats = share(["service_level" in s for s in stock])
    assert 0.15 <= with_ss <= 0.35
    assert 0.02 <= with_stats <= 0.08
    for s in stock:
        assert not ("safety_stock" in s and "service_level" in s)
        if "service_level" in s:
            assert 0.5 < s["service_level"] < 1
            assert {"demand_per_period", "demand_std"} <= set(s)
    assert medium["inbound"] and medium["forecast"]


def test_costs_make_buying_usually_worth_it(medium: dict[str, Any]) -> None:
    primary_cost: dict[str, float] = {}
    for a in medium["agreements"]:
        if a["role"] == "primary" and a["location"] == "WH-0":
            primary_cost[a["sku"]] = a["unit_cost"]
    ratios = [i["lost_sale_cost"] / primary_cost[i["sku"]] for i in medium["items"]]
    worth = share([r > 1.6 for r in ratios])
    assert 0.75 <= worth <= 0.95  # usually, not always
    assert max(ratios) <= 4.1
    for i in medium["items"]:
        assert 0 < i["holding_cost"] < i["backorder_cost"] < i["lost_sale_cost"]


def test_supply_shares(medium: dict[str, Any]) -> None:
    ags = medium["agreements"]
    n_skus = len(medium["items"])
    n_locs = len(medium["locations"])
    roles = Counter(a["role"] for a in ags)
    assert roles["primary"] == n_skus * n_locs
    assert 0.5 <= roles["alternate"] / (n_skus * n_locs) <= 0.7
    assert 0.15 <= roles["dropship"] / n_skus <= 0.25
    assert 0.35 <= share(["capacity_per_period" in a for a in ags]) <= 0.45
    assert 0.25 <= share(["price_breaks" in a for a in ags]) <= 0.35
    assert {a["pack_size"] for a in ags} == {1, 6, 12, 24}
    assert 0.2 <= share([a["moq"] > 0 for a in ags]) <= 0.35
    sups = medium["suppliers"]
    assert len(sups) == 40
    assert any(s["order_cost"] == 0 for s in sups)
    assert any(s["order_cost"] > 0 for s in sups)
    for a in ags:
        assert a["moq"] % a["pack_size"] == 0
        if "capacity_per_period" in a:
            assert a["capacity_per_period"] >= max(a["moq"], a["pack_size"])
            assert a["capacity_per_period"] % a["pack_size"] == 0


def test_alternates_are_faster_and_dearer(medium: dict[str, Any]) -> None:
    primary = {(a["sku"], a["location"]): a for a in medium["agreements"] if a["role"] == "primary"}
    alternates = [a for a in medium["agreements"] if a["role"] == "alternate"]
    assert alternates
    for a in alternates:
        p = primary[(a["sku"], a["location"])]
        assert a["lead_time_days"] < p["lead_time_days"]
        assert a["unit_cost"] > p["unit_cost"]
        assert a["supplier"] != p["supplier"]


def assert_price_breaks_monotone(p: dict[str, Any]) -> None:
    for a in p["agreements"]:
        breaks = a.get("price_breaks")
        if not breaks:
            continue
        qtys = [b["min_qty"] for b in breaks]
        assert qtys == sorted(set(qtys)) and qtys[0] >= 1
        prices = [b["unit_cost"] for b in breaks]
        assert all(x <= a["unit_cost"] for x in prices)
        assert all(later <= earlier for earlier, later in pairwise(prices))


def test_price_breaks_monotone(small: dict[str, Any], medium: dict[str, Any]) -> None:
    assert_price_breaks_monotone(small)
    assert_price_breaks_monotone(medium)
    assert any(len(a.get("price_breaks", [])) == 3 for a in medium["agreements"])


def test_suppliers_couple_skus(medium: dict[str, Any]) -> None:
    """The SKU-supplier graph is (almost) one component: suppliers are shared."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in medium["agreements"]:
        parent[find(a["sku"])] = find(a["supplier"])
    components = Counter(find(i["sku"]) for i in medium["items"])
    assert components.most_common(1)[0][1] >= 0.95 * len(medium["items"])
    skus_per_supplier = Counter(
        a["supplier"] for a in medium["agreements"] if a["role"] == "primary"
    )
    assert all(n > 1 for n in skus_per_supplier.values())


# --------------------------------------------------------------------------- files and CLI


def test_write_family_and_cli(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_family("tiny", 4, tmp_path / "out" / "tiny.json")
    assert json.loads(path.read_text()) == generate("tiny", 4)

    out = tmp_path / "cli.json"
    assert main(["small", "--seed", "2", "--orders", "30", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == generate("small", 2, orders=30)

    assert main(["tiny", "--seed", "9"]) == 0
    assert json.loads(capsys.readouterr().out) == generate("tiny", 9)


def test_module_entry_point(tmp_path: Any) -> None:
    out = tmp_path / "tiny.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.generator", "tiny", "--seed", "3", "--out", str(out)],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(out.read_text()) == generate("tiny", 3)
