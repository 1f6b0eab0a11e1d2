"""REST ingestion of the all-in-one (`ftel serve` on its defaults: SQLite, embedded graph, flow control on),
over HTTP from client threads, beside the raw SQLite stage in the same run.

    python bench/rest_ingest.py [--events 100000] [--batch 1000] [--threads 2] [--mix seed|flow] [--seconds 0]

- acknowledged: events answered 202 (stored once in the event log) per second, and the per-batch latency;
- graph caught up: time from the last answer until `GET /readyz` says no stored event waits for the graph;
- RSS of the server process (with its children: the embedded Redis), sampled every second, max printed;
- raw SQLite stage: `executemany` of the same events, as JSON, with their node rows, into the service's own
  schema (same tables and indexes, made by its migrations), one transaction per batch: the cost of storing
  them durably, with nothing else.
With `--seconds N` the clients send for N seconds instead (the workload repeats under fresh trace keys),
for a sustained run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.settings import Settings
from bench.workload import flow_only, seed_mix
from tests.conftest import ADMIN, Api, Server, clear_neo4j, create_pg_database, drop_pg_database

BATCH = 1000  # events per raw transaction (--batch sets it)
PREFIX = "bench"  # the workload's keys start with it (and nothing else in an event says it)


def raw_rows(events: list[dict[str, Any]]) -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Per batch of the workload: event rows (id, uuid, dedup key, …, payload) and node rows, as the
    service would store them, built before the clock starts."""
    out = []
    next_id = 1
    for k in range(0, len(events), BATCH):
        rows, links = [], []
        for e in events[k : k + BATCH]:
            payload = orjson.dumps(e, option=orjson.OPT_SORT_KEYS).decode()
            key = hashlib.sha256(payload.encode()).hexdigest()
            node = e.get("node")
            at = datetime.fromisoformat(e["time"])
            rows.append(
                (
                    next_id,
                    str(uuid.UUID(key[:32])),
                    key,
                    "bench",
                    e["type"],
                    e.get("trace"),
                    node["key"] if node else None,
                    e.get("level"),
                    e.get("user"),
                    at,
                    at,
                    payload,
                )
            )
            for n in [node] if node else [*e.get("inputs", []), *e.get("outputs", [])]:
                links.append((next_id, n["key"], n["kind"], "node"))
            next_id += 1
        out.append((rows, links))
    return out


def _schema(settings: Settings) -> None:
    from backend.bootstrap import open_engine
    from backend.db.engine import upgrade

    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    engine.dispose()


_RAW_INSERT = (
    "INSERT INTO events (id, uuid, dedup_key, channel, type, trace_key, node_key, level, user_id, created_at, "
    "received_at, payload, projected) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, false) "
    "ON CONFLICT DO NOTHING"
)
_RAW_LINKS = "INSERT INTO event_nodes (event_id, node_key, kind, role) VALUES ({p}, {p}, {p}, {p})"


def raw_sqlite(path: Path, batches: list[Any]) -> float:
    """The service's schema (its migrations), plain sqlite3 executemany: events and their node rows."""
    settings = Settings(data_dir=path)
    _schema(settings)
    conn = sqlite3.connect(settings.data_dir / "ftel.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    for rows, links in batches:
        conn.execute("BEGIN")
        conn.executemany(
            _RAW_INSERT.format(p="?"), [(*r[:9], r[9].isoformat(" "), r[10].isoformat(" "), r[11]) for r in rows]
        )
        conn.executemany(_RAW_LINKS.format(p="?"), links)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def raw_postgres(url: str, batches: list[Any]) -> float:
    """The same on PostgreSQL: the service's schema, psycopg executemany (pipelined), one transaction per batch."""
    import psycopg

    _schema(Settings(data_dir=Path(tempfile.mkdtemp(prefix="ftel-bench-pg-")), database_url=url))
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        started = time.perf_counter()
        for rows, links in batches:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_RAW_INSERT.format(p="%s"), rows)
                cur.executemany(_RAW_LINKS.format(p="%s"), links)
        return time.perf_counter() - started


