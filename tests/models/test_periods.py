"""Dates to periods, lead times and all-units price breaks (spec §Time, §The cost of a plan)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockplan.models.periods import lead_time_periods, period_of
from stockplan.models.problem import Agreement, Horizon

START = date(2026, 12, 7)
HORIZON = Horizon(start=START, periods=6, period_days=7)

starts = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
period_days = st.integers(min_value=1, max_value=366)


def day(k: int) -> date:
    return START + timedelta(days=k)


# --- date -> period ---


@pytest.mark.parametrize("k", [-1, -6, -7, -8, -365, -10_000])
def test_dates_before_start_map_to_period_zero(k: int) -> None:
    assert period_of(day(k), START, 7) == 0
    assert HORIZON.period_of(day(k)) == 0


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (0, 0),  # first day of period 0
        (6, 0),  # last day of period 0
        (7, 1),  # first day of period 1
        (13, 1),
        (14, 2),
        (34, 4),
        (35, 5),  # first day of the last period
        (41, 5),  # last day of the horizon
    ],
)
def test_period_boundaries(k: int, expected: int) -> None:
    assert period_of(day(k), START, 7) == expected
    assert HORIZON.period_of(day(k)) == expected


@pytest.mark.parametrize("k", [42, 43, 48, 49, 100, 10_000])
def test_on_or_after_the_horizon_end_is_beyond(k: int) -> None:
    assert HORIZON.period_of(day(k)) >= HORIZON.periods


def test_end_of_horizon_is_exactly_periods() -> None:
    end = START + timedelta(days=HORIZON.periods * HORIZON.period_days)
    assert HORIZON.period_of(end) == HORIZON.periods
    assert HORIZON.period_of(end - timedelta(days=1)) == HORIZON.periods - 1


def test_one_day_periods() -> None:
    h = Horizon(start=START, periods=3, period_days=1)
    assert [h.period_of(day(k)) for k in range(-1, 5)] == [0, 0, 1, 2, 3, 4]


def test_period_crossing_a_leap_day() -> None:
    start = date(2028, 2, 26)
    assert period_of(date(2028, 2, 29), start, 7) == 0
    assert period_of(date(2028, 3, 3), start, 7) == 0
    assert period_of(date(2028, 3, 4), start, 7) == 1


def test_horizon_parses_iso_strings() -> None:
    h = Horizon.model_validate({"start": "2026-12-07", "periods": 6, "period_days": 7})
    assert h.start == START
    assert h.period_of(date(2026, 12, 21)) == 2


@given(start=starts, p=period_days, k=st.integers(min_value=0, max_value=20_000))
def test_period_of_is_floor_of_days_over_period_length(start: date, p: int, k: int) -> None:
    assert period_of(start + timedelta(days=k), start, p) == k // p
    assert (
        Horizon(start=start, periods=1, period_days=p).period_of(start + timedelta(days=k))
        == k // p
    )


@given(start=starts, p=period_days, k=st.integers(min_value=1, max_value=20_000))
def test_period_of_before_start_is_zero(start: date, p: int, k: int) -> None:
    assert period_of(start - timedelta(days=k), start, p) == 0


@given(start=starts, p=period_days, a=st.integers(-500, 5_000), b=st.integers(-500, 5_000))
def test_period_of_is_monotone(start: date, p: int, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert period_of(start + timedelta(days=lo), start, p) <= period_of(
        start + timedelta(days=hi), start, p
    )


# --- lead times ---


@pytest.mark.parametrize(
    ("days", "p", "expected"),
    [
        (0, 7, 0),
        (0, 1, 0),
        (1, 7, 1),
        (6, 7, 1),
        (7, 7, 1),  # exact multiple: no rounding up
        (8, 7, 2),
        (14, 7, 2),
        (15, 7, 3),
        (21, 7, 3),
        (3, 1, 3),
        (365, 366, 1),
        (732, 366, 2),
    ],
)
def test_lead_time_is_ceiling_of_days_over_period(days: int, p: int, expected: int) -> None:
    assert lead_time_periods(days, p) == expected
    assert Horizon(start=START, periods=1, period_days=p).lead_periods(days) == expected


@given(days=st.integers(min_value=0, max_value=100_000), p=period_days)
def test_lead_time_property(days: int, p: int) -> None:
    lead = lead_time_periods(days, p)
    assert lead == -(-days // p)  # exact integer ceiling
    if days == 0:
        assert lead == 0
    else:
        assert (lead - 1) * p < days <= lead * p


@given(n=st.integers(min_value=0, max_value=1_000), p=period_days)
def test_lead_time_of_exact_multiple(n: int, p: int) -> None:
    assert lead_time_periods(n * p, p) == n


# --- Horizon.date_of ---


def test_date_of_first_days() -> None:
    assert HORIZON.date_of(0) == START
    assert HORIZON.date_of(1) == date(2026, 12, 14)
    assert HORIZON.date_of(4) == date(2027, 1, 4)  # across the new year
    assert HORIZON.date_of(5) == date(2027, 1, 11)
    assert HORIZON.date_of(6) == date(2027, 1, 18)  # the horizon's end


@given(start=starts, p=period_days, t=st.integers(min_value=0, max_value=520))
def test_date_of_round_trips(start: date, p: int, t: int) -> None:
    h = Horizon(start=start, periods=520, period_days=p)
    first = h.date_of(t)
    assert first == start + timedelta(days=t * p)
    assert h.period_of(first) == t
    assert h.period_of(first + timedelta(days=p - 1)) == t
    if t > 0:
        assert h.period_of(first - timedelta(days=1)) == t - 1


# --- Agreement.price_at ---


def agreement(*breaks: tuple[int, float], unit_cost: float = 10.0) -> Agreement:
    return Agreement.model_validate(
        {
            "id": "AG",
            "supplier": "S",
            "sku": "A",
            "role": "primary",
            "location": "W",
            "unit_cost": unit_cost,
            "lead_time_days": 7,
            "price_breaks": [{"min_qty": q, "unit_cost": c} for q, c in breaks] if breaks else None,
        }
    )


@pytest.mark.parametrize("q", [0, 1, 50, 10_000])
def test_price_without_breaks_is_unit_cost(q: int) -> None:
    assert agreement().price_at(q) == 10.0


def test_price_with_empty_break_list_is_unit_cost() -> None:
    a = agreement()
    a.price_breaks = []
    assert a.price_at(100) == 10.0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0, 10.0),
        (1, 10.0),
        (9, 10.0),  # below the smallest break
        (10, 9.0),  # exactly at a break
        (49, 9.0),
        (50, 8.0),
        (99, 8.0),
        (100, 7.5),
        (1_000_000, 7.5),  # above the largest break
    ],
)
def test_price_is_the_break_with_the_largest_min_qty_not_above_q(q: int, expected: float) -> None:
    assert agreement((10, 9.0), (50, 8.0), (100, 7.5)).price_at(q) == expected


@pytest.mark.parametrize("q", [0, 9, 10, 49, 50, 99, 100, 250])
def test_price_does_not_depend_on_break_order(q: int) -> None:
    ordered = agreement((10, 9.0), (50, 8.0), (100, 7.5))
    shuffled = agreement((100, 7.5), (10, 9.0), (50, 8.0))
    assert shuffled.price_at(q) == ordered.price_at(q)


def test_price_is_all_units() -> None:
    # Reaching a break reprices every unit, not only those above min_qty.
    a = agreement((10, 9.0))
    assert 10 * a.price_at(10) == 90.0
    assert 9 * a.price_at(9) == 90.0


@given(
    q=st.integers(min_value=0, max_value=10_000),
    raw=st.dictionaries(
        st.integers(min_value=1, max_value=5_000),
        st.integers(min_value=0, max_value=1_000),
        max_size=6,
    ),
)
def test_price_at_matches_a_reference(q: int, raw: dict[int, int]) -> None:
    # Monotone breaks: a larger min_qty never costs more, none above unit_cost.
    prices = sorted((c / 100 for c in raw.values()), reverse=True)
    pairs = list(zip(sorted(raw), prices, strict=True))
    a = agreement(*pairs, unit_cost=10.0)
    applicable = [c for m, c in pairs if m <= q]
    assert a.price_at(q) == (applicable[-1] if applicable else 10.0)
