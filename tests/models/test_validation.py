"""Invalid problems are refused with every error named by its JSON path (spec §Inputs, §Time)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from stockplan.models.problem import Policy, Problem, Role
from stockplan.models.validation import Limits, ProblemError, load_problem

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"

# A small problem that uses every entity and most optional fields, valid as written.
BASE: dict[str, Any] = {
    "horizon": {"start": "2026-01-05", "periods": 4, "period_days": 7},
    "items": [
        {"sku": "A", "holding_cost": 0.1, "backorder_cost": 1.0, "lost_sale_cost": 10.0},
        {"sku": "B", "lost_sale_cost": 5.0},
    ],
    "locations": [{"id": "W1"}, {"id": "W2"}],
    "stock": [
        {"sku": "A", "location": "W1", "on_hand": 5, "safety_stock": 1, "safety_stock_cost": 0.5},
        {
            "sku": "B",
            "location": "W2",
            "on_hand": 0,
            "demand_per_period": 2.0,
            "demand_std": 1.0,
            "service_level": 0.95,
        },
    ],
    "inbound": [
        {"sku": "A", "location": "W2", "quantity": 3, "arrives": "2026-01-12", "ref": "PO-1"}
    ],
    "orders": [
        {
            "id": "SO-1",
            "customer": "c1",
            "due": "2026-01-05",
            "earliest": "2026-01-05",
            "latest": "2026-01-19",
            "ship_cost": {"W1": 1.0, "W2": 2.0},
            "lines": [
                {"sku": "A", "quantity": 2},
                {"sku": "B", "quantity": 1, "backorder_cost": 0.5},
            ],
        },
        {
            "id": "SO-2",
            "customer": "c2",
            "priority": 1,
            "due": "2026-01-12",
            "ship_complete": True,
            "lines": [{"sku": "A", "quantity": 4}],
        },
    ],
    "forecast": [{"sku": "B", "location": "W1", "date": "2026-01-12", "quantity": 2}],
    "suppliers": [{"id": "S1", "order_cost": 10.0}, {"id": "S2"}],
    "agreements": [
        {
            "id": "AG-1",
            "supplier": "S1",
            "sku": "A",
            "role": "primary",
            "location": "W1",
            "unit_cost": 3.0,
            "lead_time_days": 7,
            "moq": 5,
            "pack_size": 5,
            "capacity_per_period": 20,
            "price_breaks": [{"min_qty": 10, "unit_cost": 2.5}, {"min_qty": 20, "unit_cost": 2.0}],
        },
        {
            "id": "AG-2",
            "supplier": "S2",
            "sku": "B",
            "role": "dropship",
            "unit_cost": 4.0,
            "lead_time_days": 3,
        },
    ],
    "settings": {"policy": "min_cost"},
}

DELETE = object()


def parse_path(path: str) -> list[str | int]:
    """``orders[0].lines[1].sku`` -> ``["orders", 0, "lines", 1, "sku"]``."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        parts += [int(i.rstrip("]")) for i in indices]
    return parts


def edited(path: str, value: Any) -> dict[str, Any]:
    """A deep copy of BASE with the value at ``path`` replaced (or deleted with DELETE)."""
    data = copy.deepcopy(BASE)
    *parents, last = parse_path(path)
    node: Any = data
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


def error_paths(data: Any, limits: Limits | None = None) -> list[str]:
    with pytest.raises(ProblemError) as info:
        load_problem(data, limits)
    assert info.value.errors, "ProblemError without errors"
    return [e.path for e in info.value.errors]


# --- valid input ---


