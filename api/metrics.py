"""Prometheus metrics of one app: requests by route and status, jobs by state, solve seconds, running jobs' progress."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from stockplan.api import services

log = logging.getLogger("stockplan.api")


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

    def __init__(self, app_state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("stockplan_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.solve_seconds = Histogram("stockplan_solve_seconds", "Seconds per finished solve job",
                                       buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600), registry=self.registry)
        state = app_state

        class _Jobs:
            def collect(self) -> Iterator[GaugeMetricFamily]:
                g = GaugeMetricFamily("stockplan_jobs", "Jobs by state", labels=["state"])
                try:
                    with state.sessions() as s:
                        counts = services.jobs_by_state(s)
                        running = services.running_progress(s)
                except SQLAlchemyError:  # the database is down: serve the other metrics anyway
                    log.warning("jobs gauge skipped: the database is unreachable")
                    return
                for name, n in counts.items():
                    g.add_metric([name], n)
                yield g
                yield from _progress_gauges(running)

        self.registry.register(_Jobs())


def _progress_gauges(running: list[tuple[str, dict[str, Any]]]) -> Iterator[GaugeMetricFamily]:
    """Per running job: best cost so far, bound, gap and seconds, labelled with the job and its phase."""
    families = {key: GaugeMetricFamily(f"stockplan_job_{key}", text, labels=["job", "phase"])
                for key, text in (("best_cost", "Best plan cost so far of a running job"),
                                  ("bound", "Proven lower bound so far of a running job"),
                                  ("gap", "Relative gap so far of a running job"),
                                  ("elapsed_seconds", "Seconds a running job has solved"))}
    for job_id, prog in running:
        for key, family in families.items():
            value = prog.get("elapsed" if key == "elapsed_seconds" else key)
            if isinstance(value, int | float):
                family.add_metric([job_id, str(prog.get("phase", ""))], float(value))
    yield from families.values()


__all__ = ["Metrics"]
