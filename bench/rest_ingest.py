"""REST ingestion throughput of the all-in-one (validate + dedup store + graph merge, over HTTP),
beside a raw sqlite executemany of the same rows into a table with a unique dedup index.

    python bench/rest_ingest.py [--events 20000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.graph_merge import make_events
from tests.conftest import ADMIN, Api, Server


def raw_sqlite(path: Path, events: list[dict], batch: int) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, dedup_key TEXT UNIQUE, type TEXT, trace_key TEXT, payload TEXT)"
    )
    started = time.perf_counter()
    for k in range(0, len(events), batch):
        rows = []
        for e in events[k : k + batch]:
            payload = json.dumps(e, sort_keys=True)
            rows.append((hashlib.sha256(payload.encode()).hexdigest(), e["type"], e.get("trace"), payload))
        conn.executemany("INSERT OR IGNORE INTO events (dedup_key, type, trace_key, payload) VALUES (?, ?, ?, ?)", rows)
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    events = make_events(args.events)
    tmp = Path(tempfile.mkdtemp(prefix="ftel-bench-"))
    server = Server(dict(ADMIN), "serve", tmp)
    try:
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        latencies = []
        started = time.perf_counter()
        for k in range(0, len(events), args.batch):
            t = time.perf_counter()
            r = api.post("/events", json=events[k : k + args.batch])
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 202 and r.json()["accepted"] == len(events[k : k + args.batch]), r.text
        ours = time.perf_counter() - started
    finally:
        server.stop()
    raw = raw_sqlite(tmp / "raw.sqlite3", events, args.batch)
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"REST /events (store + graph): {args.events / ours:8.0f} events/s  ({ours:.2f} s; batch {args.batch}: "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms)"
    )
    print(f"raw sqlite executemany:       {args.events / raw:8.0f} events/s  ({raw:.2f} s)")
    print(f"ratio REST/raw: {raw / ours:.3f}")


if __name__ == "__main__":
    main()