def test_base_problem_is_valid() -> None:
    problem = load_problem(copy.deepcopy(BASE))
    assert isinstance(problem, Problem)
    assert problem.orders[0].priority == 3  # default
    assert problem.orders[0].ship_complete is False  # default
    assert problem.orders[1].ship_complete is True
    assert problem.items[1].holding_cost == 0.0
    assert problem.items[1].backorder_cost == 0.0
    assert problem.agreements[1].role is Role.DROPSHIP
    assert problem.agreements[1].location is None
    assert problem.agreements[1].pack_size == 1
    assert problem.agreements[1].moq == 0
    assert problem.agreements[1].capacity_per_period is None
    assert problem.suppliers[1].order_cost == 0.0
    assert problem.settings.policy is Policy.MIN_COST


def test_settings_default_to_min_cost() -> None:
    data = edited("settings", DELETE)
    assert load_problem(data).settings.policy is Policy.MIN_COST


@pytest.mark.parametrize(
    "path",
    sorted(p.name for p in EXAMPLES.glob("*.json") if p.name != "expected.json"),
)
def test_example_files_load_cleanly(path: str) -> None:
    problem = load_problem(json.loads((EXAMPLES / path).read_text()))
    assert problem.items and problem.locations


def _bundled() -> list[str]:
    folder = resources.files("stockplan.api") / "examples"
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


@pytest.mark.parametrize("name", _bundled())
def test_bundled_examples_load_cleanly(name: str) -> None:
    text = (resources.files("stockplan.api") / "examples" / name).read_text()
    load_problem(json.loads(text))


def test_bundled_examples_include_the_documented_ones() -> None:
    assert {"three-customers.json", "mixed-small.json", "mixed-medium.json"} <= set(_bundled())


def test_unknown_fields_are_refused_and_declared_extensions_kept() -> None:
    data = copy.deepcopy(BASE)
    data["orders"][0]["note"] = "call before delivery"
    data["items"][0]["colour"] = "red"
    data["meta"] = {"source": "erp"}
    assert sorted(error_paths(data)) == ["items[0].colour", "meta", "orders[0].note"]
    problem = load_problem(copy.deepcopy(BASE))
    assert problem.inbound[0].ref == "PO-1"  # an extension, declared in the model
    assert problem.model_extra is None


def test_inbound_ref_is_optional() -> None:
    assert load_problem(edited("inbound[0].ref", DELETE)).inbound[0].ref is None


# --- wrong types ---


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("items[0].holding_cost", "cheap"),
        ("items[0].sku", 5),
        ("orders[0].lines[0].quantity", 2.5),
        ("orders[0].lines[0].quantity", "two"),
        ("orders[0].customer", 5),
        ("orders[0].ship_complete", "maybe"),
        ("orders[0].ship_cost", ["W1"]),
        ("orders[0].lines", "A"),
        ("orders[1].priority", "high"),
        ("stock[0].on_hand", [5]),
        ("locations[0].id", None),
        ("agreements[0].role", "backup"),
        ("agreements[0].location", 5),
        ("agreements[0].price_breaks", {"min_qty": 10}),
        ("settings.policy", "random"),
        ("horizon", "weekly"),
        ("horizon.periods", "four"),
        ("items", {"sku": "A"}),
        ("orders", {}),
    ],
)
def test_wrong_type_is_named(path: str, value: Any) -> None:
    assert path in error_paths(edited(path, value))


@pytest.mark.parametrize("value", [True, "3", 4.0, 10**12])
def test_quantity_must_be_a_plain_json_integer_within_range(value: Any) -> None:
    assert "orders[0].lines[0].quantity" in error_paths(edited("orders[0].lines[0].quantity", value))


