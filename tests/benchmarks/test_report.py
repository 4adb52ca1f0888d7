"""`stockplan bench`: one run measures every method and writes the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.report import run


def test_report_measures_each_method_and_writes_markdown_json_and_plot(tmp_path: Path) -> None:
    records = run(["tiny"], [0, 1], ["greedy", "stockplan", "mip-highs"], {"tiny": 10}, tmp_path)
    assert len(records) == 6
    for seed in (0, 1):
        by = {r.method: r for r in records if r.seed == seed}
        assert by["greedy"].cost is not None and by["stockplan"].cost is not None
        assert by["stockplan"].cost <= by["greedy"].cost + 1e-6  # the solver starts from the greedy plan
        assert by["stockplan"].bound is not None and by["stockplan"].bound <= by["stockplan"].cost + 1e-6
        assert by["mip-highs"].gap_best is not None and by["mip-highs"].gap_best >= 0
        assert all(r.peak_mb > 10 for r in by.values())  # measured in the child process
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["records"]) == 6 and data["machine"]["cpus"] >= 1
    table = (tmp_path / "report.md").read_text()
    assert "| tiny | 10 | stockplan |" in table
    assert (tmp_path / "time_and_gap.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_command_rejects_an_unknown_family(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from stockplan.api.cli import main; main()", "bench", "--families", "huge",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown family 'huge'" in proc.stderr
    assert "Traceback" not in proc.stderr
