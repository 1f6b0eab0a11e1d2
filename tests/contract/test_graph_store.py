"""GraphStore contract: one suite, run against the embedded graph (LadybugDB) and a real Neo4j."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from backend.batch.relations import Relations
from backend.bootstrap import open_graph
from backend.demo import seed_events
from backend.domain.events import format_time, validate_events
from backend.domain.projection import StoredEvent, project
from backend.settings import Settings
from graph.base import FileEdge, GraphBatch, GraphStore, LogCounts, QueryRejected, QueryTimeout, TraceFilter
from graph.cypher import CypherGraphStore


@pytest.fixture
def store(graph_settings: Settings) -> Iterator[GraphStore]:
    graph = open_graph(graph_settings)
    graph.clear()
    yield graph
    graph.clear()
    graph.close()


def stored(raw: list[dict[str, Any]]) -> list[StoredEvent]:
    accepted, rejected = validate_events(raw, "test", datetime.now(UTC))
    assert not rejected
    return [StoredEvent(i, a.envelope, a.envelope.trace, format_time(a.time)) for i, a in enumerate(accepted)]


def batch_of(raw: list[dict[str, Any]]) -> GraphBatch:
    return project(stored(raw)).batch


def snapshot(store: GraphStore, trace: str) -> tuple[Any, ...]:
    sub = store.trace_graph(trace)
    nodes = sorted(
        (n["key"], n["kind"], n["status"], n["reason"], n["produced"], n["first_at"], n["last_at"]) for n in sub.nodes
    )
    edges = sorted((e["source"], e["target"], e["op"], e["at"]) for e in sub.edges)
    return store.trace(trace), nodes, edges


SEED_NODES = {
    "File1": ("file", "dropped"),
    "File2": ("file", "dropped"),
    "File3": ("file", "converted"),
    "data1": ("data", "converted"),
    "data2": ("data", "converted"),
    "data3": ("data", "converted"),
    "data4": ("data", "converted"),
    "data5": ("data", "converted"),
    "data6": ("data", "converted"),
    "File4": ("file", "written"),
}
SEED_EDGES = {
    ("File3", "data1", "parse"),
    ("File3", "data2", "parse"),
    ("File3", "data3", "parse"),
    ("data1", "data4", "enrich"),
    ("data2", "data5", "aggregate"),
    ("data5", "File4", "write"),
    ("data3", "data6", "normalize"),
}


def users(store: GraphStore, trace: str) -> dict[str, str | None]:
    return {n["key"]: n["user"] for n in store.trace_graph(trace).nodes}


def test_fill_gives_the_nodes_a_trace_owns_its_user_once(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A", user="team-7")))
    own = {"type": "file.received", "trace": "A", "user": "own", "node": {"kind": "file", "key": "File9"}}
    feeds = {"type": "flow", "trace": "B", "inputs": [{"kind": "file", "key": "File4"}]}
    store.apply(batch_of([{**own, "time": "2026-01-01T10:00:00Z"}]))
    store.apply(
        batch_of(
            [
                {"type": "trace.started", "trace": "B", "user": "other", "time": "2026-01-01T11:00:00Z"},
                {**feeds, "outputs": [{"kind": "sink", "key": "db#B"}], "time": "2026-01-01T11:00:01Z"},
            ]
        )
    )
    made = store.fill_users(["A", "B"])
    assert sorted((f.trace, f.kind, f.key, f.user, f.was) for f in made) == sorted(
        [("A", kind, key, "team-7", None) for key, (kind, _) in SEED_NODES.items()]
        + [("B", "sink", "db#B", "other", None)]
    )
    assert users(store, "A") == {**dict.fromkeys(SEED_NODES, "team-7"), "File9": "own"}
    assert users(store, "B") == {"File4": "team-7", "db#B": "other"}  # File4 is A's: A's user
    assert store.fill_users(["A", "B"]) == []
    assert store.fill_users([]) == []


def test_a_late_trace_started_corrects_what_an_earlier_fill_set(store: GraphStore) -> None:
    events = [e for e in seed_events("D") if e["type"] != "trace.started"]
    events[0]["user"] = "early"  # File1 is received naming a user: the trace's user until trace.started comes
    store.apply(batch_of(events))
    assert (store.trace("D") or {}).get("started_at") is None
    made = store.fill_users(["D"])
    assert {f.key for f in made} == set(SEED_NODES) - {"File1"} and {f.user for f in made} == {"early"}
    store.apply(batch_of([{"type": "trace.started", "trace": "D", "user": "team-9", "time": "2026-01-01T08:59:00Z"}]))
    assert (store.trace("D") or {})["started_at"] == "2026-01-01T08:59:00.000000Z"
    refilled = store.fill_users(["D"], made)
    assert sorted((f.key, f.user, f.was) for f in refilled) == sorted((f.key, "team-9", "early") for f in made)
    assert users(store, "D") == {**dict.fromkeys(SEED_NODES, "team-9"), "File1": "early"}  # File1's own user stays
    assert store.fill_users(["D"], made + refilled) == []


def test_seed_scenario_projects_to_the_seed_picture(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    sub = store.trace_graph("A")
    assert {n["key"]: (n["kind"], n["status"]) for n in sub.nodes} == SEED_NODES
    assert {(e["source"], e["target"], e["op"]) for e in sub.edges} == SEED_EDGES
    reasons = {n["key"]: (n["reason"], n["code"]) for n in sub.nodes if n["status"] == "dropped"}
    assert reasons == {
        "File1": ("header row missing (see log)", "E_HEADER"),
        "File2": ("checksum mismatch (see log)", "E_CHECKSUM"),
    }
    trace = store.trace("A")
    assert trace is not None
    assert (trace["user"], trace["status"], trace["name"]) == ("demo-user", "ended", "seed scenario: nightly import")
    assert trace["first_at"] == "2026-01-01T09:00:00.000000Z"


def test_reapplying_a_batch_changes_nothing(store: GraphStore) -> None:
    batch = batch_of(seed_events("A"))
    store.apply(batch)
    before = snapshot(store, "A")
    store.apply(batch)
    store.apply(batch_of(seed_events("A")))
    assert snapshot(store, "A") == before


def test_event_order_does_not_change_the_graph(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    in_one_batch = snapshot(store, "A")
    store.clear()
    events = seed_events("A")
    random.Random(7).shuffle(events)
    for event in events:  # one event per batch, shuffled
        store.apply(batch_of([event]))
    assert snapshot(store, "A") == in_one_batch


def full_picture(store: GraphStore, traces: list[str]) -> tuple[Any, ...]:
    """Every trace's nodes and edges as lists (a duplicated CONTAINS or FLOWS_TO edge shows as a repeated
    row), every node read by key, and both lineage directions of every node."""
    pictures, keys = [], set()
    for trace in traces:
        sub = store.trace_graph(trace)
        pictures.append(
            (
                store.trace(trace),
                sorted(repr(sorted(n.items())) for n in sub.nodes),
                sorted((e["source"], e["target"], e["op"], e["at"]) for e in sub.edges),
            )
        )
        keys.update(n["key"] for n in sub.nodes)
    nodes = [store.node(k) for k in sorted(keys)]
    walks = [
        sorted((r["source"], r["target"], r["op"]) for r in store.neighbours(sorted(keys), way))
        for way in ("upstream", "downstream")
    ]
    return pictures, [repr(sorted(n.items())) if n else None for n in nodes], walks


def mixed_events(traces: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """Flows, statuses and drops over nodes of which some are shared by several traces, with times out of order."""
    events: list[dict[str, Any]] = []

    def at(i: int) -> str:
        return f"2026-03-01T10:{i // 60:02d}:{i % 60:02d}Z"

    for t in traces:
        events.append({"type": "trace.started", "trace": t, "user": f"u-{t}", "time": at(rng.randrange(3600))})
    for i in range(240):
        t = rng.choice(traces)
        src = (
            {"kind": "file", "key": f"f{rng.randrange(40)}"}
            if rng.random() < 0.5
            else {"kind": "data", "key": f"d{rng.randrange(60)}"}
        )
        dst = (
            {"kind": "data", "key": f"d{rng.randrange(60)}"}
            if rng.random() < 0.8
            else {"kind": "sink", "key": f"s{rng.randrange(5)}"}
        )
        roll = rng.random()
        if roll < 0.6 and src["key"] != dst["key"]:
            events.append(
                {
                    "type": "flow",
                    "trace": t,
                    "op": rng.choice(["parse", "join", "write"]),
                    "inputs": [src],
                    "outputs": [dst],
                    "time": at(rng.randrange(3600)),
                }
            )
        elif roll < 0.8:
            node = {"kind": "file", "key": f"f{rng.randrange(40)}", "name": f"n{i}.csv"}
            events.append(
                {
                    "type": rng.choice(["file.received", "file.stored"]),
                    "trace": t,
                    "node": node,
                    "time": at(rng.randrange(3600)),
                }
            )
        else:
            events.append(
                {
                    "type": "file.dropped",
                    "trace": t,
                    "node": {"kind": "file", "key": f"f{rng.randrange(40)}"},
                    "reason": f"r{i}",
                    "code": f"E{i % 3}",
                    "time": at(rng.randrange(3600)),
                }
            )
    return events


def test_batching_and_repeats_do_not_change_the_graph(store: GraphStore) -> None:
    """The same events (with repeats) one per batch, or cut into batches of random sizes (nodes new to the
    graph, nodes already there, several rows of one node in a batch), give exactly the same graph."""
    rng = random.Random(11)
    traces = ["M1", "M2", "M3"]
    events = mixed_events(traces, rng)
    replay = events + rng.sample(events, 60)
    rng.shuffle(replay)
    for event in replay:
        store.apply(batch_of([event]))
    expected = full_picture(store, traces)
    store.clear()
    sizes = [rng.choice([3, 17, 60, 200]) for _ in replay]
    cuts = [sum(sizes[:i]) for i in range(len(sizes))]
    batches = [batch_of(replay[c : c + size]) for c, size in zip(cuts, sizes, strict=True) if c < len(replay)]
    for batch in batches:
        store.apply(batch)
    assert full_picture(store, traces) == expected
    # the embedded adapter creates nodes it found absent instead of merging them: the plain MERGE of the
    # shared Cypher must give the same graph
    store.clear()
    for batch in batches:
        CypherGraphStore.apply(store, batch)  # type: ignore[arg-type]
    assert full_picture(store, traces) == expected


def test_drop_wins_over_conversion_whatever_the_order(store: GraphStore) -> None:
    flow = {
        "type": "flow",
        "trace": "T",
        "inputs": [{"kind": "file", "key": "f"}],
        "outputs": [{"kind": "data", "key": "d"}],
        "time": "2026-01-01T00:00:01Z",
    }
    drop = {
        "type": "file.dropped",
        "trace": "T",
        "node": {"kind": "file", "key": "f"},
        "reason": "bad",
        "time": "2026-01-01T00:00:00Z",
    }
    store.apply(batch_of([drop]))
    store.apply(batch_of([flow]))
    node = store.node("f")
    assert node is not None and (node["status"], node["reason"]) == ("dropped", "bad")
    received = {"type": "file.received", "trace": "T", "node": {"kind": "file", "key": "f"}}
    store.apply(batch_of([received]))
    node = store.node("f")
    assert node is not None and node["status"] == "dropped"


def test_a_shared_node_belongs_to_the_trace_of_its_earliest_event_whatever_the_merge_order(store: GraphStore) -> None:
    """A sink two traces write to: its `trace` is the trace that met it first in time, not the one merged first
    (a crash, a drain or a redelivery merges some events after later ones); both traces contain it."""

    def write(trace: str, at: str) -> dict[str, Any]:
        return {
            "type": "flow",
            "trace": trace,
            "op": "write",
            "inputs": [{"kind": "data", "key": f"d-{trace}"}],
            "outputs": [{"kind": "sink", "key": "warehouse"}],
            "time": at,
        }

    early, late = write("T1", "2026-01-01T00:00:01Z"), write("T2", "2026-01-01T00:00:05Z")
    pictures = []
    for batches in ([[early], [late]], [[late], [early]], [[late, early]], [[early, late]]):
        store.clear()
        for batch in batches:
            store.apply(batch_of(batch))
        node = store.node("warehouse")
        assert node is not None and node["trace"] == "T1", (batches, node)
        assert all(any(n["key"] == "warehouse" for n in store.trace_graph(t).nodes) for t in ("T1", "T2"))
        pictures.append(full_picture(store, ["T1", "T2"]))
    assert all(p == pictures[0] for p in pictures)


def test_trace_user_comes_from_trace_started(store: GraphStore) -> None:
    store.apply(
        batch_of([{"type": "file.received", "trace": "U", "user": "other", "node": {"kind": "file", "key": "uf"}}])
    )
    store.apply(batch_of([{"type": "trace.started", "trace": "U", "user": "owner"}]))
    store.apply(batch_of([{"type": "log", "trace": "U", "user": "third", "message": "m"}]))
    trace = store.trace("U")
    assert trace is not None and trace["user"] == "owner"


def test_the_earliest_trace_started_names_the_trace_whatever_the_arrival_order(store: GraphStore) -> None:
    late = {
        "type": "trace.started",
        "trace": "O",
        "user": "new-owner",
        "attrs": {"name": "late"},
        "time": "2026-06-01T00:00:00Z",
    }
    early = {
        "type": "trace.started",
        "trace": "O",
        "user": "first-owner",
        "attrs": {"name": "early"},
        "time": "2026-01-01T00:00:00Z",
    }
    results = []
    for order in ([late, early], [early, late]):
        for batching in ("apart", "together"):
            store.clear()
            if batching == "apart":
                for event in order:
                    store.apply(batch_of([event]))
            else:
                store.apply(batch_of(order))
            trace = store.trace("O")
            assert trace is not None
            results.append((trace["user"], trace["name"]))
    assert results == [("first-owner", "early")] * 4
    tie = {**late, "user": "z-owner", "time": early["time"]}  # same time: the smaller user id, in any order
    store.apply(batch_of([tie]))
    trace = store.trace("O")
    assert trace is not None and trace["user"] == "first-owner"
    store.apply(batch_of([{**tie, "user": "a-owner"}]))
    trace = store.trace("O")
    assert trace is not None and trace["user"] == "a-owner"


def test_log_counts_are_set_not_added(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    counts = GraphBatch(log_counts=[LogCounts("File1", "file", warn=2, error=1), LogCounts("A", None, info=3)])
    store.apply(counts)
    store.apply(counts)
    node, trace = store.node("File1"), store.trace("A")
    assert node is not None and (node["log_warn"], node["log_error"]) == (2, 1)
    assert trace is not None and trace["log_info"] == 3


def test_trace_counts_group_nodes_for_summaries(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    rows = store.trace_counts(["A"])
    total = sum(r["count"] for r in rows)
    assert total == len(SEED_NODES)
    produced_files = sum(r["count"] for r in rows if r["kind"] == "file" and r["produced"])
    dropped = {r["reason"]: r["count"] for r in rows if r["dropped_here"]}
    assert produced_files == 1
    assert dropped == {"header row missing (see log)": 1, "checksum mismatch (see log)": 1}
    assert all(r["status"] == "dropped" for r in rows if r["dropped_here"])


CROSS_TRACE_DROP = [
    {"type": "trace.started", "trace": "X", "user": "team-x", "time": "2026-03-01T00:00:00Z"},
    {
        "type": "flow",
        "trace": "X",
        "inputs": [{"kind": "data", "key": "rows"}],
        "outputs": [{"kind": "file", "key": "s3://bucket/out/report.csv"}],
        "time": "2026-03-01T00:00:01Z",
    },
    {"type": "trace.started", "trace": "Y", "user": "team-y", "time": "2026-03-01T01:00:00Z"},
    {
        "type": "file.dropped",
        "trace": "Y",
        "node": {"kind": "file", "key": "s3://bucket/out/report.csv"},
        "reason": "schema validation failed",
        "time": "2026-03-01T01:00:02Z",
    },
    {
        "type": "file.dropped",
        "trace": "Y",
        "node": {"kind": "file", "key": "s3://bucket/out/report.csv"},
        "reason": "a later retry failed too",
        "time": "2026-03-01T01:00:05Z",
    },
]


@pytest.mark.parametrize("split", [False, True])
def test_a_drop_is_charged_to_the_trace_that_reported_it(store: GraphStore, split: bool) -> None:
    """X wrote the file, Y dropped it: the node says `dropped` everywhere, but only Y counts the drop (with
    its earliest reason) and has drops; applied as one batch or event by event in reverse, and twice."""
    for _ in range(2):
        if split:
            for raw in reversed(CROSS_TRACE_DROP):
                store.apply(batch_of([raw]))
        else:
            store.apply(batch_of(CROSS_TRACE_DROP))
    key = "s3://bucket/out/report.csv"
    node = store.node(key)
    assert node is not None and (node["status"], node["trace"]) == ("dropped", "X")
    counted = {
        trace: {(r["reason"], r["count"]) for r in store.trace_counts([trace]) if r["dropped_here"]} for trace in "XY"
    }
    assert counted == {"X": set(), "Y": {("schema validation failed", 1)}}
    in_x = {n["key"]: n for n in store.trace_graph("X").nodes}
    in_y = {n["key"]: n for n in store.trace_graph("Y").nodes}
    assert (in_x[key]["status"], in_x[key]["dropped_here"], in_x[key]["drop_reason"]) == ("dropped", False, None)
    assert (in_y[key]["dropped_here"], in_y[key]["drop_reason"]) == (True, "schema validation failed")
    assert [t["key"] for t in store.list_traces(TraceFilter(has_drops=True), 10, None)] == ["Y"]
    assert [t["key"] for t in store.list_traces(TraceFilter(has_drops=False), 10, None)] == ["X"]
    assert (store.trace("Y") or {}).get("has_drops") is True
    assert store.count_traces(TraceFilter()) == 2
    assert store.count_traces(TraceFilter(has_drops=True, user="team-y")) == 1
    assert store.count_traces(TraceFilter(has_drops=True, user="team-x")) == 0


def test_a_graph_made_before_per_trace_drops_charges_them_to_the_owning_trace(store: GraphStore) -> None:
    """What the graph held before drops had their own record (no has_drops, no drop on CONTAINS) is charged to
    each node's trace when the store opens, as summaries counted it then; traces merged since are left alone."""
    assert isinstance(store, CypherGraphStore)
    store.apply(batch_of(seed_events("A") + CROSS_TRACE_DROP))
    store._write(
        [
            ("MATCH (t:Trace) WHERE t.key <> 'Y' SET t.has_drops = NULL", {}),
            ("MATCH (t:Trace)-[c:CONTAINS]->() WHERE t.key <> 'Y' SET c.dropped_at = NULL, c.drop_reason = NULL", {}),
        ]
    )
    assert not [r for r in store.trace_counts(["A"]) if r["dropped_here"]]
    for _ in range(2):
        store.charge_old_drops()
    dropped = {r["reason"]: r["count"] for r in store.trace_counts(["A"]) if r["dropped_here"]}
    assert dropped == {"header row missing (see log)": 1, "checksum mismatch (see log)": 1}
    assert [t["key"] for t in store.list_traces(TraceFilter(has_drops=True), 10, None)] == ["Y", "X", "A"]
    assert {r["reason"] for r in store.trace_counts(["Y"]) if r["dropped_here"]} == {"schema validation failed"}


