"""Dates to periods, exactly as the planning model's §Time defines them."""

from __future__ import annotations

import math
from datetime import date


def period_of(day: date, start: date, period_days: int) -> int:
    """Return the 0-based period holding ``day``.

    A date before ``start`` maps to period 0. A date on or after the horizon's
    end maps to a period ``>= periods``; callers compare against ``periods`` to
    tell "beyond the horizon".
    """
    offset = (day - start).days
    if offset < 0:
        return 0
    return offset // period_days


def lead_time_periods(days: int, period_days: int) -> int:
    """A lead time of ``days`` days is ``ceil(days / period_days)`` periods."""
    return math.ceil(days / period_days) if days > 0 else 0