# --- negative quantities and costs ---


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("items[0].holding_cost", -0.1),
        ("items[0].backorder_cost", -1.0),
        ("items[0].lost_sale_cost", -1.0),
        ("stock[0].on_hand", -1),
        ("stock[0].safety_stock", -1),
        ("stock[0].safety_stock_cost", -0.5),
        ("stock[1].demand_per_period", -2.0),
        ("stock[1].demand_std", -1.0),
        ("stock[1].review_period_days", -7),
        ("inbound[0].quantity", -3),
        ("forecast[0].quantity", -1),
        ("orders[0].lines[1].backorder_cost", -0.5),
        ("orders[0].ship_cost.W1", -1.0),
        ("orders[1].priority", 0),
        ("suppliers[0].order_cost", -5.0),
        ("agreements[0].unit_cost", -1.0),
        ("agreements[0].lead_time_days", -7),
        ("agreements[0].moq", -1),
        ("agreements[0].capacity_per_period", -1),
        ("agreements[0].price_breaks[0].unit_cost", -1.0),
        ("agreements[0].price_breaks[0].min_qty", 0),
    ],
)
def test_negative_value_is_named(path: str, value: Any) -> None:
    assert path in error_paths(edited(path, value))


# --- NaN and infinity ---


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"]
)
@pytest.mark.parametrize(
    "path",
    [
        "items[0].holding_cost",
        "items[0].lost_sale_cost",
        "stock[0].safety_stock_cost",
        "stock[1].demand_std",
        "stock[1].service_level",
        "orders[0].ship_cost.W2",
        "orders[0].lines[1].backorder_cost",
        "suppliers[0].order_cost",
        "agreements[0].unit_cost",
        "agreements[0].price_breaks[1].unit_cost",
        "settings.time_limit",
        "settings.gap",
    ],
)
def test_non_finite_number_is_named(path: str, bad: float) -> None:
    assert path in error_paths(edited(path, bad))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_integer_field_is_named(bad: float) -> None:
    assert "orders[0].lines[0].quantity" in error_paths(edited("orders[0].lines[0].quantity", bad))


# --- missing required fields ---


@pytest.mark.parametrize(
    "path",
    [
        "horizon",
        "horizon.start",
        "horizon.periods",
        "horizon.period_days",
        "items",
        "items[0].sku",
        "items[0].lost_sale_cost",
        "locations",
        "locations[0].id",
        "stock[0].sku",
        "stock[0].location",
        "inbound[0].sku",
        "inbound[0].location",
        "inbound[0].quantity",
        "inbound[0].arrives",
        "orders[0].id",
        "orders[0].customer",
        "orders[0].due",
        "orders[0].lines",
        "orders[0].lines[0].sku",
        "orders[0].lines[0].quantity",
        "forecast[0].sku",
        "forecast[0].location",
        "forecast[0].date",
        "forecast[0].quantity",
        "suppliers[0].id",
        "agreements[0].id",
        "agreements[0].supplier",
        "agreements[0].sku",
        "agreements[0].role",
        "agreements[0].unit_cost",
        "agreements[0].lead_time_days",
        "agreements[0].price_breaks[0].min_qty",
        "agreements[0].price_breaks[0].unit_cost",
    ],
)
def test_missing_required_field_is_named(path: str) -> None:
    assert path in error_paths(edited(path, DELETE))


@pytest.mark.parametrize(
    "path",
    [
        "items[0].holding_cost",
        "items[0].backorder_cost",
        "stock",
        "stock[0].on_hand",
        "inbound",
        "orders",
        "orders[1].priority",
        "orders[0].earliest",
        "orders[0].latest",
        "orders[0].ship_cost",
        "orders[1].ship_complete",
        "orders[0].lines[1].backorder_cost",
        "forecast",
        "suppliers[0].order_cost",
        "agreements[0].moq",
        "agreements[0].pack_size",
        "agreements[0].capacity_per_period",
        "agreements[0].price_breaks",
        "settings",
    ],
)
def test_optional_field_may_be_absent(path: str) -> None:
    load_problem(edited(path, DELETE))


# --- quantities and sizes of lists ---


def test_line_quantity_zero_is_refused() -> None:
    assert error_paths(edited("orders[0].lines[1].quantity", 0)) == ["orders[0].lines[1].quantity"]


def test_order_without_lines_is_refused() -> None:
    assert error_paths(edited("orders[0].lines", [])) == ["orders[0].lines"]


