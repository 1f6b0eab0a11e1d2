"""SIGKILL the all-in-one again and again while an app sends events over REST, then count what survived.

Each round starts `ftel serve` on the same data directory, a sender posts batches of `file.received`
events (each names a file key of its own and carries its own time, no id: redelivery after a lost answer
is deduplicated by the event log), and after a random 0.3–1.5 s the server is killed with SIGKILL. Three
modes, each on a data directory of its own:

- direct: events go straight to the event log;
- redis:  a tiny allowance parks most events in the embedded Redis, the drainer hands them back later;
- spool:  the same, with the Redis memory bar at 1 MB so that parked events go to the disk spool.

At the end the server runs once more until nothing is parked and the graph has caught up, and the script
reads the SQLite event log and the embedded graph directly:

- lost:        events the server acknowledged (202) that are not in the event log;
- duplicated:  event log rows beyond one per file key;
- graph:       File nodes in the graph against file keys in the event log (must be equal).

    python bench/crash_loop.py [--kills 30] [--modes direct,redis,spool] [--batch 50]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import ADMIN, Server

MODES = {
    "direct": {},
    "redis": {"FT_FLOW_EVENTS_PER_SECOND": "100", "FT_FLOW_BURST_SECONDS": "1"},
    "spool": {"FT_FLOW_EVENTS_PER_SECOND": "100", "FT_FLOW_BURST_SECONDS": "1", "FT_FLOW_REDIS_MAX_MEMORY_MB": "1"},
}


@dataclass
class Tally:
    acked: set[str] = field(default_factory=set)
    sent: int = 0
    refused: int = 0  # answered, but not 202 (e.g. 503 while starting): the sender sends them again
    parked: int = 0
    resend: list[dict[str, object]] = field(default_factory=list)  # sent when the server died: sent again
    seen_parked: dict[str, int] = field(default_factory=lambda: {"redis": 0, "spool": 0})  # most seen at once


def token(base: str) -> str:
    body = {"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"]}
    answer = httpx.post(f"{base}/api/v1/auth/token", json=body, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def send(base: str, bearer: str, tally: Tally, counter: list[int], batch: int, stop: threading.Event) -> None:
    """Post batches until the server dies (or `stop`); a batch whose answer was lost is sent again, as an
    app would, in the next round."""
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=30)
    pending: list[dict[str, object]] = []
    while not stop.is_set():
        if not pending:
            first = counter[0]
            counter[0] += batch
            pending = [
                {
                    "type": "file.received",
                    "trace": f"crash-{(first + n) // 500}",
                    "user": "crash-user",
                    "node": {"kind": "file", "key": f"f{first + n:08d}"},
                    "time": f"2026-01-01T00:00:00.{(first + n) % 1_000_000:06d}Z",
                }
                for n in range(batch)
            ]
        try:
            answer = http.post("/api/v1/events", json=pending)
        except httpx.HTTPError:
            break  # the server is gone; the batch stays unacknowledged
        tally.sent += len(pending)
        if answer.status_code == 202:
            body = answer.json()
            if body["accepted"] + body["duplicates"] + body["buffered"] == len(pending):
                tally.acked.update(str(e["node"]["key"]) for e in pending)  # type: ignore[index]
                tally.parked += body["buffered"]
                pending = []
                if body["buffered"]:
                    try:
                        buffered = http.get("/api/v1/flow").json()["buffered"]
                    except httpx.HTTPError:
                        break  # killed meanwhile: this batch was acknowledged already
                    for medium, value in tally.seen_parked.items():
                        tally.seen_parked[medium] = max(value, int(buffered[medium]))
                continue
        tally.refused += len(pending)
        time.sleep(0.2)
    http.close()
    tally.resend.extend(pending)


def settle(server: Server, tally: Tally, timeout: float = 300) -> None:
    """Wait until nothing is parked and the projector has merged every stored event."""
    bearer = token(server.base)
    http = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {bearer}"}, timeout=30)
    if tally.resend:
        http.post("/api/v1/events", json=tally.resend).raise_for_status()
        tally.resend.clear()
    database = server.data_dir / "ftel.sqlite3"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow = http.get("/api/v1/flow").json()
        parked = flow["buffered"]["redis"] + flow["buffered"]["spool"]
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            (unprojected,) = conn.execute("SELECT count(*) FROM events WHERE projected = 0").fetchone()
        if parked == 0 and unprojected == 0:
            http.close()
            return
        time.sleep(0.5)
    raise SystemExit(f"not settled after {timeout:.0f} s: parked {parked}, unprojected {unprojected}")


def count(data_dir: Path) -> tuple[set[str], int, set[str]]:
    import ladybug

    with sqlite3.connect(f"file:{data_dir / 'ftel.sqlite3'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT node_key FROM events WHERE type = 'file.received'").fetchall()
    keys = {r[0] for r in rows}
    db = ladybug.Database(str(data_dir / "graph"), read_only=True, buffer_pool_size=256 * 1024 * 1024)
    conn_g = ladybug.Connection(db)
    nodes = {row[0] for row in conn_g.execute("MATCH (n:File) RETURN n.key").get_all()}
    conn_g.close()
    db.close()
    return keys, len(rows), nodes


def run_mode(mode: str, kills: int, batch: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix=f"ftel-crash-{mode}-"))
    env = {**ADMIN, **MODES[mode], "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "5000"}
    tally, counter = Tally(), [0]
    started = time.perf_counter()
    for round_ in range(kills):
        server = Server(env, "serve", data_dir)
        try:
            bearer = token(server.base)
            stop = threading.Event()
            sender = threading.Thread(target=send, args=(server.base, bearer, tally, counter, batch, stop))
            sender.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.proc.kill()  # SIGKILL, by pid
            server.proc.wait()
            stop.set()
            sender.join()
        finally:
            server.stop()
        print(f"  {mode}: kill {round_ + 1}/{kills}, acknowledged so far {len(tally.acked):,}", flush=True)
    server = Server(env, "serve", data_dir)
    try:
        settle(server, tally)
    finally:
        server.stop()
    keys, rows, nodes = count(data_dir)
    return {
        "mode": mode,
        "kills": kills,
        "acknowledged": len(tally.acked),
        "parked": tally.parked,
        "where": "/".join(f"{m} {n:,}" for m, n in tally.seen_parked.items() if n) or "-",
        "stored": len(keys),
        "lost": len(tally.acked - keys),
        "duplicated": rows - len(keys),
        "graph_missing": len(keys - nodes),
        "graph_extra": len(nodes - keys),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=30, help="SIGKILLs per mode (default 30)")
    parser.add_argument("--modes", default="direct,redis,spool")
    parser.add_argument("--batch", type=int, default=50, help="events per POST /events")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = [run_mode(mode, args.kills, args.batch, args.seed) for mode in args.modes.split(",")]
    print()
    columns = ("mode", "kills", "acked", "parked", "stored", "lost", "dup", "graph±", "s")
    widths = (8, 5, 8, 7, 8, 5, 4, 7, 6)
    print(
        " ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(columns, widths, strict=True))),
        end="",
    )
    print("  most parked at once")
    for r in results:
        graph = f"{r['graph_missing']}/{r['graph_extra']}"
        print(
            f"{r['mode']:8} {r['kills']:>5} {r['acknowledged']:>8,} {r['parked']:>7,} {r['stored']:>8,} "
            f"{r['lost']:>5} {r['duplicated']:>4} {graph:>7} {r['seconds']:>6}  {r['where']}"
        )
    total = sum(int(str(r["kills"])) for r in results)
    bad = sum(int(str(r[k])) for r in results for k in ("lost", "duplicated", "graph_missing", "graph_extra"))
    print(f"\n{total} SIGKILLs: {'0 lost, 0 duplicated, graph exact' if bad == 0 else 'FAILURES above'}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
