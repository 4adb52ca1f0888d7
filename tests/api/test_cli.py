"""The ``stockplan`` command line, run as a user runs it: in a subprocess.

``python -m stockplan.api.cli`` does nothing (the module has no ``__main__`` guard), so the
installed console script is used, falling back to calling ``main()`` through ``python -c``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests" / "data" / "examples"
THREE_CUSTOMERS = EXAMPLES / "three-customers.json"
TIME_LIMIT = ["--time-limit", "60"]


def _command() -> list[str]:
    exe = shutil.which("stockplan", path=str(Path(sys.executable).parent)) or shutil.which(
        "stockplan"
    )
    if exe:
        return [exe]
    return [sys.executable, "-c", "from stockplan.api.cli import main; main()"]


CLI = _command()


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TERM"}}
    env["COLUMNS"] = "200"  # rich wraps at the terminal width; keep lines whole
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or REPO,
        env=env,
        check=False,
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def three_customers() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(THREE_CUSTOMERS.read_text())
    return data


@pytest.fixture(scope="module")
def solved(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``solve example:three-customers --out plan.json``, run once for the module."""
    out = tmp_path_factory.mktemp("solve") / "plan.json"
    proc = run("solve", "example:three-customers", "--out", out, *TIME_LIMIT)
    return proc, out


# --- solve -------------------------------------------------------------------------------------


