"""Acknowledge after the store, merge right after: the projector's merge thread, its bounded hand-over, what
happens when the graph fails, and what reads say about events not merged yet. On the all-in-one's own
stores (SQLite and the embedded graph) in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap import Process, Role, build
from backend.demo import seed_events
from backend.domain.events import validate_events
from backend.domain.ingest import _Item, _new_event
from backend.errors import GraphError, NotFound
from backend.metrics import PROJECTION_DEFERRED
from backend.settings import Settings
from graph.base import GraphBatch
from tests.conftest import wait_for


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Process]:
    settings = Settings(data_dir=tmp_path, projector_grace_seconds=0)
    p = build(settings, Role.maintenance)
    yield p
    p.close()


def backlog(p: Process) -> int:
    return p.events.projection_backlog()[0]


def test_admit_answers_once_stored_and_the_thread_merges_right_after(process: Process) -> None:
    process.projector.start()
    result = process.ingest.admit(seed_events("A"), "rest:x", None)
    assert result.accepted == len(seed_events("A")) and result.buffered == 0
    assert wait_for(lambda: backlog(process) == 0 and process.projector.queued() == 0, timeout=20)
    detail = process.queries.with_projection("A", process.queries.trace_detail)
    assert detail["status"] == "ended" and detail["summary"]["dropped"] == 2
    assert detail["projection"]["pending_events"] == 0
    state = process.projector.state()
    assert (state.pending, state.queued, state.lag_seconds) == (0, 0, 0.0)


def test_wait_for_graph_merges_before_admit_returns(process: Process) -> None:
    process.projector.start()
    process.ingest.admit(seed_events("B"), "rest:x", None, wait_for_graph=True)
    assert backlog(process) == 0  # no waiting: merged in the call
    assert process.graph.trace("B") is not None


def test_a_full_hand_over_leaves_events_in_the_log_for_the_catch_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, projector_grace_seconds=0, projector_queue_events=5)
    p = build(settings, Role.maintenance)
    try:
        p.projector.start()
        deferred = PROJECTION_DEFERRED._value.get()
        events = seed_events("C")
        assert p.ingest.admit(events, "rest:x", None).accepted == len(events)
        assert PROJECTION_DEFERRED._value.get() - deferred == len(events)  # more than 5: not handed over
        assert p.projector.queued() == 0 and backlog(p) == len(events)
        while p.projector.catch_up():
            pass
        assert backlog(p) == 0 and p.graph.trace("C") is not None
    finally:
        p.close()


class FailingGraph:
    """The real store, with merges failing while `down` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = True

    def apply(self, batch: GraphBatch) -> None:
        if self.down:
            raise GraphError("graph down (test)")
        self.inner.apply(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failing_graph_costs_the_sender_nothing_and_the_catch_up_completes_the_graph(process: Process) -> None:
    graph = FailingGraph(process.graph)
    process.projector.graph = graph  # type: ignore[assignment]
    deferred: list[bool] = []
    process.projector.on_deferred = lambda: deferred.append(True)
    process.projector.start()
    result = process.ingest.admit(seed_events("D"), "rest:x", None)
    assert result.accepted == len(seed_events("D"))  # stored and acknowledged while the graph is down
    assert wait_for(lambda: deferred, timeout=10)  # the policy heard of it (flow control's graph pressure)
    assert process.projector.queued() == 0 and backlog(process) == len(seed_events("D"))
    with pytest.raises(NotFound, match="stored events not merged into the graph yet"):
        process.queries.with_projection("D", process.queries.trace_detail)
    graph.down = False
    while process.projector.catch_up():
        pass
    assert backlog(process) == 0
    assert process.queries.with_projection("D", process.queries.trace_graph)["projection"]["pending_events"] == 0


def test_close_merges_what_the_thread_holds(process: Process) -> None:
    process.projector.start()
    for trace in ("E1", "E2", "E3"):
        process.ingest.admit(seed_events(trace), "rest:x", None)
    process.projector.close()
    assert not process.projector.running
    assert backlog(process) == 0
    assert all(process.graph.trace(t) is not None for t in ("E1", "E2", "E3"))


def test_without_the_thread_admit_merges_at_once(process: Process) -> None:
    """Commands (and processes that do not serve) have no merge thread: admit merges before it returns."""
    assert not process.projector.running
    process.ingest.admit(seed_events("F"), "rest:x", None)
    assert backlog(process) == 0 and process.graph.trace("F") is not None


def test_a_full_buffer_pool_is_folded_and_the_merge_goes_through(tmp_path: Path) -> None:
    """LadybugDB keeps the write-ahead log's pages in its buffer pool until they are folded into the database:
    with a small pool and a long log, a merge finds the pool full. The store folds the log and merges again,
    so no merge fails for it (a 64 MiB pool with the log folded only at 64 MiB overflowed at the 15th merge of
    5,000 events, 75,000 events in, without the fold)."""
    from backend.domain.events import validate_events
    from backend.domain.projection import StoredEvent, project
    from bench.workload import seed_mix
    from graph.embedded import EmbeddedGraphStore

    events = [e for e in seed_mix(200_000) if e["type"] != "log"][:80_000]
    accepted, _ = validate_events(events, "bench", datetime.now(UTC))
    stored = [StoredEvent(n, a.envelope, a.envelope.trace, a.time_text) for n, a in enumerate(accepted)]
    store = EmbeddedGraphStore(tmp_path / "graph", buffer_mb=64, checkpoint_mb=64)
    try:
        for start in range(0, len(stored), 5000):
            store.apply(project(stored[start : start + 5000]).batch)
        nodes = {ref.key for a in accepted for ref, _ in a.envelope.nodes()}
        found = store._read("MATCH (n:File:Data:Sink) RETURN count(n) AS c", {})[0]["c"]
        assert found == len(nodes)
    finally:
        store.close()


def test_a_redelivered_batch_completes_what_a_crash_left_unmerged(process: Process) -> None:
    """A worker killed after storing and before its merge thread merged: the redelivered entries are all
    duplicates, and the thread merges the stored copies at once (not after the catch-up's grace)."""
    process.projector.grace_seconds = 3600  # the catch-up would not touch them for an hour
    accepted, _ = validate_events(seed_events("G"), "ft:s:x", datetime.now(UTC))
    process.events.insert(
        [_new_event(_Item(ev, "ft:s:x", None), None) for ev in accepted]
    )  # what the killed one stored
    assert backlog(process) == len(accepted) and process.graph.trace("G") is None
    process.projector.start()
    again = process.ingest.admit(seed_events("G"), "ft:s:x", None)
    assert again.accepted == 0 and again.duplicates == len(accepted)
    assert wait_for(lambda: backlog(process) == 0 and process.projector.queued() == 0, timeout=20)
    assert process.graph.trace("G") is not None
