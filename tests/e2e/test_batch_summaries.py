"""The summaries and fill jobs as use cases on both stacks (embedded graph + SQLite, Neo4j + PostgreSQL), on a
fixed clock: the seed scenario plus a trace without trace.ended (idle-ended after the idle time) and one whose
trace.started comes late (user_missing until then, its fills corrected after); every node of the seed trace
shows its user after the fill; trace reads take the stored summary while it is current."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.batch.fill import Fill
from backend.batch.summaries import Summaries
from backend.bootstrap import open_engine, open_graph, wire_ingest
from backend.db.accounts import SqlAccounts
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.summaries import SqlTraceSummaries
from backend.demo import seed_events
from backend.domain.events import format_time
from backend.domain.ingest import Ingest
from backend.domain.queries import Queries
from backend.domain.summaries import TraceRules
from backend.settings import GraphBackend, Settings
from graph.base import GraphStore, TraceFilter
from tests.stream_fixtures import rekeyed


@dataclass
class Stack:
    ingest: Ingest
    graph: GraphStore
    store: SqlTraceSummaries
    queries: Queries
    summaries: Summaries
    fill: Fill
    clock: list[datetime]

    def send(self, events: list[dict[str, Any]]) -> None:
        result = self.ingest.admit(events, "rest:test", None, wait_for_graph=True)
        assert not result.rejected

    def drain(self, job: Callable[[], bool]) -> int:
        passes = 1
        while job():
            passes += 1
        return passes


@pytest.fixture(params=["embedded+sqlite", "neo4j+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "embedded+sqlite":
        settings = Settings(data_dir=tmp_path, graph=GraphBackend.embedded)
    else:
        conf = request.getfixturevalue("neo4j_conf")
        settings = Settings(
            data_dir=tmp_path,
            database_url=request.getfixturevalue("pg_url"),
            graph=GraphBackend.neo4j,
            neo4j_uri=conf["uri"],
            neo4j_user=conf["user"],
            neo4j_password=conf["password"],
        )
    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    graph = open_graph(settings)  # no clear(): the keys are this test's own on a shared Neo4j
    closers: list[tuple[str, Callable[[], Any]]] = []
    events = SqlEventLog(engine)
    ingest, _ = wire_ingest(settings, events, graph, SqlAccounts(engine), closers, flow=False)
    clock = [datetime.now(UTC) + timedelta(minutes=1)]
    rules = TraceRules(idle=timedelta(minutes=60), grace=timedelta(minutes=30), clock=lambda: clock[0])
    store = SqlTraceSummaries(engine)
    yield Stack(
        ingest,
        graph,
        store,
        Queries(graph, events, summaries=store, rules=rules),
        Summaries(store, graph, rules),
        Fill(store, graph, rules),
        clock,
    )
    ingest.projector.close()
    graph.close()
    engine.dispose()


def trace_of(keys: str, name: str, **kw: Any) -> list[dict[str, Any]]:
    return rekeyed(seed_events(name, **kw), f"-{keys}")


def listed(stack: Stack, **filt: Any) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in stack.queries.list_traces(TraceFilter(**filt), 500, None)["items"]}


def test_stored_summaries_idle_ended_traces_and_filled_users(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    run = uuid.uuid4().hex[:8]
    a, b, c = f"A-{run}", f"B-{run}", f"C-{run}"
    now = stack.clock[0] - timedelta(minutes=1)
    stack.send(trace_of(a, a, user="team-7"))  # the seed scenario, 2026-01-01, ended
    # B: the seed scenario five minutes ago, without trace.ended
    stack.send(
        [e for e in trace_of(b, b, user="team-7", start=now - timedelta(minutes=5)) if e["type"] != "trace.ended"]
    )
    # C: two hours ago, no trace.started nor trace.ended; its first file names a user of its own
    late = [
        e for e in trace_of(c, c, start=now - timedelta(hours=2)) if e["type"] not in ("trace.started", "trace.ended")
    ]
    late[0]["user"] = "early"
    stack.send(late)

    computed = listed(stack, q=run)  # before any job: computed from the graph
    assert {k: (t["status"], t["summary"]["user_missing"]) for k, t in computed.items()} == {
        a: ("ended", False),
        b: ("open", False),
        c: ("idle-ended", True),  # its last event is two hours old; trace.started never came
    }
    assert computed[a]["summary"] == {
        "files": 3,
        "dropped": 2,
        "unconverted": 0,
        "data": 6,
        "outputs": 1,
        "drop_reasons": {"checksum mismatch (see log)": 1, "header row missing (see log)": 1},
        "user_missing": False,
    }

    assert stack.drain(stack.summaries.run) >= 1
    rows = {k: stack.store.get(k) for k in (a, b, c)}
    assert {k: (r.status, r.user_id, r.files, r.data, r.user_missing) for k, r in rows.items() if r} == {
        a: ("ended", "team-7", 3, 6, False),
        b: ("open", "team-7", 3, 6, False),
        c: ("idle-ended", "early", 3, 6, True),
    }
    assert rows[a] is not None and rows[a].duration_seconds == 19.0  # 20 events a second apart
    assert stack.drain(stack.summaries.run) == 1  # nothing new: one empty pass

    # reads take the stored rows now: the graph's counts are not asked for
    def no_counts(keys: list[str]) -> list[dict[str, Any]]:
        raise AssertionError(f"counted {keys} again")

    monkeypatch.setattr(stack.graph, "trace_counts", no_counts)
    assert listed(stack, q=run) == computed
    assert stack.queries.trace_detail(a)["summary"] == computed[a]["summary"]

    stack.clock[0] = now + timedelta(hours=2)  # B's idle time is over
    assert stack.drain(stack.summaries.run) == 1
    assert (stack.store.get(b) or rows[b]).status == "idle-ended"
    assert listed(stack, q=run)[b]["status"] == "idle-ended"
    assert set(listed(stack, q=run, status="idle-ended")) == {b, c}
    assert set(listed(stack, q=run, status="ended")) == {a}
    assert listed(stack, q=run, status="open") == {}
    monkeypatch.undo()

    stack.drain(stack.fill.run)
    nodes = {k: {n["key"]: n["user"] for n in stack.graph.trace_graph(k).nodes} for k in (a, b, c)}
    assert set(nodes[a].values()) == {"team-7"} and len(nodes[a]) == 10  # every node of the seed trace
    assert set(nodes[b].values()) == {"team-7"}
    assert set(nodes[c].values()) == {"early"}
    assert (stack.store.get(c) or rows[c]).user_missing
    fills = {f.node_key: f for f in stack.store.fills([a, b, c])}
    assert len(fills) == 29 and f"File1-{c}" not in fills  # C's File1 named its user itself
    assert {(f.trace_key, f.user_id, f.previous_user) for f in fills.values() if f.trace_key == a} == {
        (a, "team-7", None)
    }
    assert not stack.fill.run()  # a second pass fills nothing
    assert len(stack.store.fills([a, b, c])) == 29

    # C's trace.started comes late, naming another user: the read sees it at once, the jobs correct the fills
    stack.send([{"type": "trace.started", "trace": c, "user": "team-9", "time": format_time(now - timedelta(hours=3))}])
    fresh = listed(stack, q=run)[c]
    assert (fresh["user"], fresh["summary"]["user_missing"]) == ("team-9", False)
    stack.drain(stack.summaries.run)
    corrected = stack.store.get(c)
    assert corrected is not None and (corrected.user_id, corrected.started, corrected.user_missing) == (
        "team-9",
        True,
        False,
    )
    stack.drain(stack.fill.run)
    users = {n["key"]: n["user"] for n in stack.graph.trace_graph(c).nodes}
    assert users == {**dict.fromkeys(nodes[c], "team-9"), f"File1-{c}": "early"}
    refills = [f for f in stack.store.fills([c]) if f.previous_user == "early"]
    assert len(refills) == 9 and {f.user_id for f in refills} == {"team-9"}
