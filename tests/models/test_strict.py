"""Strict schemas (issue 12): unknown fields are errors with a suggestion, nothing is coerced from strings,
shape and cross-entity errors come in one answer, and a plan document is a plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stockplan.models.plan import Decisions, Plan, load_plan
from stockplan.models.validation import FieldError, ProblemError, load_problem
from tests.models.test_validation import BASE, edited

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def errors_of(data: Any) -> list[FieldError]:
    with pytest.raises(ProblemError) as info:
        load_problem(data)
    return info.value.errors


def plan_errors(data: Any) -> list[FieldError]:
    with pytest.raises(ProblemError) as info:
        load_plan(data)
    return info.value.errors


def with_field(path: str, value: Any) -> dict[str, Any]:
    """BASE with a new field: ``path`` names the new key under an existing object."""
    return edited(path, value)


# --- unknown fields -------------------------------------------------------------------------------


def test_a_misspelt_earliest_names_its_path_and_suggests_earliest() -> None:
    data = with_field("orders[0].earliest_date", "2026-01-12")
    errors = errors_of(data)
    assert [str(e) for e in errors] == ["orders[0].earliest_date: unknown field; did you mean 'earliest'?"]


def test_a_capitalised_top_level_list_is_refused() -> None:
    data = copy.deepcopy(BASE)
    data["Orders"] = data.pop("orders")
    (error,) = errors_of(data)
    assert error.path == "Orders" and error.message == "unknown field; did you mean 'orders'?"


def test_an_abbreviated_line_quantity_is_refused_listing_the_known_fields() -> None:
    data = with_field("orders[0].lines[0].qty", 2)
    del data["orders"][0]["lines"][0]["quantity"]
    errors = {e.path: e.message for e in errors_of(data)}
    assert errors["orders[0].lines[0].qty"].startswith("unknown field")
    assert "quantity" in errors["orders[0].lines[0].qty"]  # nothing is close enough: the known fields are listed
    assert errors["orders[0].lines[0].quantity"] == "Field required"


def test_a_misspelt_setting_suggests_policy() -> None:
    (error,) = errors_of(with_field("settings.polcy", "priority"))
    assert str(error) == "settings.polcy: unknown field; did you mean 'policy'?"


def test_a_misspelt_inbound_suggests_inbound() -> None:
    data = copy.deepcopy(BASE)
    data["inbond"] = data.pop("inbound")
    (error,) = errors_of(data)
    assert str(error) == "inbond: unknown field; did you mean 'inbound'?"


def test_unknown_fields_deep_inside_are_named() -> None:
    data = with_field("agreements[0].price_breaks[1].min_quantity", 30)
    data["horizon"]["period_day"] = 7
    paths = {e.path: e.message for e in errors_of(data)}
    assert paths["agreements[0].price_breaks[1].min_quantity"] == "unknown field; did you mean 'min_qty'?"
    assert paths["horizon.period_day"] == "unknown field; did you mean 'period_days'?"


def test_declared_extensions_are_accepted() -> None:
    data = copy.deepcopy(BASE)
    data["orders"][0]["promised"] = "2026-01-12"
    data["agreements"][0]["max_change_per_period"] = 10
    data["orders"][0].update(shipment_cost=4, min_partial_shipment=0)
    data["settings"].update(promise_slip_cost=1.0, max_priced_lines=3, pricing_time_limit=2, shipment_cost=2.5,
                            min_partial_shipment=5)
    problem = load_problem(data)
    assert problem.inbound[0].ref == "PO-1"
    assert problem.orders[0].promised is not None and problem.settings.pricing_time_limit == 2.0
    assert (problem.orders[0].shipment_cost, problem.orders[0].min_partial_shipment) == (4.0, 0)
    assert (problem.settings.shipment_cost, problem.settings.min_partial_shipment) == (2.5, 5)


# --- no coercion from strings ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "true", 1, 0])
def test_ship_complete_is_a_json_boolean(value: Any) -> None:
    (error,) = errors_of(edited("orders[0].ship_complete", value))
    assert error.path == "orders[0].ship_complete"


@pytest.mark.parametrize(
    "path", ["items[0].holding_cost", "stock[1].service_level", "settings.gap", "settings.pricing_time_limit",
             "orders[0].ship_cost.W1"])
def test_a_float_given_as_a_string_is_refused(path: str) -> None:
    (error,) = errors_of(edited(path, "0.75"))
    assert error.path == path


@pytest.mark.parametrize("path", ["orders[0].priority", "horizon.periods", "settings.max_priced_lines",
                                  "settings.min_partial_shipment"])
@pytest.mark.parametrize("value", ["2", 2.0, True])
def test_an_integer_given_otherwise_is_refused(path: str, value: Any) -> None:
    (error,) = errors_of(edited(path, value))
    assert error.path == path


def test_json_integers_are_fine_where_floats_are_expected() -> None:
    problem = load_problem(edited("items[0].holding_cost", 1))
    assert problem.items[0].holding_cost == 1.0


@pytest.mark.parametrize("value", [0, 20_000, 1.5])
def test_a_date_is_not_taken_from_a_number(value: Any) -> None:
    (error,) = errors_of(edited("orders[0].due", value))
    assert error.path == "orders[0].due"


# --- one answer for both kinds of error ------------------------------------------------------------


def test_shape_and_cross_reference_errors_come_in_one_answer() -> None:
    data = with_field("orders[0].earliest_date", data_earliest := "2026-01-05")
    del data["orders"][0]["earliest"]  # written as earliest_date instead
    assert data["orders"][0]["earliest_date"] == data_earliest
    data["orders"][0]["latest"] = "2026-01-01"  # before due: a rule of the same (otherwise sound) order
    data["items"][1]["lost_sale_cost"] = -1  # a shape error
    data["orders"][1]["lines"][0]["sku"] = "NOPE"  # a reference error in a sound order
    data["stock"][0]["location"] = "W9"
    data["suppliers"].append({"id": "S1"})  # a duplicate id
    errors = {e.path: e.message for e in errors_of(data)}
    assert errors == {
        "orders[0].earliest_date": "unknown field; did you mean 'earliest'?",
        "items[1].lost_sale_cost": "Input should be greater than or equal to 0",
        "orders[0].latest": "latest is before due",
        "orders[1].lines[0].sku": "unknown sku 'NOPE'",
        "stock[0].location": "unknown location 'W9'",
        "suppliers[0].id": "duplicate id 'S1'",
        "suppliers[2].id": "duplicate id 'S1'",
    }


def test_an_entity_of_unsound_shape_still_counts_for_references() -> None:
    # Item B is malformed, but its sku is known: nothing that refers to B is called unknown.
    data = edited("items[1].lost_sale_cost", "high")
    assert [e.path for e in errors_of(data)] == ["items[1].lost_sale_cost"]


def test_references_to_a_list_that_is_not_a_list_are_not_checked() -> None:
    data = edited("locations", {"W1": {}})
    assert [e.path for e in errors_of(data)] == ["locations"]


# --- promised -------------------------------------------------------------------------------------


def test_promised_after_latest_is_refused() -> None:
    data = edited("orders[0].promised", "2026-01-26")  # latest is 2026-01-19
    assert [str(e) for e in errors_of(data)] == ["orders[0].promised: promised is after latest"]


def test_promised_on_latest_or_without_latest_is_fine() -> None:
    load_problem(edited("orders[0].promised", "2026-01-19"))
    load_problem(edited("orders[1].promised", "2026-03-30"))  # no latest: capped by the horizon


# --- plan documents -------------------------------------------------------------------------------

DECISIONS: dict[str, Any] = {
    "shipments": [{"order": "SO-1", "line": 0, "location": "W1", "period": 0, "quantity": 2}],
    "forecast_fills": [],
    "purchase_orders": [{"agreement": "AG-1", "period": 0, "quantity": 5}],
}


def a_whole_plan() -> dict[str, Any]:
    return copy.deepcopy(DECISIONS) | {"status": "optimal", "cost": 12.5, "costs": {"purchase": 12, "holding": 0.5},
                                       "bound": 12.5, "gap": 0, "policy": "min_cost", "method": "mip"}


def test_decisions_only_give_decisions() -> None:
    plan = load_plan(copy.deepcopy(DECISIONS))
    assert type(plan) is Decisions and plan.shipments[0].quantity == 2
    assert type(load_plan({})) is Decisions


def test_a_whole_plan_is_validated_as_a_plan() -> None:
    plan = load_plan(a_whole_plan())
    assert isinstance(plan, Plan) and plan.cost == 12.5 and plan.purchase_orders[0].quantity == 5
    bad = a_whole_plan() | {"status": "great"}
    del bad["costs"]
    assert {e.path for e in plan_errors(bad)} == {"status", "costs"}


@pytest.mark.parametrize("name", ["three-customers", "mixed-small"])
def test_our_own_solved_plan_is_accepted(name: str) -> None:
    from stockplan.solver.backends.base import SolveOptions
    from stockplan.solver.solve import solve

    problem = load_problem(json.loads((EXAMPLES / f"{name}.json").read_text()))
    solved = solve(problem, SolveOptions(time_limit=60), explain=True)
    assert solved.report is not None and solved.report.notices  # every part of the report is exercised
    for text in (solved.model_dump_json(), solved.model_dump_json(indent=1, exclude_none=True)):
        again = load_plan(json.loads(text))
        assert isinstance(again, Plan) and again.model_dump() == solved.model_dump()


def test_unknown_plan_fields_are_refused_with_a_suggestion() -> None:
    plan = copy.deepcopy(DECISIONS)
    plan["shipmnts"] = plan.pop("shipments")
    assert [str(e) for e in plan_errors(plan)] == ["shipmnts: unknown field; did you mean 'shipments'?"]
    plan = copy.deepcopy(DECISIONS)
    plan["purchase_orders"][0]["qty"] = 1
    assert [e.path for e in plan_errors(plan)] == ["purchase_orders[0].qty"]
    whole = a_whole_plan()
    whole["costs"]["shiping"] = 1.0
    whole["report_"] = {}
    messages = {e.path: e.message for e in plan_errors(whole)}
    assert messages == {"costs.shiping": "unknown field; did you mean 'shipping'?",
                        "report_": "unknown field; did you mean 'report'?"}


@pytest.mark.parametrize(("path", "value"), [("shipments[0].period", "0"), ("shipments[0].quantity", "2"),
                                             ("purchase_orders[0].period", 1.0)])
def test_plan_numbers_are_not_coerced(path: str, value: Any) -> None:
    plan = copy.deepcopy(DECISIONS)
    entry, field = path.split(".")
    name, index = entry.rstrip("]").split("[")
    plan[name][int(index)][field] = value
    assert [e.path for e in plan_errors(plan)] == [path]


def test_a_problem_is_not_a_plan() -> None:
    (error,) = plan_errors(json.loads((EXAMPLES / "three-customers.json").read_text()))
    assert error.path == "$" and "this is a problem, not a plan" in error.message


def test_a_plan_record_of_the_api_says_where_its_plan_is() -> None:
    record = {"id": "p1", "job_id": "j1", "state": "proposed", "edits": {}, "plan": a_whole_plan(), "cost": 12.5,
              "links": {"self": "/v1/plans/p1"}}
    (error,) = plan_errors(record)
    assert error.path == "plan" and "the plan is under 'plan'" in error.message
    assert isinstance(load_plan(record["plan"]), Plan)  # what it points at is a plan


@pytest.mark.parametrize("data", [[], "plan", None])
def test_a_plan_is_an_object(data: Any) -> None:
    assert [str(e) for e in plan_errors(data)] == ["$: a plan is a JSON object"]


def test_an_error_with_the_greedy_plan_attached_still_has_a_plan_to_act_on() -> None:
    from stockplan.models.plan import Costs, Plan, PurchaseOrder, Status

    empty = Plan(status=Status.ERROR, cost=0.0, costs=Costs())
    greedy = Plan(status=Status.ERROR, cost=10.0, costs=Costs(purchase=10.0),
                  purchase_orders=[PurchaseOrder(agreement="AG-1", period=0, quantity=2)])
    assert empty.has_no_plan and not greedy.has_no_plan
    assert not Plan(status=Status.OPTIMAL, cost=0.0, costs=Costs()).has_no_plan
