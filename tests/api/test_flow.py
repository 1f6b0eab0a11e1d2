"""Flow control over real HTTP (all-in-one): a burst over one user's allowance is parked and drained
exactly once, a second user is not held up by that backlog, and admins see and tune it all."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import ADMIN, Api, Server, wait_for
from tests.outage_fixtures import PrivateRedis

ALLOWANCE = 20  # events/s per user, burst of one second
DRAIN = 40  # parked events drained per second: a burst's backlog takes seconds to drain


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        **ADMIN,
        "FT_FLOW_EVENTS_PER_SECOND": str(ALLOWANCE),
        "FT_FLOW_BURST_SECONDS": "1",
        "FT_FLOW_DRAIN_EVENTS_PER_SECOND": str(DRAIN),
        "FT_FLOW_DRAIN_USER_QUANTUM": "20",
        "FT_FLOW_CHECK_SECONDS": "0.5",
        "FT_FLOW_TICK_SECONDS": "0.1",
    }
    srv = Server(env, "serve", tmp_path_factory.mktemp("flow"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def flow_admin(flow_server: Server) -> Api:
    return Api(flow_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def stored(data_dir: Path, like: str) -> tuple[int, int]:
    """(rows, distinct payloads) of stored events whose payload mentions `like`."""
    with sqlite3.connect(data_dir / "ftel.sqlite3") as db:
        rows = db.execute(
            "SELECT count(*), count(DISTINCT payload) FROM events WHERE payload LIKE ?", (f"%{like}%",)
        ).fetchone()
    return int(rows[0]), int(rows[1])


def stored_after(data_dir: Path, first: str, like: str) -> int:
    """How many stored events mentioning `like` the log stored after the event of trace `first`."""
    with sqlite3.connect(data_dir / "ftel.sqlite3") as db:
        row = db.execute(
            "SELECT count(*) FROM events WHERE payload LIKE ? AND id > (SELECT id FROM events WHERE trace_key = ?)",
            (f"%{like}%", first),
        ).fetchone()
    return int(row[0])


def seen_in_graph(api: Api, trace: str, timeout: float = 20.0) -> float:
    """Seconds until the trace can be read back from the graph."""
    started = time.monotonic()
    assert wait_for(lambda: api.get(f"/traces/{trace}").status_code == 200, timeout=timeout, interval=0.02)
    return time.monotonic() - started


def test_burst_of_ten_times_the_allowance_is_parked_then_stored_exactly_once(
    flow_server: Server, flow_admin: Api
) -> None:
    app = flow_admin.account("ingest", name="noisy-app")
    tag = uuid.uuid4().hex[:8]
    burst = [{"type": "trace.started", "trace": f"heavy-{tag}-{i}", "user": "heavy"} for i in range(10 * ALLOWANCE)]
    started = time.monotonic()
    answers = [app.post("/events", json=burst[i : i + 50]) for i in range(0, len(burst), 50)]
    took = time.monotonic() - started
    assert all(r.status_code == 202 for r in answers), [r.text for r in answers]
    bodies = [r.json() for r in answers]
    accepted, parked = sum(b["accepted"] for b in bodies), sum(b["buffered"] for b in bodies)
    assert accepted + parked == len(burst)
    # a full bucket (one second's worth) plus what it refilled while the POSTs ran, however long they took
    assert accepted <= ALLOWANCE * (1 + took), (accepted, took)
    assert all(b["rejected"] == [] for b in bodies)
    # a well-behaved user of the same app is stored at once (not parked) and is in the graph
    light = f"light-{tag}"
    sent = app.post("/events", json=[{"type": "trace.started", "trace": light, "user": "light"}])
    assert sent.status_code == 202 and sent.json()["accepted"] == 1 and sent.json()["buffered"] == 0
    during = seen_in_graph(flow_admin, light)
    # then the backlog drains, at the bounded rate, and every event is stored exactly once
    assert wait_for(lambda: stored(flow_server.data_dir, f"heavy-{tag}-") == (len(burst), len(burst)), timeout=60)
    seen_in_graph(flow_admin, f"heavy-{tag}-{len(burst) - 1}")
    # ... after the light user's event: it did not wait behind the backlog (the order the log stored them in)
    assert stored_after(flow_server.data_dir, light, f"heavy-{tag}-") > 0
    flow = flow_admin.get("/flow").json()
    heavy = next(u for u in flow["users"] if u["user"] == "heavy")
    assert heavy["events"] == len(burst) and heavy["parked"] == parked
    assert wait_for(lambda: flow_admin.get("/flow").json()["buffered"]["redis"] == 0, timeout=10)
    print(f"\nlight user to graph with a heavy backlog of {parked} parked: {during * 1000:.0f} ms")


def test_light_user_latency_without_backlog(flow_server: Server, flow_admin: Api) -> None:
    app = flow_admin.account("ingest", name="quiet-app")
    trace = f"alone-{uuid.uuid4().hex[:8]}"
    assert (
        app.post("/events", json=[{"type": "trace.started", "trace": trace, "user": "light"}]).json()["accepted"] == 1
    )
    alone = seen_in_graph(flow_admin, trace)  # a figure, not a limit: speed is judged in bench/flow.py
    print(f"\nlight user to graph without backlog: {alone * 1000:.0f} ms")


def test_flow_view_reports_users_media_rate_and_is_admin_only(flow_server: Server, flow_admin: Api) -> None:
    reader = flow_admin.account("read", name="viewer")
    assert reader.get("/flow").status_code == 403
    app = flow_admin.account("ingest", name="viewed-app")
    user = f"viewed-{uuid.uuid4().hex[:8]}"
    over = [{"type": "trace.started", "trace": f"{user}-{i}", "user": user} for i in range(2 * ALLOWANCE)]
    sent = app.post("/events", json=over)  # twice the bucket in one batch: some of it parked
    assert sent.status_code == 202 and sent.json()["buffered"] > 0, sent.text
    view = flow_admin.get("/flow").json()
    assert set(view) >= {
        "users",
        "buffered",
        "buffered_by_user",
        "drain_rate",
        "oldest_parked_seconds",
        "pressure",
        "default_allowance",
        "allowances",
    }
    assert view["pressure"] == [] and set(view["buffered"]) == {"redis", "spool"}
    seen = next(u for u in view["users"] if u["user"] == user)
    assert {"account", "user", "events", "bytes", "first_seen", "last_seen", "rate", "parked", "buffered"} <= set(seen)
    accounts = {a["id"] for a in flow_admin.get("/accounts").json()}
    assert seen["account"] in accounts and seen["last_seen"].endswith("Z")  # public ids and ISO times, as elsewhere
    assert seen["events"] == len(over) and seen["parked"] == sent.json()["buffered"]
    metrics = httpx.get(f"{flow_server.base}/metrics").text
    for name in (
        "ftel_flow_events_total",
        "ftel_flow_bytes_total",
        "ftel_flow_parked_total",
        "ftel_flow_parked_events",
        "ftel_flow_drained_total",
        "ftel_flow_drain_rate",
        "ftel_flow_oldest_parked_seconds",
    ):
        assert name in metrics, name
    assert wait_for(lambda: f"flow: parking events of user '{user}'" in flow_server.log_path.read_text())


def test_admin_raises_an_allowance_and_the_next_burst_is_stored_at_once(flow_server: Server, flow_admin: Api) -> None:
    created = flow_admin.post("/accounts", json={"name": "big-app", "kind": "system", "roles": ["ingest"]}).json()
    app = Api(flow_server.base, created["client_id"], created["client_secret"])
    r = flow_admin.http.put(
        f"/api/v1/flow/allowances/{created['id']}",
        json={"events_per_second": 1000, "bytes_per_second": 10_000_000, "burst_seconds": 2},
    )
    assert r.status_code == 200, r.text
    assert r.json()["events_per_second"] == 1000
    tag = uuid.uuid4().hex[:8]
    batch = [{"type": "trace.started", "trace": f"big-{tag}-{i}", "user": "u"} for i in range(10 * ALLOWANCE)]
    body = app.post("/events", json=batch).json()
    assert (body["accepted"], body["buffered"]) == (len(batch), 0)
    assert created["id"] in flow_admin.get("/flow").json()["allowances"]
    bad = flow_admin.http.put("/api/v1/flow/allowances/nope", json={"events_per_second": 1, "bytes_per_second": 1})
    assert bad.status_code == 404
    zero = flow_admin.http.put(
        f"/api/v1/flow/allowances/{created['id']}", json={"events_per_second": 0, "bytes_per_second": 1}
    )
    assert zero.status_code == 422


def test_stream_entries_over_the_allowance_are_parked_acknowledged_and_drained(
    flow_server: Server, flow_admin: Api
) -> None:

    from tests.stream_fixtures import xadd_events

    app = flow_admin.account("ingest", name="stream-app")
    sub = app.post("/subscriptions", json={"user_id": "streamer"}).json()
    client = redis.Redis.from_url(sub["endpoint"], decode_responses=True)  # the subscription's own user
    tag = uuid.uuid4().hex[:8]
    events = [{"type": "trace.started", "trace": f"xs-{tag}-{i}", "user": "streamer"} for i in range(5 * ALLOWANCE)]
    xadd_events(client, sub["stream_key"], events, per_entry=25)
    client = flow_server.service_redis(decode_responses=True)
    parked = wait_for(
        lambda: next((u["parked"] for u in flow_admin.get("/flow").json()["users"] if u["user"] == "streamer"), 0)
    )
    assert parked > 0, "events over the allowance read from the stream were parked"
    assert wait_for(lambda: stored(flow_server.data_dir, f"xs-{tag}-") == (len(events), len(events)), timeout=30)
    groups = client.xinfo_groups(sub["stream_key"])
    assert groups[0]["pending"] == 0  # every entry acknowledged: parked or stored


def test_a_drainer_that_lost_redis_mid_drain_takes_its_own_lease_back_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis dies (SIGKILL) after the drainer stored a lease's events and before it could remove them from
    the park or release its per-user lease. Once Redis is back the lease has outlived the crash: another
    drainer still waits, the same drainer takes it back at once, and every parked event ends up stored
    exactly once (the replay is absorbed by the event log's dedup) with nothing left parked."""
    from backend.bootstrap import Role, build, sync_redis
    from backend.park.base import ParkedBatch
    from backend.park.redis import RedisPark
    from backend.settings import Settings

    server = PrivateRedis(tmp_path / "redis")
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", redis_url=server.url, flow_events_per_second=1, flow_burst_seconds=1
    )
    process = build(settings, Role.api)
    flow, ingest = process.flow, process.ingest
    assert flow is not None and flow.parking.redis is not None
    other = RedisPark(sync_redis(server.url))
    try:
        assert isinstance(flow.parking.redis, RedisPark)
        flow.parking.redis.lease_ttl_ms = 600_000  # outlives anything a loaded machine does below
        tag = uuid.uuid4().hex[:8]
        events = [{"type": "trace.started", "trace": f"lost-{tag}-{i}", "user": "u"} for i in range(50)]
        result = ingest.admit(events, "rest:x", None)
        assert (result.accepted, result.buffered) == (1, len(events) - 1)  # a bucket of one event
        assert flow.snapshot()["buffered"]["redis"] == len(events) - 1
        [queue] = other.queues()

        admit_drained = ingest.admit_drained
        lost: list[bool] = []

        def store_then_lose_redis(batches: list[ParkedBatch]) -> Any:
            out = admit_drained(batches)
            if not lost:  # the first drain only
                server.kill()
                lost.append(True)
            return out

        monkeypatch.setattr(ingest, "admit_drained", store_then_lose_redis)
        assert flow.drain_once() == 0  # stored, but not taken off the park: Redis went away first
        assert lost and not flow.parking.redis_reachable
        assert stored(settings.data_dir, f"lost-{tag}-") == (len(events), len(events))

        server.start()
        assert other.depths() == {queue: len(events) - 1}  # nothing parked was lost with Redis
        assert other.take(queue, 100, "another-drainer") is None  # the dead drain's lease is still held
        flow.check()  # finds Redis back
        assert flow.parking.redis_reachable
        assert flow.drain_once() == len(events) - 1  # the same drainer, at once: its own lease
        assert other.depths() == {} and other.queues() == []
        assert flow.snapshot()["buffered"]["redis"] == 0
        assert stored(settings.data_dir, f"lost-{tag}-") == (len(events), len(events))  # each exactly once
    finally:
        other.close()
        process.close()
        server.kill()


