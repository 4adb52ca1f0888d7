"""The three-customers example under its fair-share plan, reported once for the report's test modules."""

from __future__ import annotations

import pytest

from stockplan.models.report import PlanReport
from stockplan.solver.evaluator import evaluate
from stockplan.solver.report import plan_report
from tests.conftest import example
from tests.solver.report.builders import FAIR_SHARE


@pytest.fixture(scope="module")
def three() -> PlanReport:
    prob = example("three-customers")
    assert evaluate(prob, FAIR_SHARE).feasible
    return plan_report(prob, FAIR_SHARE)
