"""Order variance against demand variance per SKU (solver/report/smoothing.py)."""

from __future__ import annotations

import pytest

from stockplan.models.report import PlanReport


def test_three_customers_order_smoothing(three: PlanReport) -> None:
    # Ordered per period 7,0,0,0,0,0; demand by due period 12,0,2,0,0,0 (population variances).
    (sku,) = three.kpis.order_smoothing
    assert sku.order_variance == pytest.approx(49 / 6 - (7 / 6) ** 2)
    assert sku.demand_variance == pytest.approx(148 / 6 - (14 / 6) ** 2)
    assert sku.bullwhip_ratio == pytest.approx(sku.order_variance / sku.demand_variance)
    assert three.kpis.total_order_variance == pytest.approx(sku.order_variance)
