"""Each stage of the ingest pipeline beside its raw reference, in the same run, the median of --repeat runs
(raw first in odd runs, ours first in even runs, so neither side always gets the warm caches).

    python bench/stages.py [--events 50000] [--batch 1000] [--repeat 3] [--neo4j]

Stages, per batch of the seed mix (bench/workload.py), what the service runs against the least that stage
could do:
- validate: `validate_events` on the parsed batch (the production function: envelope checks, canonical
  payload, dedup key) plus `orjson.loads` of the body, against `orjson.loads` alone;
- store: `SqlEventLog.insert` (the production statement: one multi-row INSERT … ON CONFLICT DO NOTHING
  RETURNING, with node rows) into the service's SQLite schema, against sqlite3 `executemany` of the same
  rows into the same schema (bench/rest_ingest.py's raw stage);
- project: `project()` (events folded into node, edge, trace rows) against a dict fold of node keys;
- graph merge, three passes on each store: new nodes, the same batches again (every node and edge exists),
  and status events over existing nodes (the workload's file events an hour later); `GraphStore.apply`
  against a raw driver UNWIND loop (bench/graph_merge.py's raw loops; the status pass: UNWIND MATCH SET).
  Batches of FT_PROJECTOR_MERGE_EVENTS (5,000), logs left out (they only change counts read from the log).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.domain.events import format_time, validate_events
from backend.domain.projection import StoredEvent, project
from bench.graph_merge import LABEL, raw_embedded, raw_neo4j, raw_rows, run_store
from bench.rest_ingest import raw_rows as raw_sql_rows
from bench.rest_ingest import raw_sqlite
from bench.workload import seed_mix
from graph.base import GraphStore

MERGE_BATCH = 5000
T = TypeVar("T")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def later(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workload's file events an hour later: a status pass over nodes that exist."""
    out = []
    for e in events:
        if e["type"].startswith("file."):
            at = datetime.fromisoformat(e["time"].replace("Z", "+00:00")) + timedelta(hours=1)
            out.append({**e, "time": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    return out


def stored_batches(events: list[dict[str, Any]], size: int) -> list[list[StoredEvent]]:
    accepted, _ = validate_events(events, "bench", datetime.now(UTC))
    stored = [StoredEvent(k, a.envelope, a.envelope.trace, format_time(a.time)) for k, a in enumerate(accepted)]
    return [stored[k : k + size] for k in range(0, len(stored), size)]


# -- validate, store, project ------------------------------------------------------------------------------


def validate_ours(bodies: list[bytes]) -> None:
    now = datetime.now(UTC)
    for body in bodies:
        validate_events(orjson.loads(body), "rest:bench", now)


def validate_raw(bodies: list[bytes]) -> None:
    for body in bodies:
        orjson.loads(body)


def store_ours(path: Path, events: list[dict[str, Any]], batch: int) -> float:
    from backend.bootstrap import open_engine
    from backend.db.engine import upgrade
    from backend.db.event_log import SqlEventLog
    from backend.domain.ingest import _Item, _new_event
    from backend.settings import Settings

    settings = Settings(data_dir=path)
    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    log = SqlEventLog(engine)
    now = datetime.now(UTC)
    rows = []
    for k in range(0, len(events), batch):
        accepted, _ = validate_events(events[k : k + batch], "rest:bench", now)
        rows.append([_new_event(_Item(ev, "rest:bench", None), None) for ev in accepted])
    started = time.perf_counter()
    for chunk in rows:
        log.insert(chunk)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def project_raw(chunks: list[list[StoredEvent]]) -> None:
    for chunk in chunks:
        fold: dict[str, int] = {}
        for ev in chunk:
            env = ev.envelope
            for ref in ([env.node] if env.node else []) + list(env.inputs) + list(env.outputs):
                fold[ref.key] = fold.get(ref.key, 0) + 1


def project_ours(chunks: list[list[StoredEvent]]) -> None:
    for chunk in chunks:
        project(chunk)


# -- graph: the status pass's raw loops ----------------------------------------------------------------------


def raw_status_rows(chunks: list[list[StoredEvent]]) -> list[dict[str, list[dict[str, str]]]]:
    out = []
    for chunk in chunks:
        by_kind: dict[str, list[dict[str, str]]] = {}
        for n in project(chunk).batch.nodes:
            by_kind.setdefault(n.kind, []).append({"key": n.key, "status": n.status or "", "at": n.last_at or ""})
        out.append(by_kind)
    return out


def raw_status_embedded(path: Path, rows: list[Any]) -> float:
    import ladybug

    from backend.settings import Settings

    db = ladybug.Database(str(path), buffer_pool_size=Settings().graph_buffer_mb * 1024 * 1024)
    conn = ladybug.Connection(db)
    for label in LABEL.values():
        conn.execute(f"ALTER TABLE {label} ADD status STRING DEFAULT ''")
        conn.execute(f"ALTER TABLE {label} ADD last_at STRING DEFAULT ''")
    started = time.perf_counter()
    for by_kind in rows:
        conn.execute("BEGIN TRANSACTION")
        for kind, nodes in by_kind.items():
            conn.execute(
                f"UNWIND $rows AS r MATCH (n:{LABEL[kind]} {{key: r.key}}) SET n.status = r.status, n.last_at = r.at",
                {"rows": nodes},
            )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    db.close()
    return elapsed


def raw_status_neo4j(uri: str, auth: tuple[str, str], rows: list[Any], graph_rows: list[Any]) -> float:
    """Loads the raw nodes again (raw_neo4j leaves nothing behind), then times the status pass alone."""
    from neo4j import GraphDatabase

    with GraphDatabase.driver(uri, auth=auth) as driver:
        driver.execute_query("CREATE CONSTRAINT raw_bench IF NOT EXISTS FOR (n:RawBench) REQUIRE n.key IS UNIQUE")
        for by_kind, _ in graph_rows:
            for nodes in by_kind.values():
                driver.execute_query("UNWIND $rows AS r MERGE (n:RawBench {key: r.key})", rows=nodes)
        started = time.perf_counter()
        for by_kind in rows:
            with driver.session() as session:

                def work(tx: Any, by_kind: dict[str, list[Any]] = by_kind) -> None:
                    for nodes in by_kind.values():
                        tx.run(
                            "UNWIND $rows AS r MATCH (n:RawBench {key: r.key}) SET n.status = r.status, n.last_at = r.at",
                            rows=nodes,
                        ).consume()

                session.execute_write(work)
        elapsed = time.perf_counter() - started
        driver.execute_query("MATCH (n:RawBench) DETACH DELETE n")
        driver.execute_query("DROP CONSTRAINT raw_bench IF EXISTS")
    return elapsed


def graph_ours(store: GraphStore, chunks: list[list[StoredEvent]], status: list[list[StoredEvent]]) -> list[float]:
    new = run_store(store, chunks)[0]
    existing = run_store(store, chunks, clear=False)[0]
    statuses = run_store(store, status, clear=False)[0]
    return [new, existing, statuses]


def in_turn(raw_first: bool, ours: Callable[[], T], raw: Callable[[], T]) -> tuple[T, T]:
    """(ours, raw), run in the order asked."""
    if raw_first:
        raw_result = raw()
        return ours(), raw_result
    ours_result = ours()
    return ours_result, raw()


# -- the run -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per request / store transaction")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is printed")
    parser.add_argument("--neo4j", action="store_true", help="also the graph stages on FT_TEST_NEO4J_URI")
    args = parser.parse_args()

    events = seed_mix(args.events)
    bodies = [orjson.dumps(events[k : k + args.batch]) for k in range(0, len(events), args.batch)]
    graph_events = [e for e in events if e["type"] != "log"]
    chunks = stored_batches(graph_events, MERGE_BATCH)
    status = stored_batches(later(graph_events), MERGE_BATCH)
    graph_rows, status_rows = raw_rows(chunks), raw_status_rows(status)
    sql_rows = raw_sql_rows(events)
    n, n_graph, n_status = len(events), len(graph_events), sum(len(c) for c in status)
    print(
        f"seed mix: {n:,} events ({n_graph:,} without logs for the graph, {n_status:,} status events); "
        f"batches of {args.batch} (graph: {MERGE_BATCH}); median of {args.repeat} runs"
    )

    results: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, ours: float, raw: float) -> None:
        results.setdefault(name, []).append((ours, raw))

    for run in range(args.repeat):
        raw_first = run % 2 == 0
        tmp = Path(tempfile.mkdtemp(prefix="ftel-stages-"))
        try:
            pairs: list[tuple[str, Callable[[], float], Callable[[], float]]] = [
                ("validate", lambda: timed(lambda: validate_ours(bodies)), lambda: timed(lambda: validate_raw(bodies))),
                (
                    "store (SQLite)",
                    lambda tmp=tmp: store_ours(tmp / "ours", events, args.batch),
                    lambda tmp=tmp: raw_sqlite(tmp / "raw", sql_rows),
                ),
                ("project", lambda: timed(lambda: project_ours(chunks)), lambda: timed(lambda: project_raw(chunks))),
            ]
            for name, ours_fn, raw_fn in pairs:
                record(name, *in_turn(raw_first, ours_fn, raw_fn))
            graph_stages(tmp, chunks, status, graph_rows, status_rows, raw_first, args.neo4j, record)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"  run {run + 1}/{args.repeat} done ({'raw' if raw_first else 'ours'} first)", flush=True)

    sizes = {"validate": n, "store (SQLite)": n, "project": n_graph}
    print()
    print(f"{'stage':<36} {'ours ev/s':>11} {'raw ev/s':>11} {'ratio':>6}   spread of ours (min–max s)")
    for name, runs in results.items():
        count = sizes.get(name, n_status if "status" in name else n_graph)
        ours_s = statistics.median(o for o, _ in runs)
        raw_s = statistics.median(r for _, r in runs)
        spread = f"{min(o for o, _ in runs):.2f}–{max(o for o, _ in runs):.2f}"
        print(f"{name:<36} {count / ours_s:>11,.0f} {count / raw_s:>11,.0f} {raw_s / ours_s:>6.2f}   {spread}")


