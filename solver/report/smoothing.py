"""Order smoothing against the bullwhip effect: per SKU, the variance of units ordered against demand's."""

from __future__ import annotations

import numpy as np

from stockplan.models.report import SkuSmoothing
from stockplan.solver.report.context import ReportContext


def order_smoothing(ctx: ReportContext) -> tuple[list[SkuSmoothing], float, float]:
    """Per SKU: variance over periods of units ordered and of demand, and their ratio (bullwhip).

    Demand is the lines' quantities in their due periods plus the forecast. Returns
    the SKUs that order or have demand, and the sums of both variances over all SKUs.
    """
    ix = ctx.ix
    n, T = len(ix.skus), ix.T
    ordered = np.zeros((n, T), dtype=np.int64)
    np.add.at(ordered, (ix.ag_sku[ctx.po_ag], ctx.po_period), ctx.po_qty)
    demand = ix.forecast.reshape(n, ix.n_locations, T).sum(axis=1)
    np.add.at(demand, (ix.line_sku, ix.line_due), ix.line_qty)
    order_var = ordered.var(axis=1)
    demand_var = demand.var(axis=1)
    rows = []
    for k in np.flatnonzero(ordered.any(axis=1) | demand.any(axis=1)).tolist():
        ratio = float(order_var[k] / demand_var[k]) if demand_var[k] > 0 else None
        rows.append(SkuSmoothing(sku=ix.skus[k], ordered_units=int(ordered[k].sum()),
                                 demand_units=int(demand[k].sum()), order_variance=float(order_var[k]),
                                 demand_variance=float(demand_var[k]), bullwhip_ratio=ratio))
    return rows, float(order_var.sum()), float(demand_var.sum())