def test_problem_without_locations_is_refused() -> None:
    assert "locations" in error_paths(edited("locations", []))


@pytest.mark.parametrize(
    "path", ["inbound[0].quantity", "forecast[0].quantity", "stock[0].on_hand"]
)
def test_zero_quantity_is_allowed_outside_order_lines(path: str) -> None:
    load_problem(edited(path, 0))


# --- duplicate ids ---


@pytest.mark.parametrize(
    ("collection", "field"),
    [
        ("items", "sku"),
        ("locations", "id"),
        ("orders", "id"),
        ("suppliers", "id"),
        ("agreements", "id"),
    ],
)
def test_duplicate_id_is_named_at_the_duplicate(collection: str, field: str) -> None:
    data = copy.deepcopy(BASE)
    data[collection].append(copy.deepcopy(data[collection][0]))
    duplicate = f"{collection}[{len(data[collection]) - 1}].{field}"
    with pytest.raises(ProblemError) as info:
        load_problem(data)
    by_path = {e.path: e.message for e in info.value.errors}
    assert duplicate in by_path
    assert "duplicate" in by_path[duplicate]


def test_duplicate_stock_entry_is_named() -> None:
    data = copy.deepcopy(BASE)
    data["stock"].append({"sku": "A", "location": "W1", "on_hand": 2})
    assert error_paths(data) == ["stock[2]"]


def test_same_id_in_different_collections_is_fine() -> None:
    data = copy.deepcopy(BASE)
    data["suppliers"][0]["id"] = "A"  # same string as an item's sku
    data["agreements"][0]["supplier"] = "A"
    load_problem(data)


# --- unknown references ---


@pytest.mark.parametrize(
    "path",
    [
        "stock[0].sku",
        "stock[1].location",
        "inbound[0].sku",
        "inbound[0].location",
        "forecast[0].sku",
        "forecast[0].location",
        "orders[0].lines[1].sku",
        "orders[1].lines[0].sku",
        "agreements[0].supplier",
        "agreements[0].sku",
        "agreements[0].location",
        "agreements[1].supplier",
        "agreements[1].sku",
    ],
)
def test_unknown_reference_is_named(path: str) -> None:
    assert error_paths(edited(path, "NOPE")) == [path]


def test_unknown_ship_cost_location_is_named_by_its_key() -> None:
    data = edited("orders[0].ship_cost", {"W1": 1.0, "W9": 2.0})
    assert error_paths(data) == ["orders[0].ship_cost.W9"]


# --- dates ---


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("horizon.start", "2026-13-01"),
        ("orders[0].due", "2026-02-30"),
        ("orders[0].latest", "2026-13-01"),
        ("orders[0].earliest", "not a date"),
        ("inbound[0].arrives", "2026-00-10"),
        ("forecast[0].date", "2026-01-32"),
        ("orders[1].due", 20260112.5),
    ],
)
def test_bad_date_is_named(path: str, value: Any) -> None:
    assert path in error_paths(edited(path, value))


def test_latest_before_due_is_refused() -> None:
    data = edited("orders[0].latest", "2026-01-04")  # due 2026-01-05
    del data["orders"][0]["earliest"]
    assert error_paths(data) == ["orders[0].latest"]


def test_latest_equal_to_due_is_fine() -> None:
    load_problem(edited("orders[0].latest", "2026-01-05"))


def test_earliest_after_latest_is_refused() -> None:
    data = edited("orders[0].earliest", "2026-01-20")  # latest 2026-01-19
    assert error_paths(data) == ["orders[0].earliest"]


def test_earliest_after_due_but_not_after_latest_is_fine() -> None:
    load_problem(edited("orders[0].earliest", "2026-01-19"))


