"""Graph merge throughput through GraphStore.apply, beside a raw driver UNWIND loop over the same rows.

    python bench/graph_merge.py [--events 20000] [--mix flow|seed] [--batch 5000] [--neo4j]

Events: bench/workload.py (`flow`, the default: every event a new edge and new nodes, the graph's worst
case; or `seed`). Each batch is folded per node (backend.domain.projection.project) as the projector does.
Two passes on each store: into an empty graph (new nodes, the embedded store's fast path), then the same
batches again (every node and edge exists: the merge path). The raw reference merges the same node keys
and edges with the backend's own driver and minimal Cypher (no status/time logic), in the same run and
the same two passes; on Neo4j the raw loop runs first, so the JVM is warm for ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.domain.events import format_time, validate_events
from backend.domain.projection import StoredEvent, project
from bench.workload import flow_only, seed_mix
from graph.base import GraphStore


def batches(events: list[dict[str, Any]], size: int) -> list[list[StoredEvent]]:
    accepted, _ = validate_events(events, "bench", datetime.now(UTC))
    stored = [StoredEvent(k, a.envelope, a.envelope.trace, format_time(a.time)) for k, a in enumerate(accepted)]
    return [stored[k : k + size] for k in range(0, len(stored), size)]


def run_store(store: GraphStore, chunks: list[list[StoredEvent]], clear: bool = True) -> tuple[float, int, int]:
    if clear:
        store.clear()
    nodes = rels = 0
    started = time.perf_counter()
    for chunk in chunks:
        batch = project(chunk).batch
        nodes += len(batch.nodes)
        rels += len(batch.flows)
        store.apply(batch)
    return time.perf_counter() - started, nodes, rels


def raw_rows(chunks: list[list[StoredEvent]]) -> list[tuple[dict[str, list[dict[str, str]]], list[dict[str, str]]]]:
    out = []
    for chunk in chunks:
        batch = project(chunk).batch
        by_kind: dict[str, list[dict[str, str]]] = {}
        for n in batch.nodes:
            by_kind.setdefault(n.kind, []).append({"key": n.key})
        out.append(
            (
                by_kind,
                [
                    {"s": f.source, "sk": f.source_kind, "t": f.target, "tk": f.target_kind, "op": f.op}
                    for f in batch.flows
                ],
            )
        )
    return out


LABEL = {"file": "File", "data": "Data", "sink": "Sink"}


def raw_embedded(path: Path, rows: list[Any]) -> tuple[float, float]:
    """Both passes (empty graph, then the same rows again) with plain MERGE; the same buffer pool as ours."""
    import ladybug

    from backend.settings import Settings

    db = ladybug.Database(str(path), buffer_pool_size=Settings().graph_buffer_mb * 1024 * 1024)
    conn = ladybug.Connection(db)
    for label in LABEL.values():
        conn.execute(f"CREATE NODE TABLE {label}(key STRING, PRIMARY KEY(key))")
    pairs = ", ".join(f"FROM {a} TO {b}" for a in LABEL.values() for b in LABEL.values())
    conn.execute(f"CREATE REL TABLE FLOWS_TO({pairs}, op STRING)")
    passes = []
    for _ in range(2):
        started = time.perf_counter()
        for by_kind, flows in rows:
            conn.execute("BEGIN TRANSACTION")
            for kind, nodes in by_kind.items():
                conn.execute(f"UNWIND $rows AS r MERGE (n:{LABEL[kind]} {{key: r.key}})", {"rows": nodes})
            groups: dict[tuple[str, str], list[dict[str, str]]] = {}
            for f in flows:
                groups.setdefault((f["sk"], f["tk"]), []).append(f)
            for (sk, tk), group in groups.items():
                conn.execute(
                    f"UNWIND $rows AS r MATCH (a:{LABEL[sk]} {{key: r.s}}) MATCH (b:{LABEL[tk]} {{key: r.t}}) "
                    "MERGE (a)-[e:FLOWS_TO {op: r.op}]->(b)",
                    {"rows": group},
                )
            conn.execute("COMMIT")
        passes.append(time.perf_counter() - started)
    conn.close()
    db.close()
    return passes[0], passes[1]


def raw_neo4j(uri: str, auth: tuple[str, str], rows: list[Any]) -> tuple[float, float]:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(uri, auth=auth) as driver:
        driver.execute_query("MATCH (n:RawBench) DETACH DELETE n")
        driver.execute_query("CREATE CONSTRAINT raw_bench IF NOT EXISTS FOR (n:RawBench) REQUIRE n.key IS UNIQUE")
        passes = []
        for _ in range(2):
            started = time.perf_counter()
            for by_kind, flows in rows:
                with driver.session() as session:

                    def work(tx: Any, by_kind: dict[str, list[Any]] = by_kind, flows: list[Any] = flows) -> None:
                        for nodes in by_kind.values():
                            tx.run("UNWIND $rows AS r MERGE (n:RawBench {key: r.key})", rows=nodes).consume()
                        tx.run(
                            "UNWIND $rows AS r MATCH (a:RawBench {key: r.s}) MATCH (b:RawBench {key: r.t}) "
                            "MERGE (a)-[e:RAW_FLOWS {op: r.op}]->(b)",
                            rows=flows,
                        ).consume()

                    session.execute_write(work)
            passes.append(time.perf_counter() - started)
        driver.execute_query("MATCH (n:RawBench) DETACH DELETE n")
        driver.execute_query("DROP CONSTRAINT raw_bench IF EXISTS")
    return passes[0], passes[1]


def report(name: str, ours: list[tuple[float, int, int]], raw: tuple[float, float], events: int) -> None:
    for label, (seconds, nodes, rels), raw_seconds in zip(("new nodes", "existing"), ours, raw, strict=True):
        print(
            f"{name:8s} {label:9s} GraphStore.apply: {events / seconds:9.0f} events/s  "
            f"({nodes} node rows, {rels} edge rows, {seconds:.2f} s)"
        )
        print(f"{name:8s} {label:9s} raw UNWIND loop:  {events / raw_seconds:9.0f} events/s  ({raw_seconds:.2f} s)")
        print(f"{name:8s} {label:9s} ratio GraphStore/raw: {raw_seconds / seconds:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--mix", choices=("flow", "seed"), default="flow")
    parser.add_argument(
        "--batch", type=int, default=5000, help="events per merge (FT_PROJECTOR_MERGE_EVENTS, default 5000)"
    )
    parser.add_argument("--neo4j", action="store_true", help="also run against FT_TEST_NEO4J_URI")
    args = parser.parse_args()
    events = (flow_only if args.mix == "flow" else seed_mix)(args.events)
    events = [e for e in events if e["type"] != "log"]  # logs only change counts, from the event log
    chunks = batches(events, args.batch)
    rows = raw_rows(chunks)
    print(f"{args.mix} mix: {len(events)} events (logs left out), batches of {args.batch}")
    tmp = Path(tempfile.mkdtemp(prefix="ftel-bench-"))
    try:
        from backend.settings import Settings
        from graph.embedded import EmbeddedGraphStore

        store = EmbeddedGraphStore(tmp / "graph", buffer_mb=Settings().graph_buffer_mb)
        ours = [run_store(store, chunks), run_store(store, chunks, clear=False)]
        store.close()
        report("embedded", ours, raw_embedded(tmp / "raw", rows), len(events))
        if args.neo4j:
            from graph.neo4j import Neo4jGraphStore

            uri = os.environ["FT_TEST_NEO4J_URI"]
            auth = (os.environ.get("FT_TEST_NEO4J_USER", "neo4j"), os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"))
            raw = raw_neo4j(uri, auth, rows)  # first: the JVM warms up on the raw loop, not on ours
            neo = Neo4jGraphStore(uri, *auth)
            ours = [run_store(neo, chunks), run_store(neo, chunks, clear=False)]
            neo.clear()
            neo.close()
            report("neo4j", ours, raw, len(events))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
