"""Flow control: sustained REST ingest with parking on vs off, and the drain rate.

Starts `ftel serve` (SQLite + embedded graph + embedded Redis) three times and sends the same load of
one user — REQUESTS requests of BATCH `trace.started` events — measuring events/s answered (202):

  (a) flow control off (FT_FLOW_ENABLED=false): every event stored and merged in the request;
  (b) flow control on, allowance far above the load: accounting only (the usual case);
  (c) flow control on, allowance of 1 event/s: nearly every event parked in Redis, drainer unbounded.

Prints (b)/(a) and (c)/(a), the time a second ("light") user's event takes to reach the graph with
and without (c)'s backlog, then the drain rate of (c): parked events stored per second until the
backlog is empty (FT_FLOW_DRAIN_EVENTS_PER_SECOND set far above what the stores can take, so this is the
drainer's capacity, not its limit). Run: .venv/bin/python bench/flow.py [--requests N] [--batch N]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ADMIN, Api, Server, wait_for  # noqa: E402


def stored(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "ftel.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def light_latency(admin: Api, app: Api, trace: str) -> float:
    """Seconds from sending one event of another user until its trace can be read from the graph."""
    started = time.perf_counter()
    assert app.post("/events", json=[{"type": "trace.started", "trace": trace, "user": "light"}]).status_code == 202
    assert wait_for(lambda: admin.get(f"/traces/{trace}").status_code == 200, timeout=60, interval=0.005)
    return time.perf_counter() - started


def run(name: str, env: dict[str, str], requests: int, batch: int) -> tuple[float, float | None]:
    with tempfile.TemporaryDirectory(prefix=f"ftel-bench-flow-{name}-") as tmp:
        server = Server({**ADMIN, **env}, "serve", Path(tmp))
        try:
            admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
            app = admin.account("ingest", name="bench")
            tag = uuid.uuid4().hex[:8]
            loads = [
                [{"type": "trace.started", "trace": f"{tag}-{r}-{i}", "user": "bench"} for i in range(batch)]
                for r in range(requests)
            ]
            app.post("/events", json=[{"type": "trace.started", "trace": f"warm-{tag}", "user": "warm"}])
            alone = light_latency(admin, app, f"alone-{tag}")
            before = stored(server.data_dir)
            started = time.perf_counter()
            buffered = 0
            for load in loads:
                r = app.post("/events", json=load)
                assert r.status_code == 202, r.text
                buffered += r.json()["buffered"]
            ingest = requests * batch / (time.perf_counter() - started)
            drain = None
            if buffered:
                posted = time.perf_counter()
                backlog = requests * batch - (stored(server.data_dir) - before)  # parked, right after the posts
                busy = light_latency(admin, app, f"busy-{tag}")
                print(
                    f"  light user to graph: {alone * 1000:.0f} ms alone, {busy * 1000:.0f} ms behind a backlog of "
                    f"{backlog:,} parked events of another user"
                )
                assert wait_for(
                    lambda: stored(server.data_dir) - before >= requests * batch, timeout=600, interval=0.05
                )
                drain = backlog / (time.perf_counter() - posted)
            print(
                f"  {name:<9} {ingest:10,.0f} events/s answered, {buffered:6d} parked"
                + (f", drained at {drain:,.0f} events/s" if drain else "")
            )
            return ingest, drain
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    print(f"flow control: {args.requests} requests x {args.batch} events, one user")
    off, _ = run("off", {"FT_FLOW_ENABLED": "false"}, args.requests, args.batch)
    acct, _ = run("account", {"FT_FLOW_EVENTS_PER_SECOND": "1000000"}, args.requests, args.batch)
    park, drain = run(
        "parking",
        {
            "FT_FLOW_EVENTS_PER_SECOND": "1",
            "FT_FLOW_BURST_SECONDS": "1",
            "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "1000000",
            "FT_FLOW_DRAIN_USER_QUANTUM": "500",
        },
        args.requests,
        args.batch,
    )
    print(f"ratio accounting-only / off: {acct / off:.2f}x")
    print(f"ratio parking / off:         {park / off:.2f}x  (answering 202 without storing)")
    if drain:
        print(f"drain rate: {drain:,.0f} events/s  ({drain / off:.2f}x the direct ingest rate)")


if __name__ == "__main__":
    main()