def test_dates_outside_the_horizon_are_valid_input() -> None:
    data = copy.deepcopy(BASE)
    data["orders"][1]["due"] = "2030-01-01"  # beyond the horizon: outside the plan, not an error
    data["inbound"][0]["arrives"] = "2025-01-01"  # before start: period 0
    data["forecast"][0]["date"] = "2031-06-01"  # beyond the horizon: ignored
    load_problem(data)


# --- price breaks ---


def breaks(*pairs: tuple[int, float]) -> list[dict[str, Any]]:
    return [{"min_qty": q, "unit_cost": c} for q, c in pairs]


def test_price_break_above_the_unit_cost_is_refused() -> None:
    data = edited("agreements[0].price_breaks", breaks((10, 3.5)))  # unit_cost 3.0
    assert error_paths(data) == ["agreements[0].price_breaks[0].unit_cost"]


def test_larger_min_qty_with_a_higher_price_is_refused() -> None:
    data = edited("agreements[0].price_breaks", breaks((10, 2.0), (20, 2.5)))
    assert error_paths(data) == ["agreements[0].price_breaks[1].unit_cost"]


def test_larger_min_qty_with_a_higher_price_is_refused_when_unsorted() -> None:
    data = edited("agreements[0].price_breaks", breaks((20, 2.5), (10, 2.0)))
    assert error_paths(data) == ["agreements[0].price_breaks[0].unit_cost"]


def test_duplicate_min_qty_is_refused() -> None:
    data = edited("agreements[0].price_breaks", breaks((10, 2.5), (10, 2.5)))
    assert error_paths(data) == ["agreements[0].price_breaks[1].min_qty"]


@pytest.mark.parametrize(
    "pairs",
    [
        (),
        ((10, 3.0),),  # equal to the agreement's own price
        ((10, 2.5), (20, 2.5)),  # equal prices at larger min_qty
        ((50, 1.0), (5, 2.9), (20, 2.0)),  # unsorted but monotone
    ],
)
def test_monotone_price_breaks_are_fine(pairs: tuple[tuple[int, float], ...]) -> None:
    load_problem(edited("agreements[0].price_breaks", breaks(*pairs)))


def test_price_breaks_null_is_fine() -> None:
    assert (
        load_problem(edited("agreements[0].price_breaks", None)).agreements[0].price_breaks is None
    )


# --- agreements ---


@pytest.mark.parametrize("role", ["primary", "alternate"])
def test_location_is_required_unless_dropship(role: str) -> None:
    data = edited("agreements[0].location", DELETE)
    data["agreements"][0]["role"] = role
    assert error_paths(data) == ["agreements[0].location"]


def test_dropship_may_omit_or_give_a_location() -> None:
    assert load_problem(copy.deepcopy(BASE)).agreements[1].location is None
    load_problem(edited("agreements[1].location", "W1"))


@pytest.mark.parametrize("value", [0, -1])
def test_pack_size_below_one_is_refused(value: int) -> None:
    assert error_paths(edited("agreements[0].pack_size", value)) == ["agreements[0].pack_size"]


def test_two_agreements_for_the_same_supplier_and_sku_are_fine() -> None:
    data = copy.deepcopy(BASE)
    urgent = copy.deepcopy(data["agreements"][0])
    urgent.update(id="AG-1-URGENT", unit_cost=4.0, lead_time_days=0, price_breaks=None)
    data["agreements"].append(urgent)
    load_problem(data)


# --- horizon ---


def test_zero_periods_is_refused() -> None:
    assert error_paths(edited("horizon.periods", 0)) == ["horizon.periods"]


def test_zero_period_days_is_refused() -> None:
    assert error_paths(edited("horizon.period_days", 0)) == ["horizon.period_days"]


def test_periods_above_the_default_limit_are_refused() -> None:
    assert error_paths(edited("horizon.periods", Limits().max_periods + 1)) == ["horizon.periods"]


def test_periods_at_the_default_limit_are_fine() -> None:
    load_problem(edited("horizon.periods", Limits().max_periods))