class RssSampler(threading.Thread):
    """The server's RSS (and its children's) every second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.samples.append(sum(p.memory_info().rss for p in procs) / 2**20)
            except psutil.Error:
                return


def send(
    api: Api, batches: list[bytes], thread: int, latencies: list[float], counts: list[int], until: float | None
) -> None:
    """Send the batches; with a deadline, again and again under fresh keys (the workload's key prefix
    replaced) until it passes."""
    headers = {"content-type": "application/json"}
    round_ = 0
    while True:
        for body in batches:
            if until is not None and time.perf_counter() > until:
                return
            if round_:
                body = body.replace(PREFIX.encode(), b"%s%dx%d" % (PREFIX.encode(), thread, round_))
            t = time.perf_counter()
            r = api.http.post("/api/v1/events", content=body, headers=headers)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 202, r.text[:300]
            answer = r.json()
            assert not answer["rejected"], answer["rejected"][:3]
            counts.append(answer["accepted"] + answer["buffered"])
        if until is None:
            return
        round_ += 1


def wait_caught_up(api: Api, timeout: float = 600) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        ready = api.http.get("/readyz").json()
        projection = ready.get("projection") or {}
        if projection.get("pending") == 0 and projection.get("queued") == 0:
            return time.perf_counter() - started, projection
        time.sleep(0.05)
    raise RuntimeError(f"the graph did not catch up in {timeout} s: {ready}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    global BATCH
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events of the workload (default 100,000)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="client threads (default 2)")
    parser.add_argument("--mix", choices=("seed", "flow"), default="seed")
    parser.add_argument("--seconds", type=float, default=0, help="send for this long instead (repeats the workload)")
    parser.add_argument(
        "--services",
        action="store_true",
        help="services mode: `ftel api` on PostgreSQL + Neo4j + Redis (FT_TEST_* from scripts/services.sh; "
        "clears that Neo4j); the raw stage is psycopg executemany into PostgreSQL",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir (printed)")
    args = parser.parse_args()
    BATCH = args.batch

    tmp = Path(tempfile.mkdtemp(prefix="ftel-bench-rest-"))
    events = (seed_mix if args.mix == "seed" else flow_only)(args.events, prefix=PREFIX)
    (tmp / "server").mkdir()
    # the service's own defaults, not the tests' quicker catch-up
    env, command, cleanup = (
        {**ADMIN, "FT_PROJECTOR_INTERVAL_SECONDS": "2", "FT_PROJECTOR_GRACE_SECONDS": "5"},
        "serve",
        [],
    )
    if args.services:
        admin_url = os.environ["FT_TEST_POSTGRES_URL"]
        url = create_pg_database(admin_url)
        cleanup.append(lambda: drop_pg_database(admin_url, url))
        env.update(
            FT_DATABASE_URL=url,
            FT_GRAPH="neo4j",
            FT_NEO4J_URI=os.environ["FT_TEST_NEO4J_URI"],
            FT_NEO4J_USER=os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
            FT_NEO4J_PASSWORD=os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
            FT_REDIS_URL=os.environ["FT_TEST_REDIS_URL"],
        )
        command = "api"
        clear_neo4j()
    server = Server(env, command, tmp / "server")
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    try:
        apis = [
            Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"]) for _ in range(args.threads)
        ]
        for api in apis:
            api.http.timeout = httpx.Timeout(120)
        shares: list[list[bytes]] = [[] for _ in range(args.threads)]
        for n, k in enumerate(range(0, len(events), args.batch)):
            shares[n % args.threads].append(orjson.dumps(events[k : k + args.batch]))
        latencies: list[float] = []
        counts: list[int] = []
        cpu_before = sampler.process.cpu_times()
        started = time.perf_counter()
        until = started + args.seconds if args.seconds else None
        threads = [
            threading.Thread(target=send, args=(api, share, t, latencies, counts, until))
            for t, (api, share) in enumerate(zip(apis, shares, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked_in = time.perf_counter() - started
        catch_up, projection = wait_caught_up(apis[0])
        cpu_after = sampler.process.cpu_times()
        cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        sampler.stopped.set()
        sampler.join()
        graph = apis[0].http.get("/api/v1/traces", params={"limit": 1}).json()
        assert graph["items"], "no trace in the graph"
    finally:
        sampler.stopped.set()
        server.stop()
    acked = sum(counts)
    batches = raw_rows(events)
    if args.services:
        raw_url = create_pg_database(os.environ["FT_TEST_POSTGRES_URL"])
        try:
            raw = raw_postgres(raw_url, batches)
        finally:
            drop_pg_database(os.environ["FT_TEST_POSTGRES_URL"], raw_url)
    else:
        raw = raw_sqlite(tmp / "raw", batches)
    for fn in cleanup:
        fn()
    if args.keep:
        print(f"data dir kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    ours = acked / acked_in
    raw_rate = len(events) / raw
    stack = "services (ftel api: PostgreSQL + Neo4j + Redis)" if args.services else "all-in-one (ftel serve)"
    print(
        f"{stack}, {args.mix} mix, {acked} events in batches of {args.batch} from {args.threads} client threads"
        + (f", sustained {args.seconds:.0f} s" if args.seconds else "")
    )
    print(
        f"REST /events acknowledged:     {ours:9.0f} events/s  ({acked_in:.2f} s; per batch p50 "
        f"{percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"{len(latencies)} batches)"
    )
    print(
        f"graph caught up:               {catch_up:9.2f} s after the last answer "
        f"(projected through {projection.get('projected_through')})"
    )
    print(f"  acknowledged + caught up:    {acked / (acked_in + catch_up):9.0f} events/s")
    print(
        f"server CPU (user + system):    {cpu * 1e6 / acked:9.0f} µs per event, sending and catching up "
        f"({cpu / (acked_in + catch_up):.2f} cores busy)"
    )
    print(
        f"server RSS (with children):    max {max(sampler.samples, default=0):.0f} MiB over {len(sampler.samples)} samples"
    )
    name = "raw PostgreSQL stage" if args.services else "raw SQLite stage"
    print(f"{name} (same schema): {raw_rate:9.0f} events/s  ({raw:.2f} s for {len(events)} events)")
    print(f"ratio acknowledged/raw: {ours / raw_rate:.3f}")


if __name__ == "__main__":
    main()
