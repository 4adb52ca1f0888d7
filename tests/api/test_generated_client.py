"""The contract an integrator relies on: a client generated from the service's own OpenAPI document drives the
whole lifecycle of a plan against a real server.

``openapi-python-client`` (pinned in the ``test`` extra) generates ``stockplan_client`` from ``app.openapi()``,
with no warning; ``stockplan serve`` runs on a free port and a fresh SQLite file, with an API key; and
``tests/api/generated_client_lifecycle.py`` (an integrator's program using only the generated package) runs in
a subprocess: submit (202, and 200 with ``?wait=``), poll, the typed plan (cost, status, bound, gap, purchase
orders), approve one purchase order and reject another, export as JSON and CSV, the audit trail, and the
cancellation of a running job. It exits non-zero on any failed check; its output is the test's message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockplan.api.app import create_app
from stockplan.benchmarks.generator import generate
from tests.api.conftest import EXAMPLES, served, service_settings

DRIVER = Path(__file__).with_name("generated_client_lifecycle.py")
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Every operation of the document, as the generator names its modules (one per operationId, by tag).
MODULES = {
    "jobs": {"submit_job", "list_jobs", "get_job", "cancel_job"},
    "plans": {"evaluate_plan", "list_plans", "get_plan", "decide_plan", "decide_plan_items", "edit_plan",
              "get_plan_evaluation", "get_plan_audit", "export_plan", "export_plan_csv", "quote_promise"},
    "problems": {"validate_problem"},
    "health": {"health", "ready", "metrics"},
}


def tool_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: this interpreter's scripts first on PATH (the generator runs ``ruff``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``openapi-python-client generate`` on the app's document: the generated project's folder and the output."""
    folder = tmp_path_factory.mktemp("generated-client")
    doc = folder / "openapi.json"
    doc.write_text(json.dumps(create_app(service_settings("sqlite://"), run_jobs=False).openapi(), indent=1))
    run = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", str(doc),
                          "--output-path", str(folder / "client")],
                         cwd=folder, env=tool_env(), capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    return folder / "client", output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``stockplan serve`` on a free port and a fresh SQLite file holding one API key: (base URL, key)."""
    folder = tmp_path_factory.mktemp("generated-client-server")
    url = f"sqlite:///{folder / 'stockplan.db'}"
    env = tool_env(STOCKPLAN_WORKERS="2", STOCKPLAN_MAX_WAIT="120", STOCKPLAN_MAX_TIME_LIMIT="300")
    created = subprocess.run([sys.executable, "-m", "stockplan.api.cli", "keys", "create", "--owner", "integrator",
                              "--database-url", url], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("spk_"), created.stdout
    with served(folder, url, env, ready="/readyz") as base:
        yield base, key


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled example ``mixed-small`` (optimum 2,108.93) and a generated 1,000-order problem, as files."""
    folder = tmp_path_factory.mktemp("generated-client-problems")
    small = folder / "mixed-small.json"
    small.write_text((EXAMPLES / "mixed-small.json").read_text())
    big = folder / "small-0.json"
    big.write_text(json.dumps(generate("small", seed=0)))
    return {"mixed-small": small, "small-0": big}


def drive(generated: tuple[Path, str], server: tuple[str, str], *args: str) -> str:
    """Run the integrator's program with the generated package importable; its output (it must exit 0)."""
    client, _ = generated
    base, key = server
    mode, *rest = args
    run = subprocess.run([sys.executable, str(DRIVER), mode, base, key, *rest], cwd=client,
                         env=tool_env(PYTHONPATH=str(client)), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"the generated client's lifecycle failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def test_the_generator_makes_a_typed_client_without_warnings(generated: tuple[Path, str]) -> None:
    client, output = generated
    # openapi-python-client reports each problem of the document ("Warning(s) encountered ..."), and a
    # missing formatter ("ruff is not in PATH"); a clean document gives its one line and nothing else.
    assert output.strip() == f"Generating {client}", output
    package = client / "stockplan_client"
    for tag, modules in MODULES.items():
        assert {p.stem for p in (package / "api" / tag).glob("*.py")} - {"__init__"} == modules, tag
    models = {p.stem for p in (package / "models").glob("*.py")}
    assert {"job_view", "plan_view", "plan_document", "purchase_order", "export", "export_item", "audit_entry",
            "problem_details", "decision_request", "job_request_doc"} <= models
    # The typed answers are attrs classes with their fields, not a bag of additional properties.
    plan_view = (package / "models" / "plan_view.py").read_text()
    assert "plan: PlanDocument" in plan_view and "additional_properties" not in plan_view


def test_the_generated_client_drives_a_plan_through_its_lifecycle(
        generated: tuple[Path, str], server: tuple[str, str], problems: dict[str, Path]) -> None:
    out = drive(generated, server, "lifecycle", str(problems["mixed-small"]), "2108.93")
    assert "plan cost 2108.93 (optimal)" in out and "lifecycle done" in out, out


@pytest.mark.slow
def test_the_generated_client_at_real_size(
        generated: tuple[Path, str], server: tuple[str, str], problems: dict[str, Path]) -> None:
    """1,000 orders, 5 s per solve: the same lifecycle, a plan with hundreds of purchase orders."""
    out = drive(generated, server, "lifecycle", str(problems["small-0"]), "-", "5")
    assert "lifecycle done" in out, out


@pytest.mark.slow
def test_the_generated_client_cancels_a_running_job(
        generated: tuple[Path, str], server: tuple[str, str], problems: dict[str, Path]) -> None:
    """1,000 orders with a 300 s time limit: cancelled while it runs (202), the job ends ``canceled``."""
    out = drive(generated, server, "cancel", str(problems["small-0"]))
    assert " canceled " in out, out


def readme_blocks() -> tuple[str, str]:
    """The README's generated-client snippet (the python block using ``stockplan_client``) and what it prints."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", readme, re.DOTALL | re.MULTILINE)
    (at,) = [i for i, (lang, code) in enumerate(blocks) if lang == "python" and "stockplan_client" in code]
    assert blocks[at + 1][0] == "text", "README: the snippet's output follows it"
    return blocks[at][1], blocks[at + 1][1]


def test_the_readme_snippet_is_true(generated: tuple[Path, str], server: tuple[str, str], tmp_path: Path) -> None:
    """The README's snippet, run as printed (its server and key swapped for the test's), prints what it says."""
    client, _ = generated
    base, key = server
    code, printed = readme_blocks()
    assert 'base_url="http://127.0.0.1:8000"' in code and 'token="spk_..."' in code
    script = tmp_path / "readme_snippet.py"
    script.write_text(code.replace("http://127.0.0.1:8000", base).replace('"spk_..."', f'"{key}"'))
    run = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=tool_env(PYTHONPATH=str(client)),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    # The key's owner is the actor of the decisions: the README's key is alice's, the test's the integrator's.
    assert run.stdout == printed.replace(" alice ", " integrator "), run.stdout