def test_periods_above_a_custom_limit_are_refused() -> None:
    data = edited("horizon.periods", 11)
    assert error_paths(data, Limits(max_periods=10)) == ["horizon.periods"]
    load_problem(edited("horizon.periods", 10), Limits(max_periods=10))


# --- safety stock statistics ---


@pytest.mark.parametrize("level", [0.5, 1.0, 0.3, 1.2, 0.0, -0.95])
def test_service_level_outside_the_open_interval_is_refused(level: float) -> None:
    assert error_paths(edited("stock[1].service_level", level)) == ["stock[1].service_level"]


@pytest.mark.parametrize("level", [0.5000001, 0.9, 0.999999])
def test_service_level_inside_the_open_interval_is_fine(level: float) -> None:
    load_problem(edited("stock[1].service_level", level))


@pytest.mark.parametrize(
    "missing",
    [
        ("demand_per_period",),
        ("demand_std",),
        ("service_level",),
        ("demand_std", "service_level"),
        ("demand_per_period", "service_level"),
    ],
)
def test_partial_demand_statistics_are_refused(missing: tuple[str, ...]) -> None:
    data = copy.deepcopy(BASE)
    for key in missing:
        del data["stock"][1][key]
    assert error_paths(data) == ["stock[1]"]


def test_no_statistics_and_no_safety_stock_is_fine() -> None:
    data = copy.deepcopy(BASE)
    data["stock"][1] = {"sku": "B", "location": "W2", "on_hand": 1}
    load_problem(data)


@pytest.mark.parametrize("value", [-1, 1.5, "7", True, 10**12])
def test_review_period_must_be_a_whole_number_of_days_at_least_0(value: Any) -> None:
    assert error_paths(edited("stock[1].review_period_days", value)) == ["stock[1].review_period_days"]


@pytest.mark.parametrize("days", [0, 7, 10])
def test_review_period_is_an_optional_extension(days: int) -> None:
    assert load_problem(edited("stock[1].review_period_days", days)).stock[1].review_period_days == days
    assert load_problem(copy.deepcopy(BASE)).stock[1].review_period_days is None


def test_misspelt_review_period_is_named_with_the_field_it_means() -> None:
    data = copy.deepcopy(BASE)
    data["stock"][1]["review_period"] = 7
    with pytest.raises(ProblemError) as info:
        load_problem(data)
    assert [str(e) for e in info.value.errors] == [
        "stock[1].review_period: unknown field; did you mean 'review_period_days'?"]


def test_safety_stock_warnings_are_not_errors() -> None:
    from stockplan.solver.safety_stock import safety_stock_notes

    # B at W2 has statistics but only a dropship agreement; A at W1's safety stock of 1 costs 0.5: held.
    data = copy.deepcopy(BASE)
    data["stock"][0]["safety_stock_cost"] = 0.0
    notes = safety_stock_notes(load_problem(data))
    assert [(n.path, n.code.value) for n in notes] == [("stock[0]", "no_cost"), ("stock[1]", "no_primary")]
    assert notes[1].message.endswith("no alternate agreement restocks it there either")


# --- size caps ---


def test_too_many_orders_is_refused_before_parsing() -> None:
    data = copy.deepcopy(BASE)
    data["orders"] = [1, "two", {"id": 3}]  # each would be a pydantic error
    assert error_paths(data, Limits(max_orders=2)) == ["orders"]


def test_orders_at_the_limit_are_fine() -> None:
    load_problem(copy.deepcopy(BASE), Limits(max_orders=2))
    assert error_paths(copy.deepcopy(BASE), Limits(max_orders=1)) == ["orders"]


def test_too_many_order_lines_is_refused() -> None:
    # BASE has 3 lines in 2 orders.
    load_problem(copy.deepcopy(BASE), Limits(max_lines=3))
    assert error_paths(copy.deepcopy(BASE), Limits(max_lines=2)) == ["orders"]


