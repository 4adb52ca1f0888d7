"""The report of the review pages' benchmark (:mod:`benchmarks.ui_pages`): ``ui.json`` and ``ui.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .service_report import machine_line

YES, NO = "✓", "✗"


def _n(value: float | None, pattern: str = ".1f") -> str:
    return "—" if value is None else format(value, pattern)


def _kb(n_bytes: int | None) -> str:
    return "—" if n_bytes is None else f"{n_bytes / 1000:,.1f}"


def _mark(met: bool | None) -> str:
    return "—" if met is None else (YES if met else NO)


def _status(row: dict[str, Any]) -> str:
    if row.get("missing"):
        return f"missing ({row['status']})"
    warm = [s for s in row.get("warm_statuses", []) if s != row["status"]]
    return str(row["status"]) + (f" (warm: {', '.join(map(str, warm))})" if warm else "")


def _ignored_queries(pages: list[dict[str, Any]]) -> list[str]:
    """Addresses with a query whose answer is byte for byte the page without it: the query is probably ignored."""
    by_url = {p["url"]: p for p in pages if not p.get("missing")}
    notes = []
    for p in pages:
        base = by_url.get(p["url"].split("?", 1)[0])
        if "?" in p["url"] and base is not None and base is not p and not p.get("missing") \
                and p["bytes"] == base["bytes"] and "compare" not in p["url"]:
            notes.append(f"«{p['page']}» answers exactly the bytes of «{base['page']}»: its query is probably "
                         "ignored.")
    return notes


def family_lines(fam: dict[str, Any], targets: dict[str, float]) -> list[str]:
    """One family's section: the pages' table, the bulk POST, Chromium, and the targets with ✓/✗."""
    ms, kb, fcp_target = targets["server_ms"], targets["html_kb"], targets["first_paint_ms"]
    limits = " s and ".join(f"{t:g}" for t in fam.get("time_limits", []))
    status = ", ".join(str(s) for s in fam.get("plan_status", []))
    lines = [f"## {fam['name']}: {fam['orders']:,} orders", "",
             f"Plans {', '.join(p[:8] for p in fam['plans'])} (oldest first; the newer supersedes the older)"
             + (f", solved with time limits {limits} s ({status})" if limits else "")
             + f"; the newer has {fam['purchase_orders']:,} purchase orders; first supplier "
               f"`{fam.get('supplier') or '—'}`.", "",
             f"Server time: in-process (`TestClient`), wall time of one request; cold = the address's first "
             f"request, median and max over the warm ones after it. Target per page: median ≤ {ms:g} ms and "
             f"HTML ≤ {kb:g} KB. «compare»: every request is timed as the first one for its pair of plans (the "
             "service's memo of compared pairs is cleared before each); «compare, orders page 2» is paging, "
             "which the memo serves.", "",
             "| page | address | status | KB | cold ms | median ms | max ms | target |",
             "|---|---|---|---|---|---|---|---|"]
    for row in fam["pages"]:
        lines.append(f"| {row['page']} | `{row.get('address', row['url'])}` | {_status(row)} | "
                     f"{'—' if row.get('missing') else _kb(row['bytes'])} | {_n(row['cold_ms'])} | "
                     f"{_n(row.get('median_ms'))} | {_n(row.get('max_ms'))} | "
                     f"{'missing' if row.get('missing') else _mark(row.get('met'))} |")
    lines.append("")
    bulk = fam["bulk"]
    if bulk.get("missing"):
        lines.append(f"Bulk decision `POST {bulk['url'].replace(fam['plans'][-1], '{plan}')}`: missing "
                     f"(answered {bulk['status']}).")
    elif bulk.get("status") is None:
        lines.append(f"Bulk decision: not measured ({bulk.get('note', '')}).")
    else:
        lines.append(f"Bulk decision `POST {bulk['url'].replace(fam['plans'][-1], '{plan}')}` approving "
                     f"{bulk['batch']} purchase orders at once (redirect not followed): status "
                     f"{', '.join(map(str, bulk.get('statuses', [bulk['status']])))}; cold {_n(bulk.get('cold_ms'))}"
                     f" ms, median {_n(bulk.get('median_ms'))} ms, max {_n(bulk.get('max_ms'))} ms "
                     "(a write, not a page: no time target; it evaluates the whole approved set first).")
    lines.append("")
    br = fam["browser"]
    if "skipped" in br:
        lines += [f"Chromium: not measured — {br['skipped']}.", ""]
    else:
        tried = len(br["samples"])
        lines += [f"Chromium (headless, {br['viewport']['width']}×{br['viewport']['height']}, `stockplan serve` on "
                  f"the same database, a fresh browser context per load), the plan page, median of "
                  f"{br.get('painted_loads', tried)} of {tried} loads: first contentful paint "
                  f"{_n(br['fcp_ms'], '.0f')} ms, DOMContentLoaded {_n(br['dcl_ms'], '.0f')} ms, load "
                  f"{_n(br['load_ms'], '.0f')} ms (first byte {_n(br['ttfb_ms'], '.0f')} ms; times from the start "
                  "of the navigation, `performance.getEntriesByType`)."
                  + (f" A load did not finish: {br['errors'][0]}" + (" (the loads left were not tried)."
                     if tried < br["loads"] else ".") if br.get("errors") else ""), ""]
    present = [r for r in fam["pages"] if not r.get("missing")]
    missing = [r["page"] for r in fam["pages"] if r.get("missing")]
    slowest = max(present, key=lambda r: r.get("median_ms") or 0.0, default=None)
    largest = max(present, key=lambda r: r["bytes"], default=None)
    lines += ["| target | measured | |", "|---|---|---|"]
    if slowest is not None:
        ok = all(r.get("median_ms") is not None and r["median_ms"] <= ms for r in present)
        over = [r["page"] for r in present if (r.get("median_ms") or 0.0) > ms]
        lines.append(f"| each page's server time ≤ {ms:g} ms (median) | slowest: {slowest['page']}, "
                     f"{_n(slowest.get('median_ms'))} ms" + (f"; over: {', '.join(over)}" if over else "")
                     + f" | {_mark(ok)} |")
    cold = [r for r in present if (r.get("cold_ms") or 0.0) > ms]
    if cold:  # said as measured: the first request of a page may do work its later requests reuse
        lines.append(f"| first (cold) request of each page ≤ {ms:g} ms (not a target of the issue) | over: "
                     + ", ".join(f"{r['page']} {_n(r['cold_ms'])} ms" for r in cold) + " | — |")
    if largest is not None:
        over = [r["page"] for r in present if r["bytes"] > kb * 1000]
        lines.append(f"| each page's HTML ≤ {kb:g} KB | largest: {largest['page']}, {_kb(largest['bytes'])} KB"
                     + (f"; over: {', '.join(over)}" if over else "") + f" | {_mark(not over)} |")
    if "skipped" not in br:
        lines.append(f"| plan page's first screen < {fcp_target:g} ms in Chromium (first contentful paint) | "
                     f"{_n(br['fcp_ms'], '.0f')} ms | {_mark(br.get('met'))} |")
    if missing:
        lines.append(f"| pages built | missing: {', '.join(missing)} | {NO} |")
    lines.append("")
    lines += [f"Note: {n}" for n in _ignored_queries(fam["pages"])]
    return [*lines, ""] if lines[-1] else lines


def write_ui_report(result: dict[str, Any], out: Path) -> None:
    """Write ``ui.json`` (everything, samples included) and ``ui.md`` (a section per family) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui.json").write_text(json.dumps(result, indent=1) + "\n")
    st = result["settings"]
    lines = ["# Review pages: size and speed", "", machine_line(result), "",
             f"{st['repeats']} warm requests per address after one cold; {st['loads']} Chromium loads; plans of "
             f"generated problems (seed {st['seed']}), stored as `stockplan batch` stores them. "
             "Command: `python -m benchmarks.ui_pages --out benchmarks/results`.", ""]
    for fam in result["families"]:
        lines += family_lines(fam, st["targets"])
    (out / "ui.md").write_text("\n".join(lines).rstrip("\n") + "\n")
