"""Lineage at scale (#12): p50/p99 of GET /api/v1/lineage/{key} (upstream and downstream, depth 3 and 10) and
of GET /api/v1/traces/{key}/graph (traces of 100 and 10,000 nodes) on a graph of about 1,000,000 nodes, beside
a raw reference measured in the same run: the same answer from the backend's own driver, one Cypher statement
per query (a bounded variable-length path from the labelled start node; for a trace, its nodes with their
outgoing edges), deduplicated in Python.

    python bench/lineage.py [--nodes 1000000] [--neo4j] [--samples 200] [--reuse DIR]

The graph (bench/lineage_graph.py) is loaded through GraphStore.apply into <data dir>/graph, which `ftel serve`
opens with FT_DATA_DIR=<data dir>; with --neo4j also into the test Neo4j (FT_TEST_NEO4J_*, cleared first),
served by `ftel api` on a fresh PostgreSQL database (FT_TEST_POSTGRES_URL), and cleared again at the end (the
test instance is shared). Loading takes minutes at 1M nodes: --reuse DIR keeps the embedded data dir for the
next run with the same --nodes and --seed; without it the data dir is removed at the end.

Query kinds: `chain` starts ≥ 11 hops inside chains of traces feeding each other (depth 10 walks 10 hops and is
truncated); `seed` starts at nodes of seed-mix traces (a few hops deep); `shared sink` walks upstream of a sink
that 1 trace in 50 writes to, and stops at the 5,000-node limit. The heavy kinds (shared sink, the
10,000-node trace) take --samples/10 samples (at least 10). Times are wall-clock per request (keep-alive HTTP
client), or per statement with its rows fetched, after a few unmeasured warm-up calls.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.settings import GraphBackend, Settings
from bench.lineage_graph import (
    NODE_LABELS,
    Keys,
    Rows,
    chain_nodes,
    clear_neo4j,
    counts,
    embedded_graph,
    neo4j_graph,
    settings,
    total_nodes,
)
from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, service_env

LABELS = {"file": "File", "data": "Data", "sink": "Sink"}
PUBLIC = ("key", "kind", "status", "reason", "code", "name", "trace", "user", "first_at", "last_at")
TARGETS = {"embedded": 50.0, "neo4j": 100.0}  # ms, p99 of lineage at depth 10
TRACE_GRAPH_TARGET = 300.0  # ms, p99 of a 10,000-node trace graph


@dataclass(frozen=True)
class Case:
    name: str
    direction: str  # upstream, downstream, or graph (a trace's graph)
    depth: int
    starts: list[tuple[str, str]]  # (key, kind); (trace key, "trace") for a trace graph
    heavy: bool = False


@dataclass
class Figures:
    backend: str
    case: Case
    api: list[float]
    raw: list[float]
    api_nodes: float
    api_truncated: float
    raw_nodes: float


def cases(keys: Keys) -> list[Case]:
    sinks = [(k, "sink") for k in keys.sinks]
    return [
        Case("upstream depth 3 (chain)", "upstream", 3, chain_nodes("upstream", 11)),
        Case("upstream depth 10 (chain)", "upstream", 10, chain_nodes("upstream", 11)),
        Case("downstream depth 3 (chain)", "downstream", 3, chain_nodes("downstream", 11)),
        Case("downstream depth 10 (chain)", "downstream", 10, chain_nodes("downstream", 11)),
        Case("upstream depth 10 (seed)", "upstream", 10, keys.seed_nodes),
        Case("downstream depth 10 (seed)", "downstream", 10, keys.seed_nodes),
        Case("upstream depth 3 (shared sink)", "upstream", 3, sinks, heavy=True),
        Case("upstream depth 10 (shared sink)", "upstream", 10, sinks, heavy=True),
        Case("trace graph (≤ 100 nodes)", "graph", 0, [(k, "trace") for k in keys.traces[100]]),
        Case("trace graph (≤ 10,000 nodes)", "graph", 0, [(k, "trace") for k in keys.traces[10_000]], heavy=True),
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


# -- the raw reference -------------------------------------------------------------------------------


def raw_statement(backend: str, direction: str, depth: int, kind: str) -> str:
    far = ", ".join(f"a.{f} AS {f}" for f in PUBLIC)
    if direction == "graph":
        return (
            "MATCH (t:Trace {key: $k})-[:CONTAINS]->(a) OPTIONAL MATCH (a)-[e:FLOWS_TO]->(b) "
            f"RETURN {far}, b.key AS target, e.op AS op"
        )
    start = f"(n:{LABELS[kind]} {{key: $k}})" if backend == "embedded" else "(n:Node {key: $k})"
    path = f"(a)-[:FLOWS_TO*1..{depth}]->{start}" if direction == "upstream" else f"{start}-[:FLOWS_TO*1..{depth}]->(a)"
    if backend == "embedded":
        steps = "properties(nodes(p), 'key') AS keys, properties(rels(p), 'op') AS ops"
    else:
        steps = "[x IN nodes(p) | x.key] AS keys, [r IN relationships(p) | r.op] AS ops"
    return f"MATCH p = {path} RETURN {far}, {steps}"


def raw_answer(rows: Rows, backend: str, case: Case, key: str, kind: str) -> int:
    """The query's answer from one raw statement: its nodes and edges, deduplicated; the node count (root included)."""
    found = rows(raw_statement(backend, case.direction, case.depth, kind), {"k": key})
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str, str]] = set()
    for r in found:
        nodes.setdefault(r["key"], {f: r[f] for f in PUBLIC})
        if case.direction == "graph":
            if r["target"] is not None:
                edges.add((r["key"], r["target"], r["op"]))
        else:
            edges.update(zip(r["keys"], r["keys"][1:], r["ops"], strict=False))
    return len(nodes) + (0 if case.direction == "graph" else 1)


