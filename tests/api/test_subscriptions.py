"""Subscriptions over real HTTP on the all-in-one (`ftel serve`: SQLite, embedded graph, embedded Redis,
stream consumers in-process), with Kafka enabled against the real test broker."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from aiokafka import AIOKafkaProducer

from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, wait_for
from tests.stream_fixtures import dlq, rekeyed, xadd_events


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def picture(api: Api, trace: str, suffix: str) -> dict[str, Any]:
    """Everything a user sees of a trace, with the key suffix taken off so two traces compare."""

    def bare(key: str) -> str:
        return key.removesuffix(suffix)

    detail = api.get(f"/traces/{trace}").json()
    graph = api.get(f"/traces/{trace}/graph").json()
    nodes = {bare(n["key"]): (n["kind"], n["status"], n.get("reason"), n.get("name")) for n in graph["nodes"]}
    logs = {bare(n["key"]): api.get(f"/nodes/{n['key']}").json()["node"].get("logs") for n in graph["nodes"]}
    return {
        "summary": detail.get("summary"),
        "status": detail.get("status"),
        "user": detail.get("user"),
        "nodes": nodes,
        "logs": logs,
        "edges": sorted((bare(e["source"]), bare(e["target"]), e["op"]) for e in graph["edges"]),
    }


@pytest.fixture(scope="module")
def kafka_topic() -> str:
    return f"ftel-api-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory, kafka_topic: str) -> Iterator[Server]:
    from tests.conftest import service_env

    env = {
        **ADMIN,
        "FT_STREAM_BLOCK_MS": "200",
        "FT_STREAM_RECONCILE_SECONDS": "1",
        "FT_KAFKA_BOOTSTRAP": service_env("FT_TEST_KAFKA_BOOTSTRAP"),
        "FT_KAFKA_TOPIC": kafka_topic,
        "FT_KAFKA_PARTITIONS": "2",
    }
    srv = Server(env, "serve", tmp_path_factory.mktemp("aio"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(aio: Server) -> Api:
    return Api(aio.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


@pytest.fixture(scope="module")
def app(admin: Api) -> Api:
    """A system account holding only `ingest`, like an observed app signed in from its secret."""
    return admin.account("ingest", name="observed-app")


def endpoint_client(sub: dict[str, Any]) -> redis.Redis:
    """What the app gets: the subscription's own Redis user, allowed only XADD to its stream."""
    return redis.Redis.from_url(sub["endpoint"], decode_responses=True)


@pytest.fixture(scope="module")
def service(aio: Server) -> redis.Redis:
    """The embedded Redis as the service's own user (registry, groups, dead letters)."""
    client: redis.Redis = aio.service_redis(decode_responses=True)
    return client


def consumed(client: redis.Redis, stream: str) -> bool:
    """The group has read everything in the stream and acknowledged it."""
    info = client.xinfo_stream(stream)
    groups = client.xinfo_groups(stream)
    return bool(groups) and groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == info["last-generated-id"]


# -- lifecycle --------------------------------------------------------------------------------------


