"""A lineage graph of a given size for bench/lineage.py: traces of the seed mix, chains of traces that feed
each other, and traces sized for the trace-graph figures, loaded through the production write path.

- chains (`CHAINS` × `CHAIN_STEPS` traces): step s reads `s3://chain/<c>/<s>.csv`, parses, derives and writes
  `s3://chain/<c>/<s+1>.csv`, the input of step s+1 (3 hops a step, 36 in a chain), so that a walk of depth
  10 is really 10 hops deep;
- sized traces: seed-mix traces cut at a file boundary to at most 100 (`t100-*`) and 10,000 (`t10k-*`)
  nodes (the 10,000-node trace fits FT_TRACE_GRAPH_LIMIT's default: its whole graph is answered);
- the rest: seed-mix traces (`bench/workload.py`, ~39 nodes each) until the graph holds `nodes` nodes
  (trace nodes included). Their sinks `postgres://warehouse/orders#k` are shared by 1 trace in 50: a
  realistic fan-in, and upstream from one of them meets the lineage node limit.

Node keys have their '/' replaced by '|' (`addressable`): the API's `/lineage/{key}` and `/nodes/{key}` routes
do not take a key with a '/' (an encoded %2F reaches the router decoded), and every seed-mix key has one.
Logs are left out: they only change log counts. Loading is `project(events).batch` → `GraphStore.apply`,
as the server merges, without the SQL event log, into the stores the composition root opens (`open_graph`).
The embedded graph can be kept with a manifest (its size, seed, load figures and the keys the bench asks
about) for a later run to reuse: loading 1M nodes takes minutes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from backend.bootstrap import open_graph
from backend.domain.events import Envelope, format_time
from backend.domain.projection import StoredEvent, project
from backend.settings import GraphBackend, Settings
from bench.workload import START, map_keys, seed_traces
from graph.base import LABELS, GraphStore

Event = dict[str, Any]
CHAINS = 20
CHAIN_STEPS = 12
SIZED = ((100, 20), (10_000, 1))  # (at most this many nodes, how many such traces)
CHAIN_START = START - timedelta(days=30)
GENERATOR = 1  # bump when this module makes a different graph: a kept graph of an older one is refused
MANIFEST = "lineage-bench.json"
NODE_LABELS = ("Trace", *LABELS.values())
Rows = Callable[[str, dict[str, Any]], list[dict[str, Any]]]  # a raw read: Cypher, parameters → rows


@dataclass
class Keys:
    """Node keys the bench queries, kept while generating."""

    seed_nodes: list[tuple[str, str]] = field(default_factory=list)  # (key, kind): seed-mix nodes, no sinks
    sinks: list[str] = field(default_factory=list)  # shared sinks (fan-in)
    traces: dict[int, list[str]] = field(default_factory=dict)  # node bound → trace keys


def addressable(key: str) -> str:
    return key.replace("/", "|")


def chain_nodes(direction: str, hops: int) -> list[tuple[str, str]]:
    """(key, kind) of the chain nodes with at least `hops` hops upstream or downstream of them."""
    out: list[tuple[str, str]] = []
    for c in range(CHAINS):
        for s in range(CHAIN_STEPS + 1):
            step = (
                (f"s3://chain/{c}/{s}.csv", "file"),
                (f"s3://chain/{c}/{s}.csv#rows", "data"),
                (f"chain/{c}/{s}#d", "data"),
            )
            for offset, node in enumerate(step[:1] if s == CHAIN_STEPS else step):
                position = 3 * s + offset  # hops from the chain's first input
                if (position if direction == "upstream" else 3 * CHAIN_STEPS - position) >= hops:
                    out.append((addressable(node[0]), node[1]))
    return out


def _refs(e: Event) -> list[Event]:
    refs: list[Event] = [e["node"]] if "node" in e else []
    return [*refs, *e.get("inputs", []), *e.get("outputs", [])]


def _chain_step(c: int, s: int, at: Iterator[int]) -> list[Event]:
    def t(n: int) -> str:
        return format_time(CHAIN_START + timedelta(milliseconds=n))

    trace = f"chain-{c}-{s}"
    src = {"kind": "file", "key": f"s3://chain/{c}/{s}.csv", "name": f"{s}.csv"}
    rows, derived = {"kind": "data", "key": f"s3://chain/{c}/{s}.csv#rows"}, {"kind": "data", "key": f"chain/{c}/{s}#d"}
    out = {"kind": "file", "key": f"s3://chain/{c}/{s + 1}.csv", "name": f"{s + 1}.csv"}
    return [
        {"type": "trace.started", "trace": trace, "user": f"user-{c}", "time": t(next(at))},
        {"type": "file.received", "trace": trace, "node": src, "time": t(next(at))},
        {"type": "file.stored", "trace": trace, "node": src, "time": t(next(at))},
        {"type": "flow", "trace": trace, "inputs": [src], "outputs": [rows], "time": t(next(at))},
        {"type": "flow", "trace": trace, "op": "derive", "inputs": [rows], "outputs": [derived], "time": t(next(at))},
        {"type": "flow", "trace": trace, "op": "write", "inputs": [derived], "outputs": [out], "time": t(next(at))},
        {"type": "trace.ended", "trace": trace, "time": t(next(at))},
    ]


def _cut(events: list[Event], bound: int) -> list[Event]:
    """A seed-mix trace cut after the last whole file that keeps it within `bound` nodes."""
    keep: list[Event] = [events[0]]
    seen: set[str] = set()
    current: list[Event] = []
    for e in events[1:]:
        if e["type"] == "file.received" or e["type"] == "trace.ended":
            keys = {r["key"] for ev in current for r in _refs(ev)}
            if len(seen | keys) > bound:
                break
            seen |= keys
            keep.extend(current)
            current = []
        current.append(e)
    keep.append({"type": "trace.ended", "trace": events[0]["trace"], "time": keep[-1]["time"]})
    return keep


def lineage_traces(nodes: int, seed: int = 7) -> tuple[Iterator[list[Event]], Keys]:
    """The graph's traces (events without logs), one at a time, and the keys the bench asks about (filled as
    the iterator runs)."""
    keys = Keys()
    rng = random.Random(seed)

    def traces() -> Iterator[list[Event]]:
        seen: set[str] = set()
        total = 0

        def counted(events: list[Event]) -> list[Event]:
            nonlocal total
            events = map_keys(events, addressable)
            fresh = {r["key"] for e in events for r in _refs(e)} - seen
            seen.update(fresh)
            total += len(fresh) + 1  # the trace node
            return events

        at = count()
        for c in range(CHAINS):
            for s in range(CHAIN_STEPS):
                yield counted(_chain_step(c, s, at))
        for bound, how_many in SIZED:
            sized = seed_traces(seed, files=bound // 3, prefix=f"t{bound // 1000}k" if bound >= 1000 else f"t{bound}")
            for _ in range(how_many):
                events = _cut([e for e in next(sized) if e["type"] != "log"], bound)
                keys.traces.setdefault(bound, []).append(events[0]["trace"])
                yield counted(events)
        for events in seed_traces(seed, files=10, prefix="seed"):
            if total >= nodes:
                return
            events = [e for e in events if e["type"] != "log"]
            refs = [r for e in events for r in _refs(e)]
            if len(keys.seed_nodes) < 5000 and rng.random() < 0.2:
                pick = rng.choice([r for r in refs if r["kind"] != "sink"])
                keys.seed_nodes.append((addressable(pick["key"]), pick["kind"]))
            keys.sinks.extend(sorted({addressable(r["key"]) for r in refs if r["kind"] == "sink"} - seen))
            yield counted(events)

    return traces(), keys


@dataclass
class Loaded:
    seconds: float
    events: int
    traces: int


def load(store: GraphStore, traces: Iterator[list[Event]], batch_events: int = 5000) -> Loaded:
    """Project and apply the traces in batches of about `batch_events` events (whole traces per batch)."""
    started = time.perf_counter()
    received = datetime.now(UTC)
    pending: list[Event] = []
    events = n_traces = 0

    def flush() -> None:
        nonlocal events
        envelopes = [Envelope.model_validate(e) for e in pending]  # the validation of ingest, less its dedup key
        stored = [
            StoredEvent(events + i, env, env.trace, format_time(env.time or received))
            for i, env in enumerate(envelopes)
        ]
        store.apply(project(stored).batch)
        events += len(pending)
        pending.clear()

    for trace in traces:
        pending.extend(trace)
        n_traces += 1
        if len(pending) >= batch_events:
            flush()
    if pending:
        flush()
    return Loaded(time.perf_counter() - started, events, n_traces)


# -- graphs kept between runs ------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    """Settings as a server started here would read them (FT_* variables), with these values."""
    return Settings(**values)


def counts(rows: Rows) -> dict[str, int]:
    """Nodes per label and relationships per type, as the store counts them."""
    found = {label: int(rows(f"MATCH (n:{label}) RETURN count(*) AS c", {})[0]["c"]) for label in NODE_LABELS}
    for rel in ("FLOWS_TO", "CONTAINS"):
        found[rel] = int(rows(f"MATCH ()-[e:{rel}]->() RETURN count(*) AS c", {})[0]["c"])
    return found


def total_nodes(found: dict[str, int]) -> int:
    return sum(found[label] for label in NODE_LABELS)


def _manifest(data_dir: Path, nodes: int, seed: int) -> dict[str, Any] | None:
    path = data_dir / MANIFEST
    if not path.exists():
        if (data_dir / "graph").exists():
            raise SystemExit(f"{data_dir} holds a graph this bench did not make: give another directory")
        return None
    manifest: dict[str, Any] = json.loads(path.read_text())
    if (manifest["generator"], manifest["nodes"], manifest["seed"]) != (GENERATOR, nodes, seed):
        raise SystemExit(f"{data_dir} holds the graph of another --nodes, --seed or generator: give another directory")
    return manifest


def _save(data_dir: Path, manifest: dict[str, Any]) -> None:
    (data_dir / MANIFEST).write_text(json.dumps(manifest))


def embedded_graph(data_dir: Path, nodes: int, seed: int) -> tuple[dict[str, Any], Keys, bool]:
    """The graph in <data_dir>/graph, where `ftel serve` with FT_DATA_DIR=<data_dir> finds it: loaded now, or
    kept from an earlier run (True)."""
    manifest = _manifest(data_dir, nodes, seed)
    if manifest is not None:
        saved = manifest["keys"]
        sized = {int(bound): keys for bound, keys in saved["traces"].items()}  # JSON keys are text
        return manifest, Keys(**{**saved, "traces": sized}), True
    traces, keys = lineage_traces(nodes, seed)
    store = open_graph(settings(data_dir=data_dir, graph=GraphBackend.embedded))
    try:
        loaded = load(store, traces)
    finally:
        store.close()
    manifest = {"generator": GENERATOR, "nodes": nodes, "seed": seed, "embedded": asdict(loaded), "keys": asdict(keys)}
    _save(data_dir, manifest)
    return manifest, keys, False


def neo4j_graph(settings: Settings, manifest: dict[str, Any]) -> Loaded:
    """The same graph in Neo4j, after clearing it. It is not kept between runs: the test instance is shared, and
    GraphStore.clear() in the contract tests cannot empty a graph of this size (see clear_neo4j)."""
    clear_neo4j(settings)
    store = open_graph(settings)
    try:
        return load(store, lineage_traces(manifest["nodes"], manifest["seed"])[0])
    finally:
        store.close()


def clear_neo4j(settings: Settings) -> None:
    """Empty Neo4j 5,000 relationships, then 5,000 nodes, per transaction: GraphStore.clear() takes 5,000 nodes
    with their relationships at a time, and on this graph that runs over the test server's
    db.memory.transaction.max (256 MiB)."""
    from neo4j import GraphDatabase

    auth = (settings.neo4j_user, settings.neo4j_password)
    with GraphDatabase.driver(settings.neo4j_uri, auth=auth) as driver:
        for statement in (
            "MATCH ()-[r:FLOWS_TO|CONTAINS]->() WITH r LIMIT 5000 DELETE r RETURN count(*) AS c",
            "MATCH (n) WHERE n:Node OR n:Trace WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS c",
        ):
            while driver.execute_query(statement, database_=settings.neo4j_database).records[0]["c"]:
                pass