def test_solve_example_writes_an_optimal_plan(
    solved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = solved
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    plan = json.loads(out.read_text())
    assert plan["status"] == "optimal"
    assert plan["cost"] == pytest.approx(26.0, abs=1e-6)
    assert sum(plan["costs"].values()) == pytest.approx(plan["cost"], abs=1e-6)
    assert set(plan["costs"]) == {
        "purchase",
        "order_fixed",
        "holding",
        "safety_stock",
        "backorder",
        "lost_sales",
        "shipping",
    }
    for key in ("shipments", "forecast_fills", "purchase_orders"):
        assert isinstance(plan[key], list)
    assert all(isinstance(s["quantity"], int) for s in plan["shipments"])
    assert "optimal" in proc.stdout
    assert "26.000" in proc.stdout


def test_solve_reports_the_planners_view(
    solved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The fair-share plan of the article's scenario, in the summary and in the JSON plan."""
    proc, out = solved
    plan = json.loads(out.read_text())
    assert plan["policy"] == "fair_share" and plan["policy_violations"] == []
    report = plan["report"]
    status = {ln["order"]: ln["status"] for ln in report["lines"]}
    assert status == {"SO-1": "backordered", "SO-2": "backordered", "SO-3": "backordered", "SO-4": "on_time"}
    for ln in report["lines"]:
        if ln["status"] == "backordered":
            assert ln["promised_date"] == "2026-12-21" and ln["reason"] and ln["pricing"]
    assert {n["order"]: n["kind"] for n in report["notices"]} == {
        "SO-1": "backordered", "SO-2": "backordered", "SO-3": "backordered"}
    assert report["kpis"]["lines_on_time"] == 1
    for heading in ("service", "late and lost lines (3)", "purchase orders (1)", "customer notices (3)",
                    "policy: fair_share"):
        assert heading in proc.stdout


def test_solve_no_explain_skips_the_report(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = run("solve", "example:three-customers", "--no-explain", "--out", out, *TIME_LIMIT)
    assert proc.returncode == 0, proc.stderr
    assert "report" not in json.loads(out.read_text())
    assert "customer notices" not in proc.stdout


def test_promise_quotes_a_date_against_a_solved_plan(
    solved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = solved
    # All 14 units of the scenario are spoken for until the purchase order lands; 3 more need a new one.
    proc = run("promise", "example:three-customers", out, "--sku", "CHOC-BOX", "--quantity", "3")
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "new_purchase_order" in proc.stdout and "2026-12-21" in proc.stdout


@pytest.mark.parametrize("args,needle", [
    (["--sku", "NOPE", "--quantity", "3"], "NOPE"),
    (["--sku", "CHOC-BOX", "--quantity", "3", "--location", "WH-9"], "WH-9"),
    (["--sku", "CHOC-BOX", "--quantity", "3", "--earliest", "someday"], "earliest"),
])
def test_promise_bad_request_is_bad_input(
    solved: tuple[subprocess.CompletedProcess[str], Path], args: list[str], needle: str,
) -> None:
    _, out = solved
    proc = run("promise", "example:three-customers", out, *args)
    assert proc.returncode == 2, proc.stdout
    no_traceback(proc)
    assert needle in proc.stderr


def test_solve_file_prints_the_cost_in_its_summary() -> None:
    proc = run("solve", "tests/data/examples/mixed-small.json", *TIME_LIMIT, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "2,108.93" in proc.stdout
    assert "optimal" in proc.stdout


def test_solve_unknown_backend_is_bad_input() -> None:
    proc = run("solve", "example:three-customers", "--backend", "no-such-solver", *TIME_LIMIT)
    assert proc.returncode == 2
    no_traceback(proc)
    assert "unknown backend" in proc.stderr
    assert "highs" in proc.stderr  # lists the known ones


def test_solve_invalid_problem_is_bad_input(tmp_path: Path) -> None:
    data = three_customers()
    data["orders"][0]["lines"][0]["sku"] = "NOPE"
    proc = run("solve", write_json(tmp_path / "p.json", data), *TIME_LIMIT)
    assert proc.returncode == 2
    no_traceback(proc)
    assert "orders[0].lines[0].sku" in proc.stderr


def test_solve_missing_file_is_bad_input(tmp_path: Path) -> None:
    proc = run("solve", tmp_path / "absent.json", *TIME_LIMIT)
    assert proc.returncode == 2
    no_traceback(proc)


# --- validate ------------------------------------------------------------------------------------


def test_validate_valid_file() -> None:
    proc = run("validate", THREE_CUSTOMERS)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "valid" in proc.stdout


@pytest.mark.parametrize("name", ["three-customers", "mixed-small", "mixed-medium"])
def test_validate_bundled_example(name: str) -> None:
    proc = run("validate", f"example:{name}")
    assert proc.returncode == 0, proc.stderr


def test_validate_invalid_file_lists_every_error(tmp_path: Path) -> None:
    data = three_customers()
    data["orders"][1]["lines"][0]["sku"] = "NOPE"
    data["stock"][0]["location"] = "WH-9"
    data["agreements"][0]["supplier"] = "NOBODY"
    data["orders"][0]["latest"] = "2026-12-06"  # before its due date
    proc = run("validate", write_json(tmp_path / "p.json", data))
    assert proc.returncode == 2
    no_traceback(proc)
    for path in [
        "orders[1].lines[0].sku",
        "stock[0].location",
        "agreements[0].supplier",
        "orders[0].latest",
    ]:
        assert path in proc.stderr
    assert "4 error(s)" in proc.stderr
    assert "valid" not in proc.stdout


def test_validate_reports_shape_errors_with_paths(tmp_path: Path) -> None:
    data = three_customers()
    data["items"][0]["holding_cost"] = float("nan")  # json.dumps writes NaN, json.loads reads it
    data["orders"][2]["lines"][0]["quantity"] = 0
    del data["orders"][0]["due"]
    proc = run("validate", write_json(tmp_path / "p.json", data))
    assert proc.returncode == 2
    no_traceback(proc)
    for path in ["items[0].holding_cost", "orders[2].lines[0].quantity", "orders[0].due"]:
        assert path in proc.stderr


def test_validate_a_misspelt_field_names_it_and_suggests_the_known_one(tmp_path: Path) -> None:
    data = three_customers()
    data["orders"][0]["earliest_date"] = data["orders"][0]["due"]
    data["orders"][0]["ship_complete"] = "yes"
    proc = run("validate", write_json(tmp_path / "p.json", data))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "orders[0].earliest_date: unknown field; did you mean 'earliest'?" in proc.stderr
    assert "orders[0].ship_complete: Input should be a valid boolean" in proc.stderr


@pytest.mark.parametrize("text", ['{"horizon": ', "", "not json at all", "{'a': 1}"])
def test_validate_malformed_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    proc = run("validate", path)
    assert proc.returncode == 2
    no_traceback(proc)
    assert "not valid JSON" in proc.stderr


@pytest.mark.parametrize("data", [[], "problem", 42, None])
def test_validate_non_object_top_level(tmp_path: Path, data: Any) -> None:
    proc = run("validate", write_json(tmp_path / "p.json", data))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "a problem is a JSON object" in proc.stderr


def test_validate_missing_file(tmp_path: Path) -> None:
    proc = run("validate", tmp_path / "absent.json")
    assert proc.returncode == 2
    no_traceback(proc)
    assert "absent.json" in proc.stderr


def test_validate_directory(tmp_path: Path) -> None:
    proc = run("validate", tmp_path)
    assert proc.returncode == 2
    no_traceback(proc)


def test_validate_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"customer": "M\xfcller"}')
    proc = run("validate", path)
    assert proc.returncode == 2
    no_traceback(proc)


def test_unknown_example_is_bad_input() -> None:
    proc = run("validate", "example:no-such-example")
    assert proc.returncode == 2
    no_traceback(proc)
    assert "unknown example" in proc.stderr
    assert "three-customers" in proc.stderr  # lists the bundled ones


@pytest.mark.parametrize("source", ["missing[/]dir/p.json", "example:[/x]"])
def test_markup_characters_in_a_path_do_not_crash(tmp_path: Path, source: str) -> None:
    proc = run("validate", source, cwd=tmp_path)
    assert proc.returncode == 2
    no_traceback(proc)


# --- safety stock warnings and the reorder-point table ------------------------------------------


def safety_stock_problem(extra_skus: int = 0) -> dict[str, Any]:
    """SKU-1's safety stock costs nothing; SKU-2 has statistics and only an alternate (3 weeks)."""
    skus = ["SKU-1", "SKU-2", *(f"X-{k:02d}" for k in range(extra_skus))]
    return {
        "horizon": {"start": "2026-01-05", "periods": 4, "period_days": 7},
        "items": [{"sku": s, "lost_sale_cost": 10.0} for s in skus],
        "locations": [{"id": "WH-1"}],
        "stock": [
            {"sku": "SKU-1", "location": "WH-1", "on_hand": 20, "safety_stock": 12},
            {"sku": "SKU-2", "location": "WH-1", "demand_per_period": 2.0, "demand_std": 3.0,
             "service_level": 0.95, "safety_stock_cost": 1.0},
            *({"sku": s, "location": "WH-1", "on_hand": 5, "safety_stock": 3, "safety_stock_cost": 1.0}
              for s in skus[2:]),
        ],
        "orders": [],
        "suppliers": [{"id": "SUP-1"}],
        "agreements": [{"id": "AG-7", "supplier": "SUP-1", "sku": "SKU-2", "role": "alternate",
                        "location": "WH-1", "unit_cost": 2.0, "lead_time_days": 21}],
    }


WARNINGS = [
    "stock[0]: safety stock 12 of SKU-1 at WH-1 is ignored: its safety_stock_cost is 0",
    "stock[1]: SKU-2 at WH-1 has demand statistics but no primary agreement: the spec's L = 0 gives "
    "safety stock 0; its alternate AG-7 has a lead time of 3 periods",
]


def test_validate_lists_safety_stock_warnings_and_still_passes(tmp_path: Path) -> None:
    proc = run("validate", write_json(tmp_path / "p.json", safety_stock_problem()))
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "valid (2 warning(s))" in proc.stdout
    for text in WARNINGS:
        assert f"warning: {text}" in proc.stdout


def test_validate_negative_review_period_is_named(tmp_path: Path) -> None:
    data = safety_stock_problem()
    data["stock"][1]["review_period_days"] = -7
    proc = run("validate", write_json(tmp_path / "p.json", data))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "stock[1].review_period_days: Input should be greater than or equal to 0" in proc.stderr


def test_solve_shows_safety_stock_reorder_points_and_their_warnings(tmp_path: Path) -> None:
    data = safety_stock_problem()
    data["stock"][1]["review_period_days"] = 7  # L = 0, R = 1: ceil(1.6449 * 3) = 5, reorder ceil(2) + 5 = 7
    out = tmp_path / "plan.json"
    proc = run("solve", write_json(tmp_path / "p.json", data), "--out", out, *TIME_LIMIT)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "safety stock and reorder points (2)" in proc.stdout
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("│ SKU-1 ", "│ SKU-2 "))]
    assert len(rows) == 2
    assert all(w in rows[0] for w in ("12", "given (L 0, no demand rate)", "0 (ignored)"))
    assert all(w in rows[1] for w in ("5", "7", "statistics (L 0, R 1)"))
    assert "warning: stock[0]: safety stock 12 of SKU-1 at WH-1 is ignored" in proc.stdout
    assert "L = 0 gives safety stock 5, from the review period of 1 period alone" in proc.stdout
    plan = json.loads(out.read_text())
    # Notes about the input, not disagreements of model and evaluator: the plan stays optimal.
    assert plan["status"] == "optimal" and plan["warnings"] == []
    assert [n["code"] for n in plan["report"]["safety_stock_notes"]] == ["no_cost", "no_primary"]
    assert [(r["sku"], r["safety_stock"], r["reorder_point"]) for r in plan["report"]["reorder_points"]] == [
        ("SKU-1", 12, 12), ("SKU-2", 5, 7)]


def test_solve_caps_the_safety_stock_table_at_20_rows(tmp_path: Path) -> None:
    proc = run("solve", write_json(tmp_path / "p.json", safety_stock_problem(extra_skus=23)), *TIME_LIMIT)
    assert proc.returncode == 0, proc.stderr
    assert "safety stock and reorder points (25)" in proc.stdout
    assert "and 5 more (the JSON plan has them all)" in proc.stdout
    shown = [line for line in proc.stdout.splitlines() if line.startswith("│ X-")]
    assert len(shown) == 18


# --- evaluate -----------------------------------------------------------------------------------


def test_evaluate_the_solved_plan_is_feasible(
    solved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = solved
    proc = run("evaluate", "example:three-customers", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    assert "feasible" in proc.stdout
    assert "infeasible" not in proc.stdout
    assert "26.00" in proc.stdout


def test_evaluate_the_solved_plan_against_the_file(
    solved: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = solved
    proc = run("evaluate", THREE_CUSTOMERS, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_evaluate_a_violating_plan(
    solved: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, out = solved
    plan = json.loads(out.read_text())
    plan["shipments"][0]["quantity"] = 99  # far more than the line (4) or the stock
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "bad.json", plan))
    assert proc.returncode == 1
    no_traceback(proc)
    assert "infeasible" in proc.stdout
    assert "[line_overdelivered]" in proc.stdout
    assert "[stock_negative]" in proc.stdout


def test_evaluate_a_plan_naming_an_unknown_order(tmp_path: Path) -> None:
    plan = {
        "shipments": [
            {"order": "SO-404", "line": 0, "location": "WH-1", "period": 0, "quantity": 1}
        ]
    }
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "p.json", plan))
    assert proc.returncode == 1
    no_traceback(proc)
    assert "[unknown_reference]" in proc.stdout


def test_evaluate_the_empty_plan_is_feasible(tmp_path: Path) -> None:
    # Nothing shipped: 14 units never delivered, which is feasible but costly.
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "p.json", {}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "feasible" in proc.stdout


def test_evaluate_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    proc = run(
        "evaluate",
        "example:three-customers",
        write_json(tmp_path / "p.json", {"shipments": "x"}),
    )
    assert proc.returncode == 2
    no_traceback(proc)
    assert "shipments" in proc.stderr


def test_evaluate_a_problem_given_as_the_plan_says_it_is_not_a_plan(tmp_path: Path) -> None:
    proc = run("evaluate", THREE_CUSTOMERS, EXAMPLES / "mixed-small.json")
    assert proc.returncode == 2
    no_traceback(proc)
    assert "this is a problem, not a plan" in proc.stderr
    assert "feasible" not in proc.stdout


def test_evaluate_a_plan_with_an_unknown_field_names_it(
    solved: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, out = solved
    plan = json.loads(out.read_text())
    plan["purchase_order"] = plan.pop("purchase_orders")
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "p.json", plan))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "purchase_order: unknown field; did you mean 'purchase_orders'?" in proc.stderr


def test_evaluate_an_api_plan_record_says_where_the_plan_is(
    solved: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, out = solved
    record = {"id": "p1", "state": "proposed", "edits": {}, "plan": json.loads(out.read_text())}
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "record.json", record))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "the plan is under 'plan'" in proc.stderr


def test_evaluate_a_plan_with_a_bad_entry_names_its_path(tmp_path: Path) -> None:
    plan = {
        "shipments": [{"order": "SO-1", "line": 0, "location": "WH-1", "period": 0}],
        "purchase_orders": [{"agreement": "AG-1", "period": -1, "quantity": 7}],
    }
    proc = run("evaluate", "example:three-customers", write_json(tmp_path / "p.json", plan))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "shipments[0].quantity" in proc.stderr
    assert "purchase_orders[0].period" in proc.stderr


def test_evaluate_a_malformed_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"shipments": [')
    proc = run("evaluate", "example:three-customers", path)
    assert proc.returncode == 2
    no_traceback(proc)
    assert "not valid JSON" in proc.stderr


def test_evaluate_a_missing_plan_file(tmp_path: Path) -> None:
    proc = run("evaluate", "example:three-customers", tmp_path / "absent.json")
    assert proc.returncode == 2
    no_traceback(proc)


def test_evaluate_against_an_invalid_problem(tmp_path: Path) -> None:
    data = three_customers()
    data["agreements"][0]["sku"] = "NOPE"
    problem = write_json(tmp_path / "problem.json", data)
    proc = run("evaluate", problem, write_json(tmp_path / "p.json", {}))
    assert proc.returncode == 2
    no_traceback(proc)
    assert "agreements[0].sku" in proc.stderr


# --- split-shipment control ----------------------------------------------------------------------


def _parcels_per_order(plan: dict[str, Any]) -> float:
    """Shipments (order, location, period with units) per order shipped to."""
    parcels = {(s["order"], s["location"], s["period"]) for s in plan["shipments"] if s["quantity"] > 0}
    return len(parcels) / len({order for order, _, _ in parcels})


@pytest.mark.slow
def test_solve_with_a_shipment_fee_ships_fewer_parcels_per_order(tmp_path: Path) -> None:
    """The small family's seed 0 (1,000 orders: decomposed), 10 s each, without and with a fee of 5 per shipment."""
    from stockplan.models.plan import load_plan
    from stockplan.models.validation import load_problem
    from stockplan.solver.evaluator import evaluate

    generated = tmp_path / "small-0.json"
    made = subprocess.run([sys.executable, "-m", "benchmarks.generator", "small", "--seed", "0", "--out",
                           str(generated)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    data = json.loads(generated.read_text())
    data["settings"]["shipment_cost"] = 5.0
    with_fee = write_json(tmp_path / "small-0-fee.json", data)
    per_order = {}
    for name, problem_file in (("plain", generated), ("fee", with_fee)):
        out = tmp_path / f"{name}-plan.json"
        proc = run("solve", problem_file, "--time-limit", "10", "--no-explain", "--out", out)
        no_traceback(proc)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        plan = json.loads(out.read_text())
        ev = evaluate(load_problem(json.loads(problem_file.read_text())), load_plan(plan))
        assert ev.feasible, [v.message for v in ev.violations[:3]]
        assert plan["warnings"] == []
        assert plan["shipment_fees"] == pytest.approx(ev.shipment_fees)
        assert plan["objective"] == pytest.approx(ev.cost + ev.shipment_fees) == pytest.approx(ev.objective)
        per_order[name] = _parcels_per_order(plan)
        if name == "fee":
            assert ev.shipment_fees > 0 and "shipment fees" in proc.stdout
        else:
            assert ev.shipment_fees == 0 and "shipment fees" not in proc.stdout
    assert per_order["fee"] < per_order["plain"], per_order


@pytest.mark.slow
def test_solve_under_priority_fair_share_follows_the_policy_at_1000_orders(tmp_path: Path) -> None:
    """The small family's seed 0 with the combined policy and 90 % of orders dated, solved in 20 s through the
    CLI: the plan follows both rules and the age order (the evaluator finds nothing to swap), improves on the
    greedy plan, and its report gives shares, notes and ages."""
    from stockplan.models.plan import load_plan
    from stockplan.models.validation import load_problem
    from stockplan.solver.evaluator import evaluate
    from stockplan.solver.greedy import greedy_plan
    from stockplan.solver.indexing import build_index

    generated = tmp_path / "small-0-pfs.json"
    made = subprocess.run([sys.executable, "-m", "benchmarks.generator", "small", "--seed", "0", "--policy",
                           "priority_fair_share", "--ordered-share", "0.9", "--out", str(generated)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "plan.json"
    proc = run("solve", generated, "--time-limit", "20", "--out", out)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads(out.read_text())
    problem = load_problem(json.loads(generated.read_text()))
    ev = evaluate(problem, load_plan(plan))
    assert ev.feasible and plan["policy"] == "priority_fair_share"
    assert ev.policy_violations == [] and plan["policy_violations"] == []
    assert plan["cost"] == pytest.approx(ev.cost)
    assert plan["cost"] < evaluate(problem, greedy_plan(build_index(problem))).cost
    lines = plan["report"]["lines"]
    assert all(ln.get("share") is not None for ln in lines)
    late = [ln for ln in lines if ln["status"] != "on_time" and ln.get("ordered") is not None]
    assert late and all(ln.get("age_days") is not None and ln["age_days"] >= 0 for ln in late)
    assert any(ln.get("share_note") for ln in lines)


# --- listings -----------------------------------------------------------------------------------


def test_backends_lists_highs() -> None:
    proc = run("backends")
    assert proc.returncode == 0, proc.stderr
    assert "highs" in proc.stdout.split()


def test_examples_lists_the_bundled_problems() -> None:
    proc = run("examples")
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split()
    for name in ["three-customers", "mixed-small", "mixed-medium"]:
        assert f"example:{name}" in listed


def test_unknown_command_is_a_usage_error() -> None:
    proc = run("frobnicate")
    assert proc.returncode == 2
    no_traceback(proc)


def _solve_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: dict[str, Any],
                   *args: str) -> Any:
    """The options ``stockplan solve`` hands to its solve (in this process; the solve itself is stubbed)."""
    from typer.testing import CliRunner

    from stockplan.api import cli

    data = json.loads(THREE_CUSTOMERS.read_text())
    data["settings"].update(settings)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    seen: list[Any] = []

    def stub(problem: Any, options: Any, *rest: Any, **kwargs: Any) -> Any:
        seen.append(options)
        return cli.SolveAnswer(status="optimal", message="", summary="", plan_json=None)

    monkeypatch.setattr(cli, "solve_within_deadline", stub)
    result = CliRunner().invoke(cli.app, ["solve", str(path), *args])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_solve_time_limit_given_wins_else_the_problems_else_60(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    given = _solve_options(monkeypatch, tmp_path, {"time_limit": 5, "gap": 0.5}, "--time-limit", "60",
                           "--gap", "0.000001")
    assert (given.time_limit, given.gap) == (60.0, 1e-6)  # equal to the defaults, and still given
    left_out = _solve_options(monkeypatch, tmp_path, {"time_limit": 5, "gap": 0.5})
    assert (left_out.time_limit, left_out.gap) == (5.0, 0.5)
    default = _solve_options(monkeypatch, tmp_path, {})
    assert (default.time_limit, default.gap) == (60.0, 1e-6)