def test_subscribe_issues_a_user_id_and_a_stream_key(app: Api, admin: Api, service: redis.Redis, aio: Server) -> None:
    issued = app.post("/subscriptions", json={"user_name": "Team Seven"})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert set(body) >= {"id", "user_id", "stream_key", "transport", "endpoint", "created_at"}
    assert body["stream_key"] == f"ft:s:{body['id']}" and body["transport"] == "redis"
    assert str(uuid.UUID(body["user_id"])) == body["user_id"]  # issued by the service
    # the subscription's own Redis user and its password, shown in this answer only
    where = urlsplit(body["endpoint"])
    assert (where.scheme, where.hostname, where.username) == ("redis", "127.0.0.1", f"ftel-sub-{body['id']}")
    assert where.password and len(where.password) >= 32 and body["topic"] is None
    again = app.get(f"/subscriptions/{body['id']}").json()
    assert again["endpoint"] == body["endpoint"].replace(f":{where.password}@", "@")  # never shown again
    assert where.password not in json.dumps(app.get("/subscriptions").json())

    own = app.post("/subscriptions", json={"user_id": "team-7", "user_name": "Team Seven", "transport": "redis"}).json()
    assert own["user_id"] == "team-7" and own["stream_key"] != body["stream_key"]

    client = endpoint_client(body)
    assert client.xadd(body["stream_key"], {"event": json.dumps({"type": "log", "trace": "t7", "message": "hi"})})
    for refused in (
        lambda: client.xadd(own["stream_key"], {"event": "{}"}),
        lambda: client.hset("ft:flow:allowances", "1", '{"events_per_second": 1e-6}'),
        lambda: client.xrange("ft:dlq"),
        lambda: client.hgetall("ft:streams"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            refused()
    with pytest.raises(redis.AuthenticationError):  # NOAUTH
        redis.Redis(host=where.hostname, port=where.port).ping()
    assert service.type(body["stream_key"]) == "stream"  # ready to XADD into, group created
    log = aio.log_path.read_text(errors="replace")
    assert where.password not in log and (aio.data_dir / "redis-password").read_text().strip() not in log
    registry = json.loads(service.hget("ft:streams", body["stream_key"]))
    assert registry["user_id"] == body["user_id"] and registry["owner"] and registry["deleted"] is None

    mine = {s["id"] for s in app.get("/subscriptions").json()}
    assert {body["id"], own["id"]} <= mine
    assert body["id"] not in {s["id"] for s in admin.get("/subscriptions").json()}  # own only
    assert body["id"] in {s["id"] for s in admin.get("/subscriptions", params={"all": "true"}).json()}
    assert app.get(f"/subscriptions/{own['id']}").json()["user_id"] == "team-7"


def test_unsubscribe_soft_deletes_and_is_idempotent(app: Api, admin: Api, service: redis.Redis) -> None:
    sub = app.post("/subscriptions", json={"user_id": "u-del"}).json()
    assert endpoint_client(sub).xadd(sub["stream_key"], {"event": "{}"})
    other = admin.account("ingest", name="someone-else")
    assert_error(other.delete(f"/subscriptions/{sub['id']}"), 404, "not_found")
    closed = app.delete(f"/subscriptions/{sub['id']}")
    assert (
        closed.status_code == 200 and closed.json()["deleted_at"] and closed.json()["delete_reason"] == "unsubscribed"
    )
    assert app.delete(f"/subscriptions/{sub['id']}").json()["deleted_at"] == closed.json()["deleted_at"]
    assert sub["id"] not in {s["id"] for s in app.get("/subscriptions").json()}
    kept = {s["id"]: s for s in app.get("/subscriptions", params={"include_deleted": "true"}).json()}
    assert kept[sub["id"]]["delete_reason"] == "unsubscribed"
    registry = json.loads(service.hget("ft:streams", sub["stream_key"]))
    assert registry["deleted"] and registry["reason"] == "unsubscribed"
    with pytest.raises(redis.AuthenticationError):  # WRONGPASS: its Redis user went with it
        endpoint_client(sub).xadd(sub["stream_key"], {"event": "{}"})
    assert_error(app.post(f"/subscriptions/{sub['id']}/credentials"), 409, "conflict")


def test_new_credentials_replace_the_old_ones(app: Api, admin: Api) -> None:
    sub = app.post("/subscriptions", json={"user_id": "u-renew"}).json()
    renewed = app.post(f"/subscriptions/{sub['id']}/credentials")
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["id"] == sub["id"] and fresh["endpoint"] != sub["endpoint"]
    assert urlsplit(fresh["endpoint"]).username == urlsplit(sub["endpoint"]).username
    assert endpoint_client(fresh).xadd(sub["stream_key"], {"event": "{}"})
    with pytest.raises(redis.AuthenticationError):
        endpoint_client(sub).xadd(sub["stream_key"], {"event": "{}"})
    other = admin.account("ingest", name="not-the-owner")
    assert_error(other.post(f"/subscriptions/{sub['id']}/credentials"), 404, "not_found")
    assert admin.post(f"/subscriptions/{sub['id']}/credentials").status_code == 200  # an admin may
    app.delete(f"/subscriptions/{sub['id']}")


def test_subscription_input_and_roles_are_checked(app: Api, admin: Api) -> None:
    reader = admin.account("read", name="reader")
    assert_error(reader.post("/subscriptions", json={}), 403, "forbidden")
    assert_error(reader.get("/subscriptions"), 403, "forbidden")
    assert_error(app.get("/subscriptions", params={"all": "true"}), 403, "forbidden")
    assert_error(app.post("/subscriptions", json={"transport": "carrier-pigeon"}), 422, "unprocessable")
    assert_error(app.post("/subscriptions", json={"user_id": ""}), 422, "unprocessable")
    assert_error(app.post("/subscriptions", json={"user_id": "x" * 513}), 422, "unprocessable")
    assert_error(app.get("/subscriptions/nope"), 404, "not_found")
    assert_error(app.delete("/subscriptions/nope"), 404, "not_found")
    broken = app.post("/subscriptions", content=b'{"user_id": "u",}', headers={"Content-Type": "application/json"})
    assert_error(broken, 400, "invalid_input")
    assert "not valid JSON" in broken.json()["error"]["message"]
    bare = app.post("/subscriptions")  # every field is optional, so is the body
    assert bare.status_code == 201, bare.text
    assert bare.json()["user_id"] and bare.json()["transport"] == "redis"
    app.delete(f"/subscriptions/{bare.json()['id']}")


# -- ingestion ---------------------------------------------------------------------------------------


def test_seed_scenario_by_plain_xadd_gives_the_rest_graph_and_garbage_goes_to_the_dlq(
    app: Api, admin: Api, service: redis.Redis
) -> None:
    tag = uuid.uuid4().hex[:6]
    via_rest, via_stream = f"rest-{tag}", f"xadd-{tag}"
    rest_events = rekeyed(seed_events(via_rest), f"-{via_rest}")
    assert app.post("/events", json=rest_events).json()["accepted"] == len(rest_events)

    sub = app.post("/subscriptions", json={"user_id": "demo-user"}).json()
    client = endpoint_client(sub)
    stream_events = rekeyed(seed_events(via_stream), f"-{via_stream}")
    ids = xadd_events(client, sub["stream_key"], stream_events, garbage_at=7)
    assert wait_for(lambda: consumed(service, sub["stream_key"]), timeout=30)

    expected = picture(admin, via_rest, f"-{via_rest}")
    assert expected["summary"]["dropped"] == 2 and len(expected["nodes"]) == 10
    assert wait_for(lambda: picture(admin, via_stream, f"-{via_stream}") == expected, timeout=10)

    garbage = [r for r in dlq(service) if r["stream"] == sub["stream_key"]]
    assert [(r["id"], r["transport"]) for r in garbage] == [(ids[7], "redis")]
    assert "not JSON" in garbage[0]["reason"] and "{this is not json" in garbage[0]["entry"]


def test_events_arrays_and_missing_user_ids_are_accepted(app: Api, admin: Api, service: redis.Redis) -> None:
    tag = uuid.uuid4().hex[:6]
    trace, key = f"arr-{tag}", f"file-{tag}"
    sub = app.post("/subscriptions", json={"user_id": "owner-user"}).json()
    client = endpoint_client(sub)
    events = [
        {"type": "trace.started", "trace": trace, "user": "u-1", "time": "2026-02-01T00:00:00Z"},
        {"type": "file.received", "trace": trace, "node": {"kind": "file", "key": key}, "time": "2026-02-01T00:00:01Z"},
        {
            "type": "log",
            "node": {"kind": "file", "key": key},
            "message": "no user, no trace",
            "time": "2026-02-01T00:00:02Z",
        },
    ]
    xadd_events(client, sub["stream_key"], events, per_entry=3)
    assert wait_for(lambda: consumed(service, sub["stream_key"]), timeout=30)
    node = wait_for(lambda: (r := admin.get(f"/nodes/{key}")).status_code == 200 and r.json(), timeout=10)
    assert node["node"]["trace"] == trace
    stored = [e["event"] for e in node["events"]]
    assert [e.get("user") for e in stored] == [None, None]  # kept missing: the event's own user, not the subscription's
    assert admin.get(f"/traces/{trace}").json()["user"] == "u-1"


def test_kafka_subscription_is_consumed_with_the_same_contract(
    app: Api, admin: Api, kafka_topic: str, service: redis.Redis
) -> None:
    import asyncio

    from tests.conftest import service_env

    sub = app.post("/subscriptions", json={"user_id": "k-user", "transport": "kafka"}).json()
    assert sub["transport"] == "kafka" and sub["topic"] == kafka_topic
    assert sub["endpoint"] == service_env("FT_TEST_KAFKA_BOOTSTRAP")
    tag = uuid.uuid4().hex[:6]
    trace = f"kafka-{tag}"
    events = rekeyed(seed_events(trace), f"-{trace}")

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=sub["endpoint"], acks="all")
        await producer.start()
        try:
            for i, event in enumerate(events):
                if i == 3:
                    await producer.send_and_wait(sub["topic"], b"\x00garbage", key=sub["stream_key"].encode())
                await producer.send_and_wait(sub["topic"], json.dumps(event).encode(), key=sub["stream_key"].encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    summary = wait_for(
        lambda: (
            admin.get(f"/traces/{trace}").json().get("summary", {}).get("outputs") == 1
            and admin.get(f"/traces/{trace}").json()["status"] == "ended"
        ),
        timeout=40,
    )
    assert summary
    detail = admin.get(f"/traces/{trace}").json()["summary"]
    assert detail["dropped"] == 2 and detail["data"] == 6
    stray = wait_for(lambda: [r for r in dlq(service) if r["stream"] == sub["stream_key"]])
    assert [r["transport"] for r in stray] == ["kafka"] and "not JSON" in stray[0]["reason"]


def test_a_restarted_all_in_one_gives_its_writers_back_to_its_new_redis(tmp_path: Path) -> None:
    """Redis does not save the writers; the start-up sync re-creates them from the stored hashes, so an app's
    credentials keep working across restarts (the port here changes with each start: FT_EMBEDDED_REDIS_PORT)."""
    first = Server(dict(ADMIN), "serve", tmp_path)
    try:
        api = Api(first.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        live = api.post("/subscriptions", json={"user_id": "survivor"}).json()
        closed = api.post("/subscriptions", json={"user_id": "closed"}).json()
        api.delete(f"/subscriptions/{closed['id']}")
    finally:
        first.stop()
    second = Server(dict(ADMIN), "serve", tmp_path)
    try:

        def on_new_port(sub: dict[str, Any]) -> redis.Redis:
            where = urlsplit(sub["endpoint"])
            return redis.Redis(port=second.redis_port, username=where.username, password=where.password)

        def writes() -> bool:  # the start-up sync runs beside the first requests: wait for it
            try:
                return bool(on_new_port(live).xadd(live["stream_key"], {"event": "{}"}))
            except redis.AuthenticationError:
                return False

        assert wait_for(writes, timeout=20)
        with pytest.raises(redis.AuthenticationError):
            on_new_port(closed).xadd(closed["stream_key"], {"event": "{}"})
    finally:
        second.stop()


IDLE_SECONDS = 9  # the busy writer below writes every 0.3 s: it would have to stall 30 times over to expire


def test_idle_subscriptions_expire_in_the_all_in_one(tmp_path: Path) -> None:
    """The expiry job of a real server closes a subscription nobody wrote to for FT_SUBSCRIPTION_IDLE_MINUTES
    and keeps one that is written to (the cut-off itself is tested with an injected `now` in
    tests/contract/test_subscription_sync.py and test_redis_acl.py)."""
    env = {
        **ADMIN,
        "FT_STREAM_RECONCILE_SECONDS": "1",
        "FT_SUBSCRIPTION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
        "FT_STREAM_BLOCK_MS": "200",
    }
    srv = Server(env, "serve", tmp_path)
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        quiet = api.post("/subscriptions", json={"user_id": "quiet"}).json()
        busy = api.post("/subscriptions", json={"user_id": "busy"}).json()
        client = endpoint_client(busy)
        stop = threading.Event()

        def keep_writing() -> None:  # until the quiet one is gone, however long a loaded machine takes
            while not stop.is_set():
                client.xadd(busy["stream_key"], {"event": json.dumps({"type": "log", "trace": "busy", "message": "t"})})
                stop.wait(0.3)

        writer = threading.Thread(target=keep_writing, daemon=True)
        writer.start()
        try:
            gone = wait_for(
                lambda: api.get(f"/subscriptions/{quiet['id']}").json()["deleted_at"], timeout=IDLE_SECONDS + 60
            )
            assert gone and api.get(f"/subscriptions/{quiet['id']}").json()["delete_reason"] == "idle"
            with pytest.raises(redis.AuthenticationError):  # expiry deleted its Redis user
                endpoint_client(quiet).xadd(quiet["stream_key"], {"event": "{}"})
            assert api.get(f"/subscriptions/{busy['id']}").json()["deleted_at"] is None  # it kept writing
        finally:
            stop.set()
            writer.join()
        assert wait_for(
            lambda: api.get(f"/subscriptions/{busy['id']}").json()["delete_reason"] == "idle", timeout=IDLE_SECONDS + 60
        )
        service = srv.service_redis(decode_responses=True)

        def followed() -> list[str]:  # the consumer publishes what it follows on its next round
            (state,) = service.hgetall("ft:consumers").values()
            return list(json.loads(state)["streams"]["redis"])

        assert wait_for(lambda: followed() == [], timeout=30), followed()  # follows nothing now
    finally:
        srv.stop()
