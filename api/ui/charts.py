"""Geometry of the projected-stock charts (inline SVG): end stock and net position against safety stock."""

from __future__ import annotations

import math
from typing import Any


def stock_chart(proj: dict[str, Any], dates: list[str], width: int = 290, height: int = 150) -> dict[str, Any]:
    """Geometry of one SKU/location chart: end stock and net position against safety stock, per period."""
    end = [int(v) for v in proj.get("end", [])]
    net = [int(v) for v in proj.get("net_position", end)]
    safety = int(proj.get("safety_stock", 0))
    n = max(len(end), 1)
    left, right, top, bottom = 38, 10, 12, 26
    lo = min([0, *end, *net])
    hi = max([1, safety, *end, *net])
    span = hi - lo or 1

    def x(t: int) -> float:
        return round(left + (t * (width - left - right) / (n - 1) if n > 1 else (width - left - right) / 2), 1)

    def y(v: float) -> float:
        return round(top + (hi - v) * (height - top - bottom) / span, 1)

    step = max(1, math.ceil(n / 6))
    ticks = [{"x": x(t), "label": dates[t][5:] if t < len(dates) else str(t)} for t in range(0, n, step)]
    below = proj.get("below_safety") or [v < safety for v in end]
    points: list[dict[str, Any]] = [
        {"x": x(t), "y": y(v), "below": bool(below[t]) if t < len(below) else v < safety, "value": v,
         "date": dates[t] if t < len(dates) else f"period {t}"} for t, v in enumerate(end)]
    y_labels = sorted({(y(v), v) for v in {hi, lo, safety}}, key=lambda p: p[0])
    low_periods = [p["date"] for p in points if p["below"]]
    desc = (f"End stock by period: {', '.join(str(v) for v in end)}; safety stock {safety}; net position "
            f"{', '.join(str(v) for v in net)}." + (f" Below safety stock on {', '.join(low_periods)}."
                                                    if low_periods else ""))
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "end": " ".join(f"{p['x']},{p['y']}" for p in points),
        "net": " ".join(f"{x(t)},{y(v)}" for t, v in enumerate(net)) if net != end else None,
        "safety_y": y(safety), "zero_y": y(0), "points": points, "ticks": ticks,
        "y_labels": [{"y": yy, "label": v} for yy, v in y_labels], "desc": desc, "low": bool(low_periods),
        "sku": proj.get("sku"), "location": proj.get("location"), "safety": safety,
    }
