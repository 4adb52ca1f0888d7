"""The server of the service benchmarks: one real ``stockplan serve`` on 127.0.0.1, as :class:`ServiceProcess`.

With a fresh SQLite database, started without a shell and stopped, with the worker processes
it started, when the measurement ends. Used by :mod:`benchmarks.service_measure`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def http_client(base_url: str, timeout: float = 60.0) -> httpx.Client:
    """A client of the service that ignores proxy settings of the environment (loopback only)."""
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)


class ServiceProcess:
    """One ``stockplan serve`` on 127.0.0.1 with a fresh SQLite database (or a given one), as a context manager.

    Parameters
    ----------
    workdir : Path
        Where the database and the server's log go (the server's working directory).
    warm : bool
        ``STOCKPLAN_WARM_WORKERS``: warm worker processes (True) or a fresh process per job.
    workers : int
        ``--workers``: jobs solved at once.
    startup_timeout : float
        Seconds to wait for ``/healthz`` before giving up.
    database : Path, optional
        An existing SQLite file to serve (default: a fresh one in ``workdir``).

    Notes
    -----
    The server is started without a shell (its pid is the server's), with every
    ``STOCKPLAN_*`` variable of the environment removed. On exit it gets SIGTERM
    (SIGKILL after 30 s); worker processes it started that are still alive after it
    has gone are killed by their pids.
    """

    def __init__(self, workdir: Path, warm: bool, workers: int = 2, startup_timeout: float = 90.0,
                 database: Path | None = None) -> None:
        self.workdir, self.warm, self.workers, self.startup_timeout = workdir, warm, workers, startup_timeout
        self.database = database
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.log_path = workdir / "server.log"
        self._spawned: set[int] = set()

    def __enter__(self) -> ServiceProcess:
        for attempt in range(3):  # a port taken between free_port() and the bind: try another
            if self._start(attempt):
                return self
        raise RuntimeError(f"the server did not start; its log:\n{self.log()[-3000:]}")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _start(self, attempt: int) -> bool:
        port = free_port()
        mode = "warm" if self.warm else "cold"
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = self.workdir / f"server-{mode}-{port}.log"
        database = self.database or self.workdir / f"service-{mode}-{port}.db"
        args = [sys.executable, "-m", "stockplan.api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--database-url", f"sqlite:///{database}", "--workers", str(self.workers)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPLAN_")}
        env.update(STOCKPLAN_WARM_WORKERS=str(self.warm).lower(), PYTHONUNBUFFERED="1", COLUMNS="200")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        with http_client(self.base, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/healthz").status_code == 200:
                        return True
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server on {self.base} did not answer /healthz in {self.startup_timeout:g} s")

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, timeout: float = 60.0) -> httpx.Client:
        """A client of this server."""
        return http_client(self.base, timeout)

    def stop(self) -> None:
        """Stop the server, then any worker process it started that outlived it."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self._spawned.update(_children(proc.pid))
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for pid in self._spawned:  # only this server's children, and only if still what they were
            if "multiprocessing" in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.proc = None
