"""Fixtures of the stream tests: an isolated database on the test Redis, a writer that does what apps
do (plain XADD / Kafka produce), and `ftel worker` as a real subprocess."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from backend.bootstrap import async_redis
from backend.db.accounts import SqlAccounts
from backend.domain.auth import Auth, Principal
from backend.settings import Settings
from backend.streams.registry import Registry
from bench.workload import map_keys
from tests.conftest import service_env
from tests.crash_fixtures import Proc

# Databases 8..15 of the test Redis belong to the stream tests (each test flushes the one it gets);
# pub/sub is not per database, which the code tolerates: control messages are hints checked against
# the registry of the instance's own database. Runs side by side on one machine start at different
# databases (by pid), so that one run's flush rarely lands in the database another is using.
_DBS = itertools.cycle([8 + (os.getpid() + i) % 8 for i in range(8)])


def redis_db_url(base: str, db: int) -> str:
    return base.rsplit("/", 1)[0] + f"/{db}"


@pytest.fixture
def stream_redis_url() -> Iterator[str]:
    """A flushed database of the real test Redis (`scripts/services.sh start redis`)."""
    url = redis_db_url(service_env("FT_TEST_REDIS_URL"), next(_DBS))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def kafka_bootstrap() -> str:
    return service_env("FT_TEST_KAFKA_BOOTSTRAP")


def xadd_events(
    client: redis.Redis, stream: str, events: list[dict[str, Any]], *, garbage_at: int | None = None, per_entry: int = 1
) -> list[str]:
    """Write events like an app would: one `event` field per entry (or `events` arrays of `per_entry`)."""
    ids = []
    for start in range(0, len(events), per_entry):
        if garbage_at is not None and start == garbage_at:
            ids.append(client.xadd(stream, {"event": "{this is not json"}))
        chunk = events[start : start + per_entry]
        fields = {"event": json.dumps(chunk[0])} if per_entry == 1 else {"events": json.dumps(chunk)}
        ids.append(client.xadd(stream, fields))
    return [i.decode() if isinstance(i, bytes) else i for i in ids]


def dlq(client: redis.Redis) -> list[dict[str, str]]:
    return [
        {
            k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in fields.items()
        }
        for _, fields in client.xrange("ft:dlq")
    ]


def rekeyed(events: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """The seed scenario with its node keys made unique (a key names one node across the service)."""
    return map_keys(events, lambda key: key + suffix)


class WorkerProcess(Proc):
    """`ftel worker` in a subprocess, stopped by pid (TERM, or KILL to simulate a crash)."""

    def __init__(self, env: dict[str, str], data_dir: Path, name: str = "worker") -> None:
        super().__init__("worker", data_dir, env, name)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_started(self, timeout: float = 60) -> None:
        if not self.up(timeout):
            raise RuntimeError(f"worker was killed before it started:\n{self.log()}")


def principal(engine: Engine, name: str = "app") -> Principal:
    """A new `ingest` account, as the subscription services see their caller."""
    account = Auth(SqlAccounts(engine), Settings()).create_account(name, "system", ["ingest"]).account
    return Principal(account_id=account.id, uuid=account.uuid, name=account.name, roles=frozenset({"ingest"}))


def run(url: str, body: Callable[[Registry], Awaitable[Any]]) -> Any:
    """`body` on a registry over its own asyncio client, in a fresh event loop."""

    async def main() -> Any:
        client = async_redis(url)
        try:
            return await body(Registry(client))
        finally:
            await client.aclose()

    return asyncio.run(main())
