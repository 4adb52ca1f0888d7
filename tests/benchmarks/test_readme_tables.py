"""The README's benchmark tables are the committed reports' tables, row for row."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def table_rows(text: str, header_start: str) -> list[str]:
    """The rows of the first markdown table whose header row starts with ``header_start``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            rows = []
            for row in lines[i:]:
                if not row.startswith("|"):
                    break
                rows.append(row.strip())
            return rows
    return []


def test_the_readme_shows_the_committed_engine_benchmark() -> None:
    report = table_rows((RESULTS / "report.md").read_text(), "| family | orders |")
    assert report, "benchmarks/results/report.md has no results table"
    assert table_rows((ROOT / "README.md").read_text(), "| family | orders |") == report


def test_the_engine_report_names_the_commit_it_ran_on() -> None:
    head = (RESULTS / "report.md").read_text().splitlines()[0]
    assert "commit " in head, head