def test_consumer_lag_over_its_threshold_is_pressure_and_parks(tmp_path: Path, stream_redis_url: str) -> None:
    """Entries of subscription streams not yet delivered to the consumer group count as lag (Redis 7)."""

    from backend.bootstrap import Role, build
    from backend.settings import Settings
    from backend.streams import keys

    settings = Settings(data_dir=tmp_path, flow_max_consumer_lag=5, redis_url=stream_redis_url)  # type: ignore[call-arg]
    process = build(settings, Role.api)
    flow, ingest = process.flow, process.ingest
    assert flow is not None
    client = redis.Redis.from_url(stream_redis_url)
    try:
        client.hset(keys.REGISTRY, "ft:s:lagging", "{}")
        client.xgroup_create("ft:s:lagging", settings.stream_group, id="0", mkstream=True)
        for _ in range(6):
            client.xadd("ft:s:lagging", {"event": "{}"})
        flow.check()
        assert flow.pressing() == ["consumer_lag"]
        result = ingest.admit([{"type": "trace.started", "trace": "lag-1", "user": "quiet"}], "rest:x", None)
        assert (result.accepted, result.buffered) == (0, 1)
        assert flow.snapshot()["buffered"]["redis"] == 1  # parked in Redis, which is up
        client.xreadgroup(settings.stream_group, "c1", {"ft:s:lagging": ">"}, count=10)  # the consumer caught up
        flow.check()
        assert flow.pressing() == []
        assert flow.drain_once() == 1
        assert flow.snapshot()["buffered"]["redis"] == 0
    finally:
        client.close()
        process.close()
