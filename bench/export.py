"""An export of every stored event through the all-in-one (`ftel serve`: POST /exports, the runner in the
server) beside a raw reference in the same run: one `SELECT` of the same columns of the same rows with the
sqlite3 module, each row joined into a line and gzip'd (zlib level 6, streamed), as the least an export of
them could cost. Also the server's RSS, sampled every 20 ms, before and during the export.

    python bench/export.py [--events 1000000] [--chunk-events 50000]

The ratio is raw time / our time (1.00: as fast as the raw SELECT + gzip). Events are the seed mix
(bench/workload.py), stored as the ingest pipeline stores them and marked merged, so that the server's graph
merge does not run beside the export.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from itertools import chain, islice
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from backend.bootstrap import open_engine
from backend.db.engine import upgrade
from backend.settings import Settings
from bench.rollup import load
from bench.workload import seed_traces
from tests.ports import free_port

ADMIN = {"FT_ADMIN_CLIENT_ID": "bench-admin", "FT_ADMIN_CLIENT_SECRET": "bench-admin-secret-123"}
RAW = (
    "SELECT e.id, e.uuid, e.type, e.created_at, e.received_at, e.trace_key, e.node_key, e.user_id, e.channel, "
    "a.uuid, e.payload FROM events e LEFT JOIN accounts a ON a.id = e.account_id ORDER BY e.id"
)


def raw_select_gzip(db: Path) -> tuple[float, int]:
    """The raw reference: seconds and gzip'd bytes."""
    started = time.perf_counter()
    packer, size = zlib.compressobj(6, zlib.DEFLATED, 31), 0
    conn = sqlite3.connect(db)
    try:
        cursor = conn.execute(RAW)
        while rows := cursor.fetchmany(5000):
            block = "".join("\t".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
            size += len(packer.compress(block.encode()))
    finally:
        conn.close()
    size += len(packer.flush())
    return time.perf_counter() - started, size


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-events", type=int, default=Settings().export_chunk_events)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ftel-export-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(data_dir=tmp)
        settings.ensure_data_dir()
        engine = open_engine(settings)
        upgrade(engine)
        started = time.perf_counter()
        load(engine, list(islice(chain.from_iterable(seed_traces()), args.events)))
        with engine.begin() as conn:
            conn.execute(text("UPDATE events SET projected = 1, counted = 1"))
        engine.dispose()
        print(f"seed mix: {args.events:,} events stored in SQLite in {time.perf_counter() - started:.1f} s", flush=True)

        port = free_port()
        env = {
            **os.environ,
            **ADMIN,
            "FT_DATA_DIR": str(tmp),
            "FT_PORT": str(port),
            "FT_HOST": "127.0.0.1",
            "FT_EMBEDDED_REDIS_PORT": str(free_port()),
            "FT_BATCH_INTERVAL_SECONDS": "0",
            "FT_EXPORT_POLL_SECONDS": "0.1",
            "FT_EXPORT_CHUNK_EVENTS": str(args.chunk_events),
        }
        log = open(tmp / "server.log", "wb")
        server = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve"], env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=base, timeout=60)
        for _ in range(300):
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        token = http.post(
            "/api/v1/auth/token",
            json={"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"]},
        )
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        time.sleep(2)  # let start-up settle before the baseline
        baseline = psutil.Process(server.pid).memory_info().rss
        sampler = RssSampler(server.pid)
        sampler.start()
        wall = time.perf_counter()
        made = http.post("/api/v1/exports", json={"content": "events", "since": "2000-01-01T00:00:00Z"})
        assert made.status_code == 202, made.text
        export_id = made.json()["id"]
        while (status := http.get(f"/api/v1/exports/{export_id}").json())["status"] not in ("done", "failed"):
            time.sleep(0.25)  # a client polling politely: status reads share the server with the export
        wall = time.perf_counter() - wall
        sampler.stop.set()
        sampler.join()
        assert status["status"] == "done" and status["events"] == args.events, status
        from datetime import datetime

        ran = (
            datetime.fromisoformat(status["finished_at"]) - datetime.fromisoformat(status["started_at"])
        ).total_seconds()
        raw, raw_bytes = min(raw_select_gzip(tmp / "ftel.sqlite3") for _ in range(2))

        print()
        print(f"{'export':<34} {'events':>10} {'s':>7} {'raw s':>7} {'ratio':>6}   events/s   bytes")
        print(
            f"{'POST /exports → done (runner)':<34} {args.events:>10,} {ran:>7.2f} {raw:>7.2f} {raw / ran:>6.2f}   "
            f"{args.events / ran:>8,.0f}   {status['bytes']:,} in {status['chunks']} chunks "
            f"(raw gzip {raw_bytes:,})"
        )
        print(f"{'same, as the client waited':<34} {args.events:>10,} {wall:>7.2f} {raw:>7.2f} {raw / wall:>6.2f}")
        growth = (sampler.peak - baseline) / 1024**2
        print(
            f"\nserver RSS: {baseline / 1024**2:.0f} MiB before, peak {sampler.peak / 1024**2:.0f} MiB during the "
            f"export: grew {growth:.1f} MiB"
        )
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
