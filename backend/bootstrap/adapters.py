"""The adapters of the composition root: the only place an engine, a graph store, a Redis client, an
object store or a stream source is constructed. `backend.bootstrap.build` opens them once per process;
tests and benches call them to get the real thing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import redis
import redis.asyncio
from limits.storage import RedisStorage, Storage
from sqlalchemy import Engine, create_engine, event

from backend.db.engine import sqlite_pragmas
from backend.errors import GraphBusy
from backend.settings import GraphBackend, Settings, StorageBackend
from backend.storage.base import ObjectStore
from backend.streams import keys
from backend.streams.admin import SharedLock
from backend.streams.base import EventSource
from backend.streams.redis import RedisStreamSource
from backend.worker.runtime import SourceFactory
from graph.base import GraphStore
from graph.serialized import SerializedWrites


def open_engine(settings: Settings) -> Engine:
    """One engine per process. SQLite runs in WAL mode (backend.db.engine.sqlite_pragmas)."""
    if settings.is_sqlite:
        engine = create_engine(settings.sqlalchemy_url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", sqlite_pragmas)
        return engine
    return create_engine(settings.sqlalchemy_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def open_graph(settings: Settings) -> GraphStore:
    if settings.graph is GraphBackend.neo4j:
        from graph.neo4j import Neo4jGraphStore

        return Neo4jGraphStore(
            settings.neo4j_uri,
            settings.neo4j_user,
            settings.neo4j_password,
            settings.neo4j_database,
            retry_seconds=settings.neo4j_retry_seconds,
            connect_timeout=settings.neo4j_connect_timeout_seconds,
            query_max_bytes=settings.query_max_bytes,
        )
    from graph.embedded import EmbeddedGraphStore
    from graph.query_runner import QueryRunner

    runner = QueryRunner(  # its child processes start on the first user query
        settings.graph_dir,
        workers=settings.query_workers,
        memory_mb=settings.query_memory_mb,
        max_bytes=settings.query_max_bytes,
    )
    return EmbeddedGraphStore(settings.graph_dir, runner, settings.graph_buffer_mb, settings.graph_checkpoint_mb)


def open_object_store(settings: Settings) -> ObjectStore:
    """The store of FT_STORAGE: a local directory (FT_STORAGE_DIR, default <data dir>/files) or an S3
    bucket (FT_S3_*). Opening contacts nothing; the S3 bucket is created on first write."""
    if settings.storage is StorageBackend.s3:
        from backend.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            settings.s3_endpoint or "",
            settings.s3_bucket,
            settings.s3_access_key,
            settings.s3_secret_key,
            region=settings.s3_region,
        )
    from backend.storage.local import LocalObjectStore

    return LocalObjectStore(settings.files_dir)


def open_directory(path: Path) -> ObjectStore:
    """A directory seen as an object store (a backup written or read by the CLI); created when missing."""
    from backend.storage.local import LocalObjectStore

    return LocalObjectStore(path)


def sync_redis(url: str, timeout: float = 2.0) -> redis.Redis:
    """A blocking client (bytes replies), for worker threads: park media, administration."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 2.0))


def async_redis(url: str) -> redis.asyncio.Redis:
    """An asyncio client with text replies (stream fields are UTF-8 JSON), for the caller's event loop."""
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_keepalive=True
    )
    return client


def signin_windows(client: redis.Redis) -> Storage:
    """The sign-in throttle's windows on the process's Redis (one connection pool): every API process shares them."""
    return RedisStorage(
        "redis://", connection_pool=client.connection_pool, key_prefix=keys.SIGNIN_LIMITS, wrap_exceptions=True
    )


def stream_sources(settings: Settings, consumer: str) -> SourceFactory:
    """The transports this process consumes: Redis Streams always, Kafka when FT_KAFKA_BOOTSTRAP is set."""

    def make(client: redis.asyncio.Redis, is_live: Callable[[str], Awaitable[bool]]) -> list[EventSource]:
        sources: list[EventSource] = [
            RedisStreamSource(
                client,
                settings.stream_group,
                consumer,
                claim_idle_ms=settings.stream_claim_idle_ms,
                dlq_maxlen=settings.stream_dlq_maxlen,
            )
        ]
        if settings.kafka_bootstrap:
            from backend.streams.kafka import KafkaEventSource

            sources.append(
                KafkaEventSource(
                    settings.kafka_bootstrap,
                    settings.kafka_topic,
                    settings.stream_group,
                    consumer,
                    client,
                    partitions=settings.kafka_partitions,
                    retry_delay_ms=settings.stream_claim_idle_ms,
                    dlq_maxlen=settings.stream_dlq_maxlen,
                    is_live=is_live,
                    static_member=settings.consumer_name is not None,
                )
            )
        return sources

    return make


def serialized_writes(graph: GraphStore, settings: Settings, client: redis.Redis) -> GraphStore:
    """Merges into a graph several processes write (Neo4j) take turns under a lock on their Redis."""

    def busy() -> Exception:
        return GraphBusy("another merge holds the graph; these events are stored and wait for the projector")

    lock = SharedLock(
        client, keys.GRAPH_WRITE_LOCK, ttl_seconds=60, wait_seconds=settings.graph_write_wait_seconds, busy=busy
    )
    return SerializedWrites(graph, lock.hold)
