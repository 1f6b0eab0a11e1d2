"""The crash harness: seeded kill schedules, the all-in-one and the worker killed with SIGKILL at a failpoint
(backend/failpoints.py) or at a random moment, a REST sender that outlives its server, and the checks that
every acknowledged event is stored once and the graph equals a clean run of the same events.

Used by tests/e2e/test_crash_matrix.py (the matrix, asserted) and bench/crash_loop.py (the same matrix,
larger, printed).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.bootstrap import Role, build, open_graph
from backend.settings import Settings
from graph.base import GraphStore
from tests.conftest import ADMIN, ROOT, free_port

TIMER = "timer"  # not a failpoint: SIGKILL from outside after a random delay, wherever the process is


@dataclass(frozen=True)
class Kill:
    """One round's crash: at the `hit`-th time the process reaches failpoint `point`, or (`timer`) `delay`
    seconds after it is up."""

    point: str
    hit: int = 1
    delay: float = 0.0

    @property
    def env(self) -> dict[str, str]:
        return {} if self.point == TIMER else {"FT_FAILPOINTS": f"{self.point}={self.hit}"}

    def __str__(self) -> str:
        return f"{TIMER} {self.delay:.2f}s" if self.point == TIMER else f"{self.point} hit {self.hit}"


def schedule(seed: int, points: Sequence[str], rounds: int, max_hit: int = 3) -> list[Kill]:
    """`rounds` kills, the points in turn (each as often as the others), hit and delay drawn from `seed`."""
    rng = random.Random(seed)
    return [
        Kill(points[n % len(points)], rng.randint(1, max_hit), round(rng.uniform(0.2, 1.5), 2)) for n in range(rounds)
    ]


@dataclass
class Round:
    kill: Kill
    outcome: (
        str  # "killed" (by its failpoint or timer), "killed before it was up" (a failpoint reached while recovering)
    )
    seconds: float


@dataclass
class MatrixRow:
    transport: str
    point: str
    runs: int = 0
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    graph_equal: bool = False


# -- processes ---------------------------------------------------------------------------------------------


class Proc:
    """`ftel serve` or `ftel worker` on a data dir, killed by pid. `up()` waits until it serves (serve: HTTP
    health; worker: its consumer started) and says False if it died first (a failpoint reached while it
    recovered)."""

    def __init__(self, command: str, data_dir: Path, env: dict[str, str], name: str) -> None:
        self.command = command
        self.data_dir = data_dir
        self.port = free_port() if command == "serve" else 0
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / f"{name}.log"
        full = {
            **os.environ,
            "FT_PROJECTOR_INTERVAL_SECONDS": "0.2",
            "FT_PROJECTOR_GRACE_SECONDS": "1",
            # the batch jobs (fills, relations) also write the graph, on their own clock: the crash matrix
            # compares what ingestion alone gives, so they stay off here
            "FT_BATCH_INTERVAL_SECONDS": "0",
            **(ADMIN if command == "serve" else {}),
            **env,
            "FT_DATA_DIR": str(data_dir),
        }
        if command == "serve":
            full.update(FT_PORT=str(self.port), FT_HOST="127.0.0.1", FT_EMBEDDED_REDIS_PORT=str(free_port()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", command], env=full, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def up(self, timeout: float = 90) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                if self.proc.returncode == -signal.SIGKILL:
                    return False
                raise RuntimeError(f"{self.command} exited with {self.proc.returncode}:\n{self.log()}")
            if self.command == "serve":
                try:
                    if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
            elif "stream consumer" in (text := self.log()) and "started" in text:
                return True
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.command} did not come up in {timeout:.0f} s:\n{self.log()}")

    def died(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the process to end; True if it was SIGKILLed (by its failpoint)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if self.proc.returncode != -signal.SIGKILL:
            raise RuntimeError(f"{self.command} exited with {self.proc.returncode}, not SIGKILL:\n{self.log()}")
        return True

    def kill(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def stop_orphaned_redis(data_dir: Path) -> None:
    """The embedded Redis a killed all-in-one left behind (the next start would stop it; a test that ends
    early must): by the pid in its pidfile, if that process is still a redis-server of this data dir."""
    try:
        pid = int((data_dir / "redis" / "redis.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"redis-server" in cmdline and str(data_dir).encode() in cmdline:
        os.kill(pid, signal.SIGKILL)


def crash_round(proc: Proc, kill: Kill, during: Any = None, timeout: float = 60) -> Round:
    """Run one round: wait for the process, start `during(proc, stop)` in a thread (e.g. a sender), and let it
    die at `kill`. A failpoint that is not reached within `timeout` fails the round."""
    started = time.monotonic()
    if not proc.up():
        return Round(kill, "killed before it was up", time.monotonic() - started)
    stop = threading.Event()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            during(proc, stop)
        except BaseException as exc:  # reported by the round, not lost in the thread
            failed.append(exc)

    thread = threading.Thread(target=work, daemon=True) if during else None
    if thread:
        thread.start()
    try:
        if kill.point == TIMER:
            time.sleep(kill.delay)
            proc.kill()
        elif not proc.died(timeout):
            raise AssertionError(f"failpoint {kill} not reached in {timeout:.0f} s ({failed}):\n{proc.log()}")
    finally:
        proc.kill()
        stop.set()
        if thread:
            thread.join(timeout=60)
    if failed:
        raise AssertionError(f"round {kill}: the app's thread failed: {failed[0]!r}") from failed[0]
    return Round(kill, "killed", time.monotonic() - started)


# -- the apps ---------------------------------------------------------------------------------------------


class Workload:
    """The seed mix (bench/workload.py), handed out as the apps ask for it; `events` is all handed out."""

    def __init__(self, prefix: str, seed: int = 7) -> None:
        from bench.workload import seed_traces

        self._source = (e for trace in seed_traces(seed, prefix=prefix) for e in trace)
        self.events: list[dict[str, Any]] = []

    def take(self, n: int) -> list[dict[str, Any]]:
        out = [next(self._source) for _ in range(n)]
        self.events += out
        return out


# -- the REST sender ---------------------------------------------------------------------------------------


def admin_token(base: str) -> str:
    body = {"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"]}
    answer = httpx.post(f"{base}/api/v1/auth/token", json=body, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class RestSender:
    """An app posting new events in batches at about `rate` events/s; a batch whose answer was lost is sent
    again, first thing, to the next server (a duplicate when the dead one had stored it). `acked`: the
    batches answered 202 with every event accepted, duplicate or parked."""

    def __init__(self, workload: Workload, batch: int, rate: float = 1000) -> None:
        self.workload = workload
        self.batch = batch
        self.pause = batch / rate
        self.batches: list[list[dict[str, Any]]] = []
        self.acked: set[int] = set()
        self.direct: set[int] = set()  # acknowledged as stored (none of it parked)
        self.parked = 0
        self.posts = 0
        self._unanswered: int | None = None

    def __call__(self, proc: Proc, stop: threading.Event) -> None:
        while True:
            try:
                bearer = admin_token(proc.base)
                break
            except httpx.HTTPError:
                if not proc.alive() or stop.is_set():
                    return  # killed before the sender signed in
                time.sleep(0.1)
        with httpx.Client(base_url=proc.base, headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
            while not stop.is_set():
                if self._unanswered is None:
                    self.batches.append(self.workload.take(self.batch))
                    self._unanswered = len(self.batches) - 1
                if not self._post(http, self._unanswered):
                    if not proc.alive() or stop.is_set():
                        return
                    time.sleep(0.1)
                    continue
                self._unanswered = None
                stop.wait(self.pause)

    def _post(self, http: httpx.Client, number: int) -> bool:
        batch = self.batches[number]
        try:
            answer = http.post("/api/v1/events", json=batch)
        except httpx.HTTPError:
            return False  # the server died: the batch is sent again to the next one
        self.posts += 1
        if answer.status_code != 202:
            return False  # e.g. 503 while it starts
        body = answer.json()
        assert body["rejected"] == [], body
        assert body["accepted"] + body["duplicates"] + body["buffered"] == len(batch), body
        self.acked.add(number)
        self.parked += body["buffered"]
        if body["buffered"] == 0:
            self.direct.add(number)
        return True

    def finish(self, proc: Proc) -> None:
        """Send every batch never acknowledged (the app's last retries), on a server that stays up."""
        with httpx.Client(
            base_url=proc.base, headers={"Authorization": f"Bearer {admin_token(proc.base)}"}, timeout=60
        ) as http:
            for number in range(len(self.batches)):
                if number not in self.acked:
                    assert self._post(http, number), f"batch {number} refused by a healthy server"
        self._unanswered = None

    def direct_events(self) -> list[dict[str, Any]]:
        """Events a 202 said were stored (not parked): the event log must hold them after any crash."""
        return [e for n in sorted(self.direct) for e in self.batches[n]]


def settle(proc: Proc, timeout: float = 180) -> None:
    """Wait until nothing is parked and every stored event is merged into the graph."""
    bearer = admin_token(proc.base)
    headers = {"Authorization": f"Bearer {bearer}"}
    deadline = time.monotonic() + timeout
    state: Any = None
    while time.monotonic() < deadline:
        flow = httpx.get(f"{proc.base}/api/v1/flow", headers=headers, timeout=30).json()
        ready = httpx.get(f"{proc.base}/readyz", timeout=30).json()
        state = (flow["buffered"], ready.get("projection"))
        if sum(flow["buffered"].values()) == 0 and ready["projection"]["pending"] == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"not settled in {timeout:.0f} s: parked, projection = {state}\n{proc.log()}")


