"""Services mode rides out store outages (real processes, real engines stopped and started by the test):

* PostgreSQL stopped while clients keep sending: every answer is 202 (parked) or 503 with Retry-After, never
  a 500; after it returns every accepted event is stored once and reaches the graph.
* Neo4j stopped while `ftel api` and `ftel worker` both project and drain: no request waits on it, and once
  it returns the parked backlog drains without deadlock retries.

How long each engine stays down is FT_TEST_OUTAGE_SECONDS (default 20; the closing note of the issue that
asked for these runs them with 30 and 60). The figures are printed (`pytest -s` shows them)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, service_env, wait_for
from tests.outage_fixtures import START_SECONDS, STOP_SECONDS, PrivateService
from tests.stream_fixtures import WorkerProcess

OUTAGE_SECONDS = float(os.environ.get("FT_TEST_OUTAGE_SECONDS", "20"))
PROCESS_SECONDS = 60 + 30  # a Server or WorkerProcess: started within 60 s, stopped within 30
LOAD_SECONDS = 60  # waits on the load: its first batches, its answers after the restart, its thread's end
CATCH_UP_SECONDS = 180  # the backlog stored and merged once the engine is back
# Every bounded wait of a test in a row (two starts and stops of its private engine, the processes, the outage,
# the load, the catch-up) plus a minute of slack: a slow machine fails one of those waits with its message
# instead of running into the global 300 s timeout while each is still within its bound.
OUTAGE_TEST_SECONDS = int(
    2 * START_SECONDS
    + 2 * STOP_SECONDS
    + 2 * PROCESS_SECONDS
    + OUTAGE_SECONDS
    + 3 * LOAD_SECONDS
    + CATCH_UP_SECONDS
    + 60
)


@dataclass
class Load:
    """A client sending a batch of 20 events every 50 ms, recording each answer and how long it took."""

    api: Api
    tag: str
    answers: list[tuple[int, float, int, str | None, float]] = field(
        default_factory=list
    )  # status, seconds, batch, Retry-After, sent at (monotonic)
    accepted_batches: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def events(self, batch: int) -> list[dict[str, Any]]:
        return [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tag}/{batch}/{i}")),
                "type": "trace.started",
                "trace": f"{self.tag}-{batch}-{i}",
                "user": "loader",
            }
            for i in range(20)
        ]

    def run(self) -> None:
        batch = 0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                r = self.api.post("/events", json=self.events(batch), timeout=30)
                status, retry_after = r.status_code, r.headers.get("retry-after")
            except httpx.HTTPError:
                status, retry_after = -1, None
            self.answers.append((status, time.monotonic() - started, batch, retry_after, started))
            if status == 202:
                self.accepted_batches.append(batch)
            batch += 1
            time.sleep(0.05)

    def __enter__(self) -> Load:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=LOAD_SECONDS)

    def wait_accepted(self, batches: int) -> None:
        """Until this many batches were accepted (the load is running), instead of a fixed lead time."""
        assert wait_for(lambda: len(self.accepted_batches) >= batches, timeout=LOAD_SECONDS), self.answers[-5:]

    def wait_answers_sent_after(self, moment: float, count: int) -> None:
        assert wait_for(lambda: sum(1 for a in self.answers if a[4] >= moment) >= count, timeout=LOAD_SECONDS), (
            self.answers[-5:]
        )


def count_stored(pg_url: str, tag: str) -> tuple[int, int, int]:
    """(stored, distinct, merged into the graph) events of this load."""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT uuid), count(*) FILTER (WHERE projected) FROM events "
            "WHERE trace_key LIKE %s",
            (f"{tag}-%",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def neo4j_env() -> dict[str, str]:
    return {
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": service_env("FT_TEST_NEO4J_URI"),
        "FT_NEO4J_USER": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        "FT_NEO4J_PASSWORD": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
    }


@pytest.mark.timeout(OUTAGE_TEST_SECONDS)
def test_postgres_stopped_clients_get_202_or_503_never_500_and_nothing_is_lost(
    tmp_path: Path, private_postgres: PrivateService, stream_redis_url: str
) -> None:
    env = {
        **ADMIN,
        **neo4j_env(),
        "FT_DATABASE_URL": private_postgres.uri,
        "FT_REDIS_URL": stream_redis_url,
        "FT_FLOW_CHECK_SECONDS": "0.5",
        "FT_FLOW_TICK_SECONDS": "0.1",
        "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "2000",
        "FT_AUTH_CACHE_SECONDS": "300",
    }
    (tmp_path / "api").mkdir()
    server = Server(env, "api", tmp_path / "api")
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        app = admin.account("ingest", name="loader")
        tag = f"pg-{uuid.uuid4().hex[:8]}"
        with Load(app, tag) as load:
            load.wait_accepted(10)
            private_postgres.run("stop")
            down_at = time.monotonic()
            sign_in = httpx.post(
                f"{server.base}/api/v1/auth/token",
                json={"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"]},
            )
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            private_postgres.run("start")
            up_at = time.monotonic()
            load.wait_answers_sent_after(up_at, 10)  # the load goes on against the restarted engine
        during = [a for a in load.answers if a[0] != 202]
        statuses = {a[0] for a in load.answers}
        assert statuses <= {202, 503}, sorted(statuses)
        assert all(a[3] for a in during), "every 503 says when to retry"
        assert sign_in.status_code == 503 and sign_in.headers.get("retry-after"), sign_in.text
        expected = 20 * len(load.accepted_batches)
        assert wait_for(
            lambda: count_stored(private_postgres.uri, tag) == (expected, expected, expected),
            timeout=CATCH_UP_SECONDS,
        ), (count_stored(private_postgres.uri, tag), expected, server.log())
        caught_up = time.monotonic() - up_at
        assert admin.get(f"/traces/{tag}-{load.accepted_batches[-1]}-19").status_code == 200
        buffered = sum(1 for a in load.answers if a[0] == 202)
        print(
            f"\nPostgreSQL down {OUTAGE_SECONDS:.0f} s under load: {len(load.answers)} requests, "
            f"{buffered} answered 202, {len(during)} answered 503 (Retry-After), 0 × 500; "
            f"{expected} accepted events all stored once and in the graph {caught_up:.1f} s after it returned"
        )
    finally:
        server.stop()


@pytest.mark.timeout(OUTAGE_TEST_SECONDS)
def test_neo4j_stopped_no_request_waits_and_the_backlog_drains_without_deadlocks(
    tmp_path: Path, private_neo4j: PrivateService, stream_redis_url: str
) -> None:
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    pg = create_pg_database(admin_url)
    rate = 500  # what this 2-core machine's Neo4j merges right after a restart (its JVM is cold then)
    env = {
        **ADMIN,
        "FT_DATABASE_URL": pg,
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": private_neo4j.uri,
        "FT_NEO4J_PASSWORD": "x",
        "FT_REDIS_URL": stream_redis_url,
        "FT_FLOW_CHECK_SECONDS": "0.3",
        "FT_FLOW_TICK_SECONDS": "0.1",
        "FT_FLOW_DRAIN_EVENTS_PER_SECOND": str(rate),
        "FT_FLOW_EVENTS_PER_SECOND": "100000",
        "FT_PROJECTOR_INTERVAL_SECONDS": "0.5",
    }
    (tmp_path / "api").mkdir()
    started: list[Any] = []
    try:
        server = Server(env, "api", tmp_path / "api")
        started.append(server)
        worker = WorkerProcess(env, tmp_path / "worker")  # projects and drains too: two writers of one graph
        started.append(worker)
        worker.wait_started()
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        app = admin.account("ingest", name="loader")
        tag = f"neo-{uuid.uuid4().hex[:8]}"
        with Load(app, tag) as load:
            load.wait_accepted(10)
            private_neo4j.run("stop")
            stopped_at = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            parked = admin.get("/flow").json()["buffered"]
            load.stop.set()
        backlog = parked["redis"] + parked["spool"]
        assert backlog > 0, f"nothing parked while Neo4j was down {OUTAGE_SECONDS:.0f} s: {parked}"
        private_neo4j.run("start")
        back_at = time.monotonic()
        during = [a for a in load.answers if a[4] >= stopped_at]  # the first requests also meet a cold Neo4j JVM
        slowest = max(a[1] for a in during)
        assert {a[0] for a in load.answers} == {202}
        expected = 20 * len(load.accepted_batches)

        samples: list[tuple[float, int]] = []  # (time, events parked) while the backlog drains

        def drained() -> bool:
            view = admin.get("/flow").json()
            samples.append((time.monotonic(), view["buffered"]["redis"] + view["buffered"]["spool"]))
            return view["buffered"] == {"redis": 0, "spool": 0} and count_stored(pg, tag) == (
                expected,
                expected,
                expected,
            )

        assert wait_for(drained, timeout=CATCH_UP_SECONDS, interval=0.2), (
            admin.get("/flow").json(),
            count_stored(pg, tag),
        )
        took = time.monotonic() - back_at
        start = next(i for i, (_, n) in enumerate(samples) if n < samples[0][1]) - 1  # the last sample before it moved
        end = next(i for i, (_, n) in enumerate(samples) if n == 0)
        drain_rate = (samples[start][1] - samples[end][1]) / max(0.001, samples[end][0] - samples[start][0])
        logs = server.log() + worker.log()
        assert "Deadlock" not in logs, [line for line in logs.splitlines() if "Deadlock" in line][:5]
        print(
            f"\nNeo4j down {OUTAGE_SECONDS:.0f} s under load (api + worker): {len(load.answers)} requests, all 202, "
            f"slowest sent after the stop {slowest:.2f} s; {backlog} events parked; "
            f"once it was back (up {samples[start][0] - back_at:.1f} s "
            f"after `services.sh start` returned) the backlog drained at {drain_rate:.0f} events/s "
            f"(FT_FLOW_DRAIN_EVENTS_PER_SECOND {rate}, {drain_rate / rate:.0%}); everything stored once and in the "
            f"graph {took:.1f} s after the restart; no deadlock retries in the logs"
        )
        slow = [(round(a[4] - stopped_at, 2), round(a[1], 2)) for a in load.answers if a[1] > 1.0]
        print(f"requests over 1 s (sent at, seconds after the stop; took): {slow}")
        assert slowest < 5.0, f"a request waited {slowest:.1f} s on an unreachable graph: {slow}"
    finally:
        for process in reversed(started):
            process.stop()
        drop_pg_database(admin_url, pg)