@pytest.mark.parametrize(
    ("limits", "path"),
    [
        (Limits(max_items=1), "items"),
        (Limits(max_agreements=1), "agreements"),
        (Limits(max_entries=1), "stock"),
    ],
)
def test_other_size_caps(limits: Limits, path: str) -> None:
    assert error_paths(copy.deepcopy(BASE), limits) == [path]


def test_entry_cap_applies_to_stock_inbound_and_forecast() -> None:
    data = copy.deepcopy(BASE)
    data["inbound"] *= 2
    data["forecast"] *= 2
    assert sorted(error_paths(data, Limits(max_entries=1))) == ["forecast", "inbound", "stock"]


# --- top level ---


@pytest.mark.parametrize("data", [[], [BASE], "problem", None, 3, 2.5, True])
def test_non_object_top_level_is_refused(data: Any) -> None:
    assert error_paths(data) == ["$"]


def test_empty_object_names_the_required_sections() -> None:
    paths = error_paths({})
    assert {"horizon", "items", "locations"} <= set(paths)


# --- every error at once ---


def test_three_cross_reference_errors_are_all_reported() -> None:
    data = copy.deepcopy(BASE)
    data["stock"][0]["location"] = "W9"
    data["orders"][1]["lines"][0]["sku"] = "Z"
    data["agreements"][0]["supplier"] = "S9"
    assert sorted(error_paths(data)) == [
        "agreements[0].supplier",
        "orders[1].lines[0].sku",
        "stock[0].location",
    ]


def test_rule_errors_of_every_kind_are_all_reported() -> None:
    data = copy.deepcopy(BASE)
    data["suppliers"].append({"id": "S1"})  # duplicate id
    data["orders"][0]["earliest"] = "2026-01-26"  # after latest
    data["agreements"][0]["price_breaks"] = breaks((10, 2.0), (20, 2.5))  # rising price
    del data["agreements"][0]["location"]  # primary without location
    del data["stock"][1]["demand_std"]  # partial statistics
    data["forecast"][0]["sku"] = "Z"  # unknown sku
    paths = error_paths(data)
    for path in [
        "suppliers[2].id",
        "orders[0].earliest",
        "agreements[0].price_breaks[1].unit_cost",
        "agreements[0].location",
        "stock[1]",
        "forecast[0].sku",
    ]:
        assert path in paths
    assert len(paths) == 7  # the duplicate names both suppliers[0].id and suppliers[2].id


def test_shape_errors_in_many_entities_are_all_reported() -> None:
    data = copy.deepcopy(BASE)
    data["items"][0]["holding_cost"] = float("nan")
    data["stock"][0]["on_hand"] = -1
    del data["orders"][1]["due"]
    data["orders"][0]["lines"][0]["quantity"] = 0
    data["horizon"]["start"] = "2026-13-01"
    data["agreements"][1]["role"] = "backup"
    assert sorted(error_paths(data)) == [
        "agreements[1].role",
        "horizon.start",
        "items[0].holding_cost",
        "orders[0].lines[0].quantity",
        "orders[1].due",
        "stock[0].on_hand",
    ]


def test_problem_error_message_summarises_the_errors() -> None:
    data = copy.deepcopy(BASE)
    for k in range(7):
        line = {"sku": "Z", "quantity": 1}  # unknown sku: one error per order
        data["orders"].append(
            {"id": f"X{k}", "customer": "c", "due": "2026-01-05", "lines": [line]}
        )
    with pytest.raises(ProblemError) as info:
        load_problem(data)
    assert len(info.value.errors) == 7
    assert str(info.value).startswith("7 error(s)")
    assert "(and 2 more)" in str(info.value)
    assert all(e.message for e in info.value.errors)
    assert (
        str(info.value.errors[0]) == f"{info.value.errors[0].path}: {info.value.errors[0].message}"
    )


def test_problem_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="error"):
        load_problem([])