# -- what survived -----------------------------------------------------------------------------------------


@dataclass
class Stored:
    rows: int
    times: list[str] = field(default_factory=list)  # the `time` of every stored event (unique in a workload)

    def lost(self, acknowledged: Iterable[dict[str, Any]]) -> int:
        have = set(self.times)
        return sum(1 for e in acknowledged if e["time"] not in have)

    @property
    def duplicated(self) -> int:
        return self.rows - len(set(self.times))


def stored(data_dir: Path, channel_prefix: str = "") -> Stored:
    """The event log of an all-in-one or worker data dir (SQLite), read directly."""
    with sqlite3.connect(f"file:{data_dir / 'ftel.sqlite3'}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT payload FROM events WHERE channel LIKE ? AND type != 'file.expired'", (channel_prefix + "%",)
        ).fetchall()
    return Stored(len(rows), [json.loads(p)["time"] for (p,) in rows])


def traces_of(events: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({str(e["trace"]) for e in events if e.get("trace")})


def dump(graph: GraphStore, traces: list[str]) -> dict[str, Any]:
    """Everything the read API shows of these traces: the trace, each node's full record, each edge."""
    out: dict[str, Any] = {}
    for trace in traces:
        sub = graph.trace_graph(trace)
        out[trace] = {
            "trace": graph.trace(trace),
            "nodes": sorted(repr(sorted((graph.node(n["key"]) or {}).items())) for n in sub.nodes),
            "edges": sorted(repr(sorted(e.items())) for e in sub.edges),
        }
    return out


def graph_difference(crashed: dict[str, Any], clean: dict[str, Any], limit: int = 3) -> str:
    """Where two dumps differ (for the failure message), or "" when they are equal."""
    out: list[str] = []
    for trace in sorted(set(crashed) | set(clean)):
        a, b = crashed.get(trace), clean.get(trace)
        if a == b:
            continue
        if a is None or b is None:
            out.append(f"{trace}: only in the {'clean' if a is None else 'crashed'} run")
            continue
        for part in ("trace", "nodes", "edges"):
            if a[part] != b[part]:
                if part == "trace":
                    out.append(f"{trace}: trace {a[part]} != clean {b[part]}")
                else:
                    extra, missing = set(a[part]) - set(b[part]), set(b[part]) - set(a[part])
                    out.append(f"{trace} {part}: crashed has {sorted(extra)[:2]}, clean has {sorted(missing)[:2]}")
        if len(out) >= limit:
            break
    return "\n".join(out)


def graph_dump(data_dir: Path, traces: list[str]) -> dict[str, Any]:
    """The embedded graph of a stopped process's data dir."""
    graph = open_graph(Settings(data_dir=data_dir))
    try:
        return dump(graph, traces)
    finally:
        graph.close()


def clean_run(data_dir: Path, events: list[dict[str, Any]], channel: str, batch: int = 500) -> dict[str, Any]:
    """The same events through the production pipeline of a process that never crashes."""
    process = build(Settings(data_dir=data_dir), Role.api)
    try:
        for start in range(0, len(events), batch):
            result = process.ingest.admit(events[start : start + batch], channel, None, on_store_error="raise")
            assert not result.rejected, result.rejected
        while process.projector.project_pending():
            pass
        return dump(process.graph, traces_of(events))
    finally:
        process.close()


def print_matrix(rows: list[MatrixRow]) -> str:
    lines = [f"{'transport':<14} {'kill point':<18} {'runs':>4} {'events':>7} {'lost':>4} {'dup':>4}  graph equal"]
    for r in rows:
        lines.append(
            f"{r.transport:<14} {r.point:<18} {r.runs:>4} {r.events:>7} {r.lost:>4} {r.duplicated:>4}  "
            f"{'yes' if r.graph_equal else 'NO'}"
        )
    return "\n".join(lines)


# -- streams -----------------------------------------------------------------------------------------------


def open_subscription(settings: Settings, redis_url: str, transport: str = "redis") -> str:
    """A subscription of a new `ingest` account on `transport`; its stream key."""
    import asyncio

    from backend.bootstrap import async_redis
    from backend.domain.auth import Principal
    from backend.streams.registry import Registry

    process = build(settings.model_copy(update={"redis_url": redis_url}), Role.admin)
    try:
        account = process.auth.create_account("crash-app", "system", ["ingest"]).account
        principal = Principal(account_id=account.id, uuid=account.uuid, name=account.name, roles=frozenset({"ingest"}))

        async def create() -> str:
            client = async_redis(redis_url)
            try:
                opened = await process.subscriptions.open(Registry(client), principal, "crash-user", None, transport)
            finally:
                await client.aclose()
            return opened.sub.stream_key

        return asyncio.run(create())
    finally:
        process.close()


class StreamWriter:
    """An app writing new events to its stream while the worker crashes and restarts: entries of `per_entry`
    events at about `rate` events/s. Redis: XADD; Kafka: produce keyed by the stream key."""

    def __init__(
        self,
        workload: Workload,
        stream: str,
        *,
        redis_url: str | None = None,
        kafka: tuple[str, str] | None = None,  # (bootstrap, topic)
        per_entry: int = 10,
        rate: float = 2000,
    ) -> None:
        self.workload = workload
        self.per_entry = per_entry
        self.stream = stream
        self.redis_url = redis_url
        self.kafka = kafka
        self.pause = per_entry / rate
        self.written = 0

    def write(self, entries: int) -> None:
        """`entries` entries at once (the app's backlog before the first worker starts)."""
        self._write(entries, threading.Event())

    def __call__(self, proc: Proc, stop: threading.Event) -> None:
        self._write(None, stop)

    def _write(self, count: int | None, stop: threading.Event) -> None:
        if self.kafka is not None:
            import asyncio

            asyncio.run(self._produce(count, stop))
            return
        import redis

        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url)
        try:
            for body in self._bodies(count, stop):
                client.xadd(self.stream, {"events": body})
        finally:
            client.close()

    async def _produce(self, count: int | None, stop: threading.Event) -> None:
        from aiokafka import AIOKafkaProducer

        assert self.kafka is not None
        bootstrap, topic = self.kafka
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for body in self._bodies(count, stop):
                await producer.send_and_wait(topic, body.encode(), key=self.stream.encode())
        finally:
            await producer.stop()

    def _bodies(self, count: int | None, stop: threading.Event) -> Iterable[str]:
        done = 0
        while not stop.is_set() and (count is None or done < count):
            yield json.dumps(self.workload.take(self.per_entry))
            self.written += 1
            done += 1
            if count is None:
                stop.wait(self.pause)


def unprojected(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'ftel.sqlite3'}?mode=ro", uri=True) as conn:
        (n,) = conn.execute("SELECT count(*) FROM events WHERE NOT projected").fetchone()
    return int(n)
