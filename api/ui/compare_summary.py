"""What changed between two plans, per order and per SKU: the diff of their compare facts.

The figures themselves (what each order's and SKU's money is made of) are worked out
when a plan is stored: :mod:`stockplan.api.compare_facts`.
"""

from __future__ import annotations

from typing import Any

from stockplan.api.compare_facts import OrderOutcome, SkuFigures, unpack

#: Money under half a cent is no change.
CENT = 0.005


def _delta(a: float | None, b: float | None, a_there: bool, b_there: bool) -> float | None:
    """B − A, a side without the entity counting 0; None when a side present does not know it."""
    if (a_there and a is None) or (b_there and b is None):
        return None
    return (b or 0.0) - (a or 0.0)


def _sort_key(row: dict[str, Any]) -> tuple[float, str]:
    total = row["total"]
    return (-abs(total) if total is not None else 0.0, row["id"])


def _money_differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) >= CENT


def order_changes(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    """One row per order whose outcome differs (or that one side only has), largest |cost change| first.

    ``a``, ``b``: each order's packed :class:`OrderOutcome`; equal strings are no change.
    """
    rows = []
    for oid in {k for k, _ in a.items() ^ b.items()}:
        sa, sb = a.get(oid), b.get(oid)
        oa = OrderOutcome(*unpack(sa)) if sa is not None else None
        ob = OrderOutcome(*unpack(sb)) if sb is not None else None
        if oa is not None and ob is not None and (
                (oa.status, oa.promised, oa.by_due, oa.lost) == (ob.status, ob.promised, ob.by_due, ob.lost)
                and not _money_differs(oa.lateness, ob.lateness) and not _money_differs(oa.shipping, ob.shipping)):
            continue
        lateness = _delta(oa.lateness if oa else None, ob.lateness if ob else None, oa is not None, ob is not None)
        shipping = (ob.shipping if ob else 0.0) - (oa.shipping if oa else 0.0)
        customer = ob.customer if ob is not None else oa.customer if oa is not None else "—"
        rows.append({"id": oid, "customer": customer, "a": oa, "b": ob,
                     "lateness": lateness, "shipping": shipping,
                     "total": None if lateness is None else lateness + shipping})
    return sorted(rows, key=_sort_key)


def sku_changes(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    """One row per SKU whose decisions or figures differ, largest |spend + lateness + shipping change| first.

    ``a``, ``b``: each SKU's packed :class:`SkuFigures`; equal strings are no change.
    """
    rows = []
    for sku in {k for k, _ in a.items() ^ b.items()}:
        sa, sb = a.get(sku), b.get(sku)
        fa = SkuFigures(*unpack(sa)) if sa is not None else None
        fb = SkuFigures(*unpack(sb)) if sb is not None else None
        if fa is not None and fb is not None and fa.decisions == fb.decisions and (
                (fa.bought, fa.shipped, fa.lost) == (fb.bought, fb.shipped, fb.lost)
                and not any(_money_differs(x, y) for x, y in ((fa.spend, fb.spend), (fa.lateness, fb.lateness),
                                                             (fa.shipping, fb.shipping)))):
            continue
        there = (fa is not None, fb is not None)
        spend = _delta(fa.spend if fa else None, fb.spend if fb else None, *there)
        lateness = _delta(fa.lateness if fa else None, fb.lateness if fb else None, *there)
        shipping = (fb.shipping if fb else 0.0) - (fa.shipping if fa else 0.0)
        total = None if spend is None or lateness is None else spend + lateness + shipping
        rows.append({"id": sku, "a": fa, "b": fb, "spend": spend, "lateness": lateness, "shipping": shipping,
                     "total": total})
    return sorted(rows, key=_sort_key)


def sum_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows]
    return None if any(v is None for v in values) else sum(values)