def test_neighbours_walk_both_directions(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    up = store.neighbours(["File4"], "upstream")
    assert [(h["source"], h["target"], h["op"], h["node"]["key"]) for h in up] == [("data5", "File4", "write", "data5")]
    down = store.neighbours(["File3", "data1"], "downstream")
    assert {(h["source"], h["node"]["key"]) for h in down} == {
        ("File3", "data1"),
        ("File3", "data2"),
        ("File3", "data3"),
        ("data1", "data4"),
    }
    assert store.neighbours(["nope"], "downstream") == []


def with_a_sink(trace: str) -> list[dict[str, Any]]:
    """The seed scenario, and data4 written to a sink: nodes of every kind."""
    return [
        *seed_events(trace),
        {
            "type": "flow",
            "trace": trace,
            "time": "2026-01-01T10:00:00Z",
            "op": "load",
            "inputs": [{"kind": "data", "key": "data4"}],
            "outputs": [{"kind": "sink", "key": "warehouse#orders"}],
        },
    ]


def hops(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    return sorted((h["source"], h["target"], h["op"], h["node"]["key"], h["node"]["kind"]) for h in rows)


def test_node_is_found_by_key_whatever_its_kind(store: GraphStore) -> None:
    store.apply(batch_of(with_a_sink("A")))
    found = {key: store.node(key) for key in ("File3", "data4", "warehouse#orders", "nope")}
    assert {key: n and (n["key"], n["kind"]) for key, n in found.items()} == {
        "File3": ("File3", "file"),
        "data4": ("data4", "data"),
        "warehouse#orders": ("warehouse#orders", "sink"),
        "nope": None,
    }


def test_neighbours_give_the_same_hops_with_the_kinds_of_the_keys_or_without(store: GraphStore) -> None:
    """A walk passes the kind of each key it knows (a store with a table per kind finds it by key); a key of
    unknown kind (None) is still found; keys without edges and unknown keys give nothing."""
    store.apply(batch_of(with_a_sink("A")))
    keys = ["File3", "data1", "data2", "warehouse#orders", "File1", "nope"]
    kinds: list[str | None] = ["file", "data", None, "sink", "file", "data"]
    for way in ("upstream", "downstream"):
        assert hops(store.neighbours(keys, way, kinds)) == hops(store.neighbours(keys, way))
    assert hops(store.neighbours(keys, "downstream", kinds)) == [
        ("File3", "data1", "parse", "data1", "data"),
        ("File3", "data2", "parse", "data2", "data"),
        ("File3", "data3", "parse", "data3", "data"),
        ("data1", "data4", "enrich", "data4", "data"),
        ("data2", "data5", "aggregate", "data5", "data"),
    ]
    assert hops(store.neighbours(["warehouse#orders"], "upstream", ["sink"])) == [
        ("data4", "warehouse#orders", "load", "data4", "data")
    ]
    assert store.neighbours(["data4"], "downstream", ["data"])[0]["node"]["kind"] == "sink"
    assert store.neighbours(["File1", "File2"], "downstream", ["file", "file"]) == []


def test_list_traces_filters_and_pages(store: GraphStore) -> None:
    for i in range(5):
        store.apply(
            batch_of(
                [
                    {
                        "type": "trace.started",
                        "trace": f"job-{i}",
                        "user": "alice" if i % 2 else "bob",
                        "time": f"2026-02-0{i + 1}T00:00:00Z",
                        "attrs": {"name": f"Nightly {i}"},
                    }
                ]
            )
        )
    store.apply(batch_of([{"type": "trace.ended", "trace": "job-4", "time": "2026-02-05T01:00:00Z"}]))
    everything = store.list_traces(TraceFilter(), 10, None)
    assert [t["key"] for t in everything] == ["job-4", "job-3", "job-2", "job-1", "job-0"]
    assert [t["key"] for t in store.list_traces(TraceFilter(user="alice"), 10, None)] == ["job-3", "job-1"]
    assert [t["key"] for t in store.list_traces(TraceFilter(status="ended"), 10, None)] == ["job-4"]
    assert [t["key"] for t in store.list_traces(TraceFilter(q="nightly 2"), 10, None)] == ["job-2"]
    window = TraceFilter(since="2026-02-02T00:00:00.000000Z", until="2026-02-04T12:00:00.000000Z")
    assert [t["key"] for t in store.list_traces(window, 10, None)] == ["job-3", "job-2", "job-1"]
    first = store.list_traces(TraceFilter(), 2, None)
    after = (first[-1]["first_at"], first[-1]["key"])
    assert [t["key"] for t in store.list_traces(TraceFilter(), 2, after)] == ["job-2", "job-1"]


def test_query_reads_and_limits_rows(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    result = store.query("MATCH (d:Data) RETURN d.key AS key ORDER BY key", {}, row_limit=100, timeout=10)
    assert result.columns == ["key"]
    assert [r[0] for r in result.rows] == ["data1", "data2", "data3", "data4", "data5", "data6"]
    assert not result.truncated
    limited = store.query("MATCH (d:Data) RETURN d.key AS key ORDER BY key", {}, row_limit=2, timeout=10)
    assert limited.truncated and len(limited.rows) == 2
    with_param = store.query("MATCH (f:File {key: $k}) RETURN f.status AS s", {"k": "File1"}, row_limit=10, timeout=10)
    assert with_param.rows == [["dropped"]]


@pytest.mark.parametrize(
    "cypher",
    [
        "CREATE (n:File {key: 'evil'})",
        "MATCH (n:File {key: 'File1'}) SET n.status = 'ok'",
        "MATCH (n:File) DETACH DELETE n",
        "match (n:File {key:'File1'}) merge (n)-[:FLOWS_TO]->(m:Data {key:'x'})",
        "MATCH (n) RETURN n; MATCH (n) DETACH DELETE n",
    ],
)
def test_query_refuses_writes_and_changes_nothing(store: GraphStore, cypher: str) -> None:
    store.apply(batch_of(seed_events("A")))
    before = snapshot(store, "A")
    with pytest.raises(QueryRejected):
        store.query(cypher, {}, row_limit=10, timeout=10)
    assert snapshot(store, "A") == before


def test_query_is_read_only_even_past_the_keyword_check(store: GraphStore) -> None:
    """The adapter runs user queries in a read-only transaction, not only behind a keyword filter."""
    from graph.cypher import CypherGraphStore

    store.apply(batch_of(seed_events("A")))
    assert isinstance(store, CypherGraphStore)
    with pytest.raises(QueryRejected):
        store._user_query("MATCH (n:File {key: 'File1'}) SET n.status = 'hacked'", {}, 10, 10)
    node = store.node("File1")
    assert node is not None and node["status"] == "dropped"


def test_query_stops_at_its_time_limit(store: GraphStore) -> None:
    with pytest.raises(QueryTimeout):
        store.query(
            "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 3 RETURN count(*)",
            {},
            row_limit=10,
            timeout=0.5,
        )
    assert store.query("RETURN 1 AS one", {}, 10, 5).rows == [[1]]


def test_invalid_cypher_is_rejected_plainly(store: GraphStore) -> None:
    with pytest.raises(QueryRejected):
        store.query("MATCH (n RETURN n", {}, row_limit=10, timeout=5)


def test_clear_removes_everything(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    store.clear()
    assert store.trace("A") is None and store.node("File1") is None
    assert store.list_traces(TraceFilter(), 10, None) == []


# -- the user query sandbox and its limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    "cypher",
    [
        "CALL show_tables() WITH name LIMIT 1 CALL read_csv_serial('/etc/hostname') RETURN *",
        "MATCH (n) WITH n LIMIT 1 CALL read_csv_parallel('/etc/hostname') RETURN *",
        "RETURN read_parquet('/etc/hostname')",
        "RETURN read_npy('/etc/hostname')",
        "RETURN current_setting('file_search_path')",
        "MATCH (n) RETURN bm_info()",
        "LOAD CSV FROM 'file:///etc/hostname' AS line RETURN line",
        "CALL dbms.components() YIELD name RETURN name",
        "RETURN " + "(" * 3000 + "1" + ")" * 3000,
    ],
)
def test_query_refuses_file_readers_settings_procedures_and_deep_nesting(store: GraphStore, cypher: str) -> None:
    with pytest.raises(QueryRejected):
        store.query(cypher, {}, row_limit=10, timeout=10)
    assert store.query("RETURN 1 AS one", {}, 10, 10).rows == [[1]]


def test_query_params_of_mixed_types_are_rejected(store: GraphStore) -> None:
    with pytest.raises(QueryRejected, match="list mixes"):
        store.query("RETURN $a AS a", {"a": [1, "x"]}, row_limit=10, timeout=10)
    assert store.query("RETURN $a AS a", {"a": [1, 2]}, 10, 10).rows == [[[1, 2]]]


def test_query_answer_is_capped_in_bytes_as_well_as_rows(store: GraphStore) -> None:
    """8 MiB (FT_QUERY_MAX_BYTES' default) of rows at most, whatever the row limit."""
    blob = "x" * 10_000
    result = store.query("UNWIND range(1, 2000) AS i RETURN i, $blob AS b", {"blob": blob}, 100_000, 30)
    assert result.truncated
    assert 700 < len(result.rows) < 2000
    assert sum(len(b) for _, b in result.rows) <= 8 * 1024 * 1024


def test_query_time_limit_holds_end_to_end(store: GraphStore) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        store.query(
            "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 3 RETURN count(*)",
            {},
            row_limit=10,
            timeout=2,
        )
    assert time.monotonic() - started < 2 + 2.5  # the limit, and the worker's grace before it is stopped


def test_merges_do_not_wait_for_a_user_query(store: GraphStore) -> None:
    """While a query runs to its time limit, merges take as long as they do on an idle graph."""
    outcome: list[BaseException] = []

    def long_query() -> None:
        try:
            store.query(
                "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 3 "
                "RETURN count(*)",
                {},
                10,
                6,
            )
        except BaseException as exc:
            outcome.append(exc)

    store.apply(batch_of(seed_events("warm-up")))
    runner = threading.Thread(target=long_query)
    runner.start()
    time.sleep(0.5)
    slowest = 0.0
    for i in range(5):
        started = time.monotonic()
        store.apply(batch_of(seed_events(f"busy-{i}")))
        slowest = max(slowest, time.monotonic() - started)
    still_running = runner.is_alive()
    runner.join()
    assert still_running, "the query ended before the merges: the test proves nothing"
    assert slowest < 2.0  # waiting for the query would take 5.5 s; the margin is for a busy machine
    assert len(outcome) == 1 and isinstance(outcome[0], QueryTimeout)


def test_trace_graph_is_capped_and_says_so(store: GraphStore) -> None:
    store.apply(
        batch_of(
            [
                {"type": "trace.started", "trace": "wide", "user": "u", "time": "2026-01-01T00:00:00Z"},
                {
                    "type": "flow",
                    "trace": "wide",
                    "time": "2026-01-01T00:00:01Z",
                    "op": "fan",
                    "inputs": [{"key": f"in{i}", "kind": "data"} for i in range(6)],
                    "outputs": [{"key": f"out{i}", "kind": "data"} for i in range(6)],
                },
            ]
        )
    )
    whole = store.trace_graph("wide")
    assert len(whole.nodes) == 12 and len(whole.edges) == 36 and not whole.truncated
    capped = store.trace_graph("wide", limit=5)
    assert len(capped.nodes) == 5 and len(capped.edges) == 5 and capped.truncated
    assert [n["key"] for n in capped.nodes] == [n["key"] for n in whole.nodes][:5]
    roomy = store.trace_graph("wide", limit=36)
    assert len(roomy.edges) == 36 and not roomy.truncated


def test_trace_graph_lists_nodes_and_edges_in_time_order(store: GraphStore) -> None:
    """Nodes by first_at then key, edges by at then source and target, whether the whole trace fits in the
    limit or only its first ones do."""
    events: list[dict[str, Any]] = [
        {"type": "trace.started", "trace": "T", "user": "u", "time": "2026-01-01T00:00:00Z"}
    ]
    for i, minute in enumerate([7, 3, 9, 3, 1, 5]):
        events.append(
            {
                "type": "flow",
                "trace": "T",
                "time": f"2026-01-01T00:{minute:02d}:00Z",
                "op": "copy",
                "inputs": [{"kind": "data", "key": f"in{i}"}],
                "outputs": [{"kind": "data", "key": f"out{5 - i}"}],
            }
        )
    random.Random(3).shuffle(events)
    store.apply(batch_of(events))
    whole = store.trace_graph("T")
    assert [n["key"] for n in whole.nodes] == [
        k for _, k in sorted((n["first_at"], n["key"]) for n in whole.nodes)
    ] and len(whole.nodes) == 12
    assert [n["key"] for n in whole.nodes][:4] == ["in4", "out1", "in1", "in3"]
    assert [(e["at"], e["source"], e["target"]) for e in whole.edges] == sorted(
        (e["at"], e["source"], e["target"]) for e in whole.edges
    )
    assert [e["source"] for e in whole.edges] == ["in4", "in1", "in3", "in5", "in0", "in2"]
    for limit in (3, 6, 12):
        capped = store.trace_graph("T", limit=limit)
        assert capped.nodes == whole.nodes[:limit] and capped.edges == whole.edges[:limit]
        assert capped.truncated is (limit < 12)


# -- relations derived by the batch app (backend/batch/relations.py) ------------------------------------


def derive(store: GraphStore) -> None:
    """Run the relations job until nothing is due."""
    job = Relations(store, batch=3)  # small batches: several passes even on small graphs
    while job.run():
        pass
    assert store.relations_due(10) == []


def file_edges(store: GraphStore, key: str, way: Literal["upstream", "downstream"]) -> list[tuple[str, str, str]]:
    return sorted((h["source"], h["target"], h["op"]) for h in store.file_neighbours([key], way))


def two_traces() -> list[dict[str, Any]]:
    """TA reads in.csv and writes X; TB reads X and loads it into a sink."""

    def flow(trace: str, second: int, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "type": "flow",
            "trace": trace,
            "time": f"2026-01-01T10:00:{second:02d}Z",
            "inputs": [{"kind": k, "key": key} for k, key in inputs],
            "outputs": [{"kind": k, "key": key} for k, key in outputs],
        }

    return [
        {"type": "trace.started", "trace": "TA", "user": "u", "time": "2026-01-01T10:00:00Z"},
        flow("TA", 1, [("file", "in.csv")], [("data", "rows")]),
        flow("TA", 2, [("data", "rows")], [("file", "X")]),
        {"type": "trace.started", "trace": "TB", "user": "u", "time": "2026-01-01T10:00:03Z"},
        flow("TB", 4, [("file", "X")], [("data", "x-rows")]),
        flow("TB", 5, [("data", "x-rows")], [("sink", "db#orders")]),
    ]


def test_seed_scenario_gives_the_file_level_edge_file3_to_file4(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    assert file_edges(store, "File4", "upstream") == []  # derived by the batch app, not by the merge
    derive(store)
    assert file_edges(store, "File4", "upstream") == [("File3", "File4", "via data")]
    assert file_edges(store, "File3", "downstream") == [("File3", "File4", "via data")]
    assert store.file_neighbours(["File4"], "upstream", ["file"])[0]["node"]["key"] == "File3"
    assert file_edges(store, "File1", "downstream") == []  # dropped: it flowed nowhere
    assert store.feeds("A", "upstream") == store.feeds("A", "downstream") == []  # one trace feeds nothing


def test_a_trace_that_reads_what_another_wrote_is_fed_by_it(store: GraphStore) -> None:
    store.apply(batch_of(two_traces()))
    derive(store)
    assert [t["key"] for t in store.feeds("TB", "upstream")] == ["TA"]
    assert [t["key"] for t in store.feeds("TA", "downstream")] == ["TB"]
    assert store.feeds("TA", "upstream") == store.feeds("TB", "downstream") == []
    assert file_edges(store, "X", "upstream") == [("in.csv", "X", "via data")]
    assert file_edges(store, "X", "downstream") == [("X", "db#orders", "via data")]
    assert store.file_neighbours(["db#orders"], "upstream", ["sink"])[0]["node"]["kind"] == "file"


def test_relations_follow_flows_merged_later_in_any_order(store: GraphStore) -> None:
    """A chain f → d1 → d2 → d3 → g (and a trace hand-off at g) merged one flow per batch, in reverse order,
    with the job run after each merge, gives the same relations as one batch."""
    chain = [("file", "f"), ("data", "d1"), ("data", "d2"), ("data", "d3"), ("file", "g"), ("data", "g-rows")]
    events = [
        {
            "type": "flow",
            "trace": "T2" if a[1] == "g" else "T1",
            "time": f"2026-01-01T10:00:0{i}Z",
            "inputs": [{"kind": a[0], "key": a[1]}],
            "outputs": [{"kind": b[0], "key": b[1]}],
        }
        for i, (a, b) in enumerate(itertools.pairwise(chain))
    ]
    for event in reversed(events):
        store.apply(batch_of([event]))
        derive(store)
    assert file_edges(store, "g", "upstream") == [("f", "g", "via data")]
    assert [t["key"] for t in store.feeds("T2", "upstream")] == ["T1"]


def test_a_node_marked_again_while_derived_stays_due(store: GraphStore) -> None:
    store.apply(batch_of(seed_events("A")))
    due = store.relations_due(100)
    assert {d.key for d in due} == {"File3", "data1", "data2", "data3", "data5"}  # the sources of the flows
    store.apply(batch_of([{"type": "flow", "trace": "A", "inputs": [{"kind": "data", "key": "data1"}],
                           "outputs": [{"kind": "file", "key": "File9"}]}]))  # fmt: skip
    store.add_relations([FileEdge("File3", "file", "File4", "file")], [], due)  # a pass that read them before
    assert [d.key for d in store.relations_due(100)] == ["data1"]
    derive(store)
    assert file_edges(store, "File3", "downstream") == [("File3", "File4", "via data"), ("File3", "File9", "via data")]


def test_add_relations_is_idempotent(store: GraphStore) -> None:
    store.apply(batch_of(two_traces()))
    edge = FileEdge("in.csv", "file", "X", "file")
    for _ in range(2):
        store.add_relations([edge], [("TA", "TB")], [])
    assert file_edges(store, "in.csv", "downstream") == [("in.csv", "X", "via data")]
    assert [t["key"] for t in store.feeds("TB", "upstream")] == ["TA"]
    assert {(key, trace) for key, trace in store.memberships(["X", "rows", "nope"])} == {
        ("X", "TA"),
        ("X", "TB"),
        ("rows", "TA"),
    }


def test_clear_removes_derived_relations_and_a_rebuild_derives_them_again(store: GraphStore) -> None:
    store.apply(batch_of(two_traces()))
    derive(store)
    store.clear()
    store.apply(batch_of(two_traces()))  # `ftel graph rebuild`: the same events merged into an empty graph
    assert store.feeds("TB", "upstream") == [] and file_edges(store, "X", "upstream") == []
    derive(store)
    assert [t["key"] for t in store.feeds("TB", "upstream")] == ["TA"]
    assert file_edges(store, "X", "upstream") == [("in.csv", "X", "via data")]


def test_a_graph_made_before_relations_has_its_flows_marked_once(store: GraphStore) -> None:
    assert isinstance(store, CypherGraphStore)
    store.apply(batch_of(seed_events("A")))
    store.add_relations([], [], store.relations_due(100))  # as a graph made before the marks looks
    store.mark_flows_unrelated()  # on open
    assert len(store.relations_due(100)) == 5
    derive(store)
    store.add_relations([], [], store.relations_due(100))
    store.mark_flows_unrelated()  # relations derived: nothing to mark
    assert store.relations_due(100) == []
    assert file_edges(store, "File4", "upstream") == [("File3", "File4", "via data")]


def test_user_queries_read_the_derived_relations(store: GraphStore) -> None:
    store.apply(batch_of(two_traces()))
    derive(store)
    files = store.query("MATCH (a)-[:FILE_FLOWS_TO]->(b) RETURN a.key, b.key ORDER BY a.key", {}, 10, 10)
    assert files.rows == [["X", "db#orders"], ["in.csv", "X"]]
    feeds = store.query("MATCH (a:Trace)-[:FEEDS]->(b:Trace) RETURN a.key, b.key", {}, 10, 10)
    assert feeds.rows == [["TA", "TB"]]


def test_stuck_files_are_incoming_files_that_got_no_further_the_most_recent_first(store: GraphStore) -> None:
    def received(key: str, time: str) -> dict[str, Any]:
        return {"type": "file.received", "trace": "S", "time": time, "node": {"kind": "file", "key": key}}

    stored = {
        "type": "file.stored",
        "trace": "S",
        "time": "2026-01-01T08:30:00Z",
        "node": {"kind": "file", "key": "s2"},
    }
    events = [received("s1", "2026-01-01T08:00:00Z"), received("s2", "2026-01-01T08:10:00Z"), stored]
    store.apply(batch_of([*seed_events("A"), *events, received("late", "2026-01-01T12:00:00Z")]))
    rows = store.stuck_files("2026-01-01T11:00:00.000000Z", 10)
    assert [(r["key"], r["trace"], r["last_at"]) for r in rows] == [
        ("s2", "S", "2026-01-01T08:30:00.000000Z"),
        ("s1", "S", "2026-01-01T08:00:00.000000Z"),
    ]  # not File3 (converted), File1 (dropped), File4 (written by a flow) nor `late` (had an event since)
    assert [r["key"] for r in store.stuck_files("2026-01-01T11:00:00.000000Z", 1)] == ["s2"]