@contextmanager
def embedded_rows(graph_dir: Path) -> Iterator[Rows]:
    """A read-only view of the embedded graph, beside the server's read-write one (as its query runner opens)."""
    import ladybug

    db = ladybug.Database(str(graph_dir), read_only=True, buffer_pool_size=1 << 30)
    conn = ladybug.Connection(db)

    def rows(cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        result = conn.execute(cypher, params)
        assert not isinstance(result, list)  # one statement, one result
        columns = result.get_column_names()
        return [dict(zip(columns, row, strict=True)) for row in result.get_all()]

    try:
        yield rows
    finally:
        conn.close()
        db.close()


@contextmanager
def neo4j_rows(settings: Settings) -> Iterator[Rows]:
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(settings.neo4j_uri, auth=(settings.neo4j_user, settings.neo4j_password))

    def rows(cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with driver.session(database=settings.neo4j_database) as session:
            return session.execute_read(lambda tx: [r.data() for r in tx.run(cypher, params)])

    try:
        yield rows
    finally:
        driver.close()


# -- measuring ---------------------------------------------------------------------------------------


def samples_of(case: Case, samples: int, seed: int) -> list[tuple[str, str]]:
    n = max(10, samples // 10) if case.heavy else samples
    rng = random.Random(f"{seed}-{case.name}")
    return [rng.choice(case.starts) for _ in range(n)]


def timed(calls: list[tuple[str, str]], call: Callable[[str, str], Any]) -> tuple[list[float], list[Any]]:
    for key, kind in calls[: min(5, len(calls))]:  # warm-up
        call(key, kind)
    times, answers = [], []
    for key, kind in calls:
        started = time.perf_counter()
        answers.append(call(key, kind))
        times.append((time.perf_counter() - started) * 1000)
    return times, answers


def api_call(api: Api, case: Case) -> Callable[[str, str], Any]:
    def call(key: str, _: str) -> Any:
        if case.direction == "graph":
            r = api.get(f"/traces/{quote(key, safe='')}/graph")
        else:
            r = api.get(f"/lineage/{quote(key, safe='')}", params={"direction": case.direction, "depth": case.depth})
        assert r.status_code == 200, f"{case.name} {key}: {r.status_code} {r.text[:300]}"
        return r

    return call


def measure(backend: str, rows: Rows, server: Server, samples: int, seed: int, keys: Keys) -> list[Figures]:
    """Each query kind, first raw then through the API, the same start nodes in the same order."""
    out = []
    try:
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        for case in cases(keys):
            calls = samples_of(case, samples, seed)

            def raw(key: str, kind: str, case: Case = case) -> int:
                return raw_answer(rows, backend, case, key, kind)

            raw_times, raw_nodes = timed(calls, raw)
            api_times, responses = timed(calls, api_call(api, case))
            bodies = [r.json() for r in responses]
            out.append(
                Figures(
                    backend,
                    case,
                    api_times,
                    raw_times,
                    api_nodes=sum(len(b["nodes"]) for b in bodies) / len(bodies),
                    api_truncated=sum(bool(b["truncated"]) for b in bodies) / len(bodies),
                    raw_nodes=sum(raw_nodes) / len(raw_nodes),
                )
            )
            print(f"  {backend} {case.name}: API p50 {percentile(api_times, 0.5):.1f} ms", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return out


def services_server(settings: Settings) -> tuple[Server, Callable[[], None]]:
    """`ftel api` (services mode) on a fresh PostgreSQL database and the test Neo4j; and how to drop the database."""
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    url = create_pg_database(admin_url)
    tmp = Path(tempfile.mkdtemp(prefix="ftel-lineage-api-"))
    env = dict(
        ADMIN,
        FT_DATABASE_URL=url,
        FT_GRAPH="neo4j",
        FT_NEO4J_URI=settings.neo4j_uri,
        FT_NEO4J_USER=settings.neo4j_user,
        FT_NEO4J_PASSWORD=settings.neo4j_password,
    )

    def cleanup() -> None:
        drop_pg_database(admin_url, url)
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        return Server(env, "api", tmp), cleanup
    except Exception:
        cleanup()
        raise


# -- output ------------------------------------------------------------------------------------------


def report_graph(backend: str, loaded: dict[str, Any], kept: bool, found: dict[str, int]) -> None:
    how = "kept from an earlier run, which loaded it in" if kept else "loaded in"
    print(
        f"{backend}: {how} {loaded['seconds']:.1f} s: {loaded['events']:,} events of {loaded['traces']:,} traces "
        f"through project() → GraphStore.apply ({loaded['events'] / loaded['seconds']:,.0f} events/s)"
    )
    labels = ", ".join(f"{label} {found[label]:,}" for label in NODE_LABELS)
    print(
        f"{backend} graph: {total_nodes(found):,} nodes ({labels}), "
        f"{found['FLOWS_TO']:,} FLOWS_TO, {found['CONTAINS']:,} CONTAINS"
    )


def table(figures: list[Figures]) -> None:
    print()
    print(
        f"{'backend':9s} {'query':32s} {'n':>4s}  {'API p50':>8s} {'p99':>8s}  {'raw p50':>8s} {'p99':>8s}  "
        f"{'API/raw p50':>11s} {'p99':>5s}  {'nodes':>7s} {'raw':>7s} {'trunc':>5s}"
    )
    for f in figures:
        a50, a99 = percentile(f.api, 0.5), percentile(f.api, 0.99)
        r50, r99 = percentile(f.raw, 0.5), percentile(f.raw, 0.99)
        print(
            f"{f.backend:9s} {f.case.name:32s} {len(f.api):4d}  {a50:8.1f} {a99:8.1f}  {r50:8.1f} {r99:8.1f}  "
            f"{a50 / r50:11.1f} {a99 / r99:5.1f}  {f.api_nodes:7.0f} {f.raw_nodes:7.0f} {f.api_truncated:5.0%}"
        )
    print("(ms; nodes: mean nodes per answer, the root included for lineage; raw: the raw statement's, without the")
    print(" 5,000-node limit; trunc: share of answers with truncated: true)")
    print()
    for f in figures:
        if f.case.depth == 10 and "(chain)" in f.case.name:
            target = TARGETS[f.backend]
        elif f.case.direction == "graph" and f.case.heavy:
            target = TRACE_GRAPH_TARGET
        else:
            continue
        p99 = percentile(f.api, 0.99)
        print(
            f"target {f.backend} {f.case.name}: API p99 {p99:.1f} ms < {target:.0f} ms: {'met' if p99 < target else 'MISSED'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes in the graph, trace nodes included")
    parser.add_argument("--neo4j", action="store_true", help="also load and measure the test Neo4j (services mode)")
    parser.add_argument("--samples", type=int, default=200, help="requests per query kind (heavy kinds: a tenth)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", type=Path, metavar="DIR", help="keep the loaded graphs in DIR for the next run")
    args = parser.parse_args()

    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix="ftel-lineage-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    neo4j = settings(
        data_dir=data_dir,
        graph=GraphBackend.neo4j,
        neo4j_uri=service_env("FT_TEST_NEO4J_URI") if args.neo4j else "bolt://127.0.0.1:7687",
        neo4j_user=os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        neo4j_password=os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
    )
    figures: list[Figures] = []
    try:
        manifest, keys, kept = embedded_graph(data_dir, args.nodes, args.seed)
        server = Server(dict(ADMIN), "serve", data_dir)  # opens <data dir>/graph read-write
        with embedded_rows(data_dir / "graph") as rows:
            report_graph("embedded", manifest["embedded"], kept, counts(rows))
            figures += measure("embedded", rows, server, args.samples, args.seed, keys)
        if args.neo4j:
            loaded = neo4j_graph(neo4j, manifest)
            with neo4j_rows(neo4j) as rows:
                report_graph("neo4j", asdict(loaded), False, counts(rows))
                server, cleanup = services_server(neo4j)
                try:
                    figures += measure("neo4j", rows, server, args.samples, args.seed, keys)
                finally:
                    cleanup()
        table(figures)
    finally:
        if args.reuse is None:
            shutil.rmtree(data_dir, ignore_errors=True)
        if args.neo4j:
            clear_neo4j(neo4j)


if __name__ == "__main__":
    main()
