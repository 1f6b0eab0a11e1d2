"""The batch app's runner: a job runs its passes under its lease, and not at all while another process
holds it."""

from __future__ import annotations

import pytest

from backend.batch.runner import Batch, BatchJob


class Leases:
    """JobLeases in memory (the SQL one has its contract suite)."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}

    def acquire(self, job: str, holder: str, seconds: float) -> bool:
        if self.held.setdefault(job, holder) != holder:
            return False
        return True

    def release(self, job: str, holder: str) -> None:
        if self.held.get(job) == holder:
            del self.held[job]

    def holder(self, job: str) -> str | None:
        return self.held.get(job)


def test_a_job_runs_while_it_has_work_then_frees_its_lease() -> None:
    backlog = [3]

    def drain() -> bool:
        backlog[0] -= 1
        return backlog[0] > 0

    leases = Leases()
    batch = Batch([BatchJob("rollups", 60, drain)], leases, 300)
    run = batch.run(batch.jobs[0])
    assert (run.ran, run.passes, backlog[0]) == (True, 3, 0)
    assert leases.holder("rollups") is None


def test_a_job_held_by_another_process_does_not_run() -> None:
    ran: list[str] = []
    leases = Leases()
    leases.held["rollups"] = "other-process"
    batch = Batch([BatchJob("rollups", 60, lambda: ran.append("x"))], leases, 300)
    assert [r.ran for r in batch.run_all()] == [False]
    assert ran == [] and leases.holder("rollups") == "other-process"


def test_a_failing_pass_frees_the_lease_and_raises() -> None:
    def boom() -> bool:
        raise RuntimeError("store failed")

    leases = Leases()
    batch = Batch([BatchJob("fill", 60, boom)], leases, 300)
    with pytest.raises(RuntimeError):
        batch.run(batch.jobs[0])
    assert leases.holder("fill") is None


def test_unknown_job_names_are_refused() -> None:
    batch = Batch([BatchJob("rollups", 60, lambda: None)], Leases(), 300)
    with pytest.raises(ValueError, match="unknown batch jobs: nope"):
        batch.run_all(["nope"])


def test_periodic_tasks_do_not_ask_the_runner_to_rerun_at_once() -> None:
    batch = Batch([BatchJob("rollups", 60, lambda: False)], Leases(), 300)
    (task,) = batch.periodic()
    assert task.name == "batch-rollups" and task.interval == 60 and task.run() is None
