"""Process trees that cannot outlive their owner: parent-death signals and process groups.

Every process the solver or the service starts (a job's worker, the
decomposition's pool workers, an isolated MIP, the CLI's solve) calls
:func:`die_with_parent`, so that a ``kill -9`` anywhere up the tree takes its
children with it within moments; a job's worker leads its own process group
(:func:`lead_process_group`) so that cancel and the watchdog reach every process
of that job at once with :func:`signal_group`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Linux: this process gets SIGKILL when the thread that started it ends (``kill -9`` included).

    ``parent_pid`` closes the race of a parent that died before the call: the
    process then exits at once instead of living on as an orphan.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def lead_process_group() -> None:
    """Make this process the leader of a new process group (its pid is the group id)."""
    with contextlib.suppress(OSError):  # already a group or session leader
        os.setpgid(0, 0)


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` or, when it leads none, to ``pid`` alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """Pids of the live processes in group ``pgid`` (Linux ``/proc``), zombies excluded."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out
