"""The README's main command: ``stockplan serve --example NAME`` solves the example, prints the review page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import free_port


def test_serve_with_the_bundled_example_prints_its_review_page(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from stockplan.api.cli import main; main()", "serve", "--example", "mixed-small",
         "--port", str(port), "--database-url", f"sqlite:///{tmp_path / 'stockplan.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        address = None
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "serve exited before printing the review page"
            found = re.search(r"review page: (http://\S+)", line)
            address = found.group(1) if found else None
        assert address is not None
        for _ in range(100):  # the server starts after printing
            try:
                page = httpx.get(address, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page.status_code == 200 and "2,108.93" in page.text
        plan_id = address.rsplit("/", 1)[1]
        plan = httpx.get(f"http://127.0.0.1:{port}/v1/plans/{plan_id}", timeout=5).json()
        assert plan["outcome"] == "optimal" and abs(plan["cost"] - 2108.93) < 1e-6
    finally:
        proc.terminate()
        proc.wait(30)
