"""Pressure: what makes every user park at once — a store down, process memory or consumer lag over its
threshold. Probed every FT_FLOW_CHECK_SECONDS; the admission path also reports a failed store at once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import psutil

from backend.db.base import EventLog
from backend.errors import Unavailable
from backend.metrics import FLOW_PRESSURE
from backend.settings import Settings
from graph.base import GraphStore

log = logging.getLogger("ftel.flow")

PRESSURES = ("sql", "graph", "memory", "consumer_lag")


class Pressure:
    def __init__(
        self, settings: Settings, events: EventLog, graph: GraphStore, consumer_lag: Callable[[], int] | None = None
    ) -> None:
        self.settings = settings
        self.events = events
        self.graph = graph
        self.consumer_lag = consumer_lag  # entries not yet delivered to the consumer group (None: no streams)
        self.on: dict[str, bool] = dict.fromkeys(PRESSURES, False)

    def pressing(self) -> list[str]:
        return [name for name, on in self.on.items() if on]

    def set(self, name: str, on: bool = True) -> None:
        self.on[name] = on
        FLOW_PRESSURE.labels(name).set(1 if on else 0)

    def check(self) -> None:
        s = self.settings
        self.set("sql", not _reachable(self.events.ping))
        self.set("graph", not _reachable(self.graph.ping))
        rss_mb = psutil.Process().memory_info().rss / (1024 * 1024)
        self.set("memory", bool(s.flow_max_memory_mb) and rss_mb > s.flow_max_memory_mb)
        if self.consumer_lag is not None and s.flow_max_consumer_lag:
            try:
                self.set("consumer_lag", self.consumer_lag() > s.flow_max_consumer_lag)
            except Unavailable as exc:  # Redis down: the parking says so; the lag is unknown, keep the last answer
                log.debug("consumer lag unknown: %s", exc)


def _reachable(ping: Callable[[], None]) -> bool:
    try:
        ping()
        return True
    except Unavailable:
        return False