def graph_stages(
    tmp: Path,
    chunks: list[list[StoredEvent]],
    status: list[list[StoredEvent]],
    graph_rows: list[Any],
    status_rows: list[Any],
    raw_first: bool,
    neo4j: bool,
    record: Callable[[str, float, float], None],
) -> None:
    from backend.settings import Settings
    from graph.embedded import EmbeddedGraphStore

    def ours_embedded() -> list[float]:
        store = EmbeddedGraphStore(tmp / "graph", buffer_mb=Settings().graph_buffer_mb)
        try:
            return graph_ours(store, chunks, status)
        finally:
            store.close()

    def raw_embedded_all() -> list[float]:
        new, existing = raw_embedded(tmp / "raw-graph", graph_rows)
        return [new, existing, raw_status_embedded(tmp / "raw-graph", status_rows)]

    stores: list[tuple[str, Callable[[], list[float]], Callable[[], list[float]]]] = [
        ("embedded", ours_embedded, raw_embedded_all)
    ]
    if neo4j:
        from graph.neo4j import Neo4jGraphStore

        uri = os.environ["FT_TEST_NEO4J_URI"]
        auth = (os.environ.get("FT_TEST_NEO4J_USER", "neo4j"), os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"))

        def ours_neo4j() -> list[float]:
            store = Neo4jGraphStore(uri, *auth)
            try:
                return graph_ours(store, chunks, status)
            finally:
                store.clear()
                store.close()

        def raw_neo4j_all() -> list[float]:
            new, existing = raw_neo4j(uri, auth, graph_rows)
            return [new, existing, raw_status_neo4j(uri, auth, status_rows, graph_rows)]

        stores.append(("neo4j", ours_neo4j, raw_neo4j_all))
    for name, ours_fn, raw_fn in stores:
        ours, raw = in_turn(raw_first, ours_fn, raw_fn)
        for label, o, r in zip(("new nodes", "existing nodes", "status events"), ours, raw, strict=True):
            record(f"graph {name}: {label}", o, r)


if __name__ == "__main__":
    main()
