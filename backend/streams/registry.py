"""The Redis side of subscriptions: the registry hash `ft:streams`, the control channel `ft:control`,
and stream/group creation. Every instance reads it; SQL keeps the durable copy (reconciled both ways)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from backend.streams import keys

log = logging.getLogger("ftel.streams")


@dataclass(frozen=True)
class StreamRecord:
    """One subscription as the registry holds it (JSON in `ft:streams`, field = stream key)."""

    id: str
    stream: str
    transport: str
    user_id: str
    user_name: str | None
    owner: str | None  # account uuid
    owner_client_id: str | None  # to re-link the owner when the SQL store (and its accounts) was rebuilt
    created: str  # RFC 3339
    deleted: str | None = None
    reason: str | None = None
    secret_sha256: str | None = None  # of the subscription's Redis writer password (backend/streams/acl.py)

    @property
    def live(self) -> bool:
        return self.deleted is None

    def dumps(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def loads(cls, text: str | bytes) -> StreamRecord | None:
        try:
            doc = orjson.loads(text)
            return cls(**{k: doc.get(k) for k in cls.__dataclass_fields__})
        except (orjson.JSONDecodeError, TypeError):
            return None


def without_password(url: str) -> str:
    """The URL with its password left out (for subscribers and for messages and logs)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = (
        (f"{parts.username}@" if parts.username else "")
        + (parts.hostname or "")
        + (f":{parts.port}" if parts.port else "")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_credentials(url: str, user: str, password: str | None) -> str:
    """The URL with this user (and password, when given) in place of its own userinfo."""
    parts = urlsplit(url)
    userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{userinfo}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def database(url: str) -> int:
    """The database number a redis:// URL selects (path `/n` or query `db=n`; 0 when absent)."""
    parts = urlsplit(url)
    number = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "0")
    return int(number) if number.isdigit() else 0


class Registry:
    """The registry on one asyncio client (text replies: decode_responses=True), on the caller's loop."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, record: StreamRecord) -> None:
        await cast(Awaitable[Any], self.redis.hset(keys.REGISTRY, record.stream, record.dumps()))

    async def put_many(self, records: list[StreamRecord]) -> None:
        if records:
            await cast(Awaitable[Any], self.redis.hset(keys.REGISTRY, mapping={r.stream: r.dumps() for r in records}))

    async def get(self, stream: str) -> StreamRecord | None:
        text = await cast(Awaitable[Any], self.redis.hget(keys.REGISTRY, stream))
        return StreamRecord.loads(text) if text else None

    async def all(self) -> dict[str, StreamRecord]:
        records: dict[str, StreamRecord] = {}
        for stream, text in (await cast(Awaitable[Any], self.redis.hgetall(keys.REGISTRY))).items():
            record = StreamRecord.loads(text)
            if record is None:
                log.warning("registry entry %s is not a subscription record; ignored", stream)
                continue
            records[stream] = record
        return records

    async def streams_in_redis(self) -> set[str]:
        """Every `ft:s:*` stream key present in Redis (SCAN, never KEYS)."""
        found: set[str] = set()
        async for key in self.redis.scan_iter(match=f"{keys.STREAM_PREFIX}*", count=1000, _type="stream"):
            found.add(key)
        return found

    async def ensure_stream(self, stream: str, group: str) -> None:
        """Create the stream and its consumer group (from the start of the stream) unless they exist."""
        try:
            await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def replay_from_start(self, stream: str, group: str) -> None:
        """Deliver whatever the stream still holds again (after the SQL store lost its events)."""
        await self.ensure_stream(stream, group)
        await self.redis.xgroup_setid(stream, group, id="0")

    async def announce(self, op: str, stream: str) -> None:
        await self.redis.publish(keys.CONTROL, orjson.dumps({"op": op, "stream": stream}).decode())

    async def listen(self, on_message: Callable[[str, str], Awaitable[None]], stop: asyncio.Event) -> None:
        """Call `on_message(op, stream)` for each control message until `stop` is set; reconnects on errors.
        Messages sent while disconnected are lost (pub/sub): callers also re-read the registry periodically."""
        while not stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.CONTROL)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    doc = _control(message.get("data"))
                    if doc is not None:
                        await on_message(*doc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("control channel: %s; reconnecting", exc)
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                except Exception:
                    pass


def _control(data: Any) -> tuple[str, str] | None:
    try:
        doc = orjson.loads(data)
        return str(doc["op"]), str(doc["stream"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("control channel: ignored message %r", str(data)[:200])
        return None
