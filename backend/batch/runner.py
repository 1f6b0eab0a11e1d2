"""The batch app's jobs as one schedule: each job runs under a lease (db/leases.py), so two batch processes
never run the same job at once, and a process killed mid-run loses its lease when it expires."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from backend.db.base import JobLeases
from backend.periodic import Periodic

log = logging.getLogger("ftel.batch")
T = TypeVar("T")


@dataclass(frozen=True)
class BatchJob:
    """`run` does one pass and returns True while more work waits (it is then run again at once)."""

    name: str
    every_seconds: float
    run: Callable[[], object]


@dataclass(frozen=True)
class JobRun:
    name: str
    ran: bool  # False: another process held the job's lease
    passes: int
    seconds: float


class Batch:
    def __init__(self, jobs: Sequence[BatchJob], leases: JobLeases, lease_seconds: float) -> None:
        self.jobs = list(jobs)
        self.leases = leases
        self.lease_seconds = lease_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.jobs]

    def run(self, job: BatchJob) -> JobRun:
        """One run of a job: every pass it has work for, while this process holds the job's lease (renewed
        before each pass)."""
        started, passes = time.monotonic(), 0
        if not self.leases.acquire(job.name, self.holder, self.lease_seconds):
            log.debug("%s: held by another batch process", job.name)
            return JobRun(job.name, False, 0, 0.0)
        try:
            while True:
                passes += 1
                if not job.run() or not self.leases.acquire(job.name, self.holder, self.lease_seconds):
                    break
        finally:
            self.leases.release(job.name, self.holder)
        seconds = time.monotonic() - started
        log.info("batch job %s: %d pass(es) in %.2f s", job.name, passes, seconds)
        return JobRun(job.name, True, passes, seconds)

    def exclusive(self, name: str, work: Callable[[], T]) -> tuple[bool, T | None]:
        """`work` under job `name`'s lease (a rebuild of what the job keeps): (False, None) while another
        process holds it."""
        if not self.leases.acquire(name, self.holder, self.lease_seconds):
            return False, None
        try:
            return True, work()
        finally:
            self.leases.release(name, self.holder)

    def run_all(self, names: Sequence[str] | None = None) -> list[JobRun]:
        """Each job (or the named ones) once, in order: `ftel batch --once`."""
        unknown = sorted(set(names or ()) - set(self.names))
        if unknown:
            raise ValueError(f"unknown batch jobs: {', '.join(unknown)} (there are: {', '.join(self.names)})")
        return [self.run(j) for j in self.jobs if names is None or j.name in names]

    def periodic(self) -> list[Periodic]:
        """The jobs as the process's periodic tasks (named batch-<job>)."""

        def task(job: BatchJob) -> Callable[[], None]:
            def run() -> None:  # None: the runner's next tick, not an immediate rerun (run() drained the work)
                self.run(job)

            return run

        return [Periodic(f"batch-{j.name}", j.every_seconds, task(j)) for j in self.jobs]
