"""The one runner of background loops: named tasks, each on a thread of its own, run every `interval`
seconds until stopped. A task that returns a true value has more work waiting and runs again at once
(the projector catching up). A store outage (an `Unavailable` error) is logged as a warning once, retried
on every tick, and its end is logged too; anything else is logged with its traceback and retried: a loop
never dies.

Which task runs in which process is the composition root's table (backend/bootstrap); ARQ cron runs
only the jobs that must run once per cluster (backend/worker/main.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backend.errors import Unavailable

log = logging.getLogger("ftel.periodic")


@dataclass(frozen=True)
class Periodic:
    name: str
    interval: float  # seconds between runs; 0 or less: the task is not run
    run: Callable[[], object]


class PeriodicRunner:
    def __init__(self, tasks: Sequence[Periodic] = ()) -> None:
        self.tasks = [t for t in tasks if t.interval > 0]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failing: set[str] = set()  # tasks whose last run met an unavailable store

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def start(self) -> None:
        if self._threads:
            return
        for task in self.tasks:
            thread = threading.Thread(target=self._loop, args=(task,), name=f"ftel-{task.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, task: Periodic) -> None:
        while not self._stop.wait(task.interval):
            self.run_once(task)

    def run_once(self, task: Periodic) -> None:
        try:
            while task.run() and not self._stop.is_set():
                pass
        except Unavailable as exc:  # said once per outage, not on every tick
            level = logging.DEBUG if task.name in self._failing else logging.WARNING
            log.log(level, "%s: store unavailable, will retry: %s", task.name, exc)
            self._failing.add(task.name)
            return
        except Exception:
            log.exception("%s failed; will retry", task.name)
            return
        if task.name in self._failing:
            self._failing.discard(task.name)
            log.info("%s: running again", task.name)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every task to stop and wait for the ones running (each finishes its current run)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()
