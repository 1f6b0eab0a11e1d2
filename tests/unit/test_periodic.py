"""The one runner of background loops: interval, run-again-while-busy, errors never end a loop, stop."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest

from backend.errors import SqlUnavailable
from backend.periodic import Periodic, PeriodicRunner


def test_a_task_runs_every_interval_and_again_at_once_while_it_has_more_work() -> None:
    runs: list[float] = []
    backlog = [3]  # the first tick finds three batches waiting

    def catch_up() -> bool:
        runs.append(time.monotonic())
        if backlog[0]:
            backlog[0] -= 1
            return True
        return False

    runner = PeriodicRunner([Periodic("projector", 0.3, catch_up)])
    runner.start()
    deadline = time.monotonic() + 10
    while len(runs) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    # the first tick runs 4 times (3 busy, 1 idle); only then does the loop wait a whole interval
    assert len(runs) >= 5 and next(i for i, gap in enumerate(gaps) if gap >= 0.25) == 3


def test_failures_are_logged_and_retried_never_the_end_of_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    calls = {"outage": 0, "bug": 0}

    def outage() -> None:
        calls["outage"] += 1
        raise SqlUnavailable("SQL database unavailable: connection refused")

    def bug() -> None:
        calls["bug"] += 1
        raise KeyError("oops")

    runner = PeriodicRunner([Periodic("outage", 0.05, outage), Periodic("bug", 0.05, bug)])
    with caplog.at_level(logging.WARNING, logger="ftel.periodic"):
        runner.start()
        time.sleep(0.35)
        runner.stop()
    assert calls["outage"] >= 3 and calls["bug"] >= 3
    warnings = [r for r in caplog.records if r.name == "ftel.periodic" and r.levelno == logging.WARNING]
    errors = [r for r in caplog.records if r.name == "ftel.periodic" and r.levelno == logging.ERROR]
    assert warnings and all("store unavailable" in r.getMessage() and r.exc_info is None for r in warnings)
    assert errors and all("bug failed" in r.getMessage() and r.exc_info is not None for r in errors)


def test_a_task_with_no_interval_never_runs_and_stop_waits_for_a_running_task() -> None:
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    never: list[int] = []
    runner = PeriodicRunner([Periodic("slow", 0.01, slow), Periodic("off", 0, lambda: never.append(1))])
    assert runner.names == ["slow"]
    runner.start()
    assert started.wait(2)
    runner.stop()
    assert finished.is_set() and never == []
