"""The stores of one process, opened once from Settings and closed together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from backend.db import event_log
from backend.db.engine import make_engine, upgrade
from backend.domain import auth
from backend.domain.ingest import project_pending
from backend.metrics import EVENTS_PENDING
from backend.settings import Settings
from backend.storage.runtime import FileServices
from backend.streams.embedded_redis import EmbeddedRedis
from graph.base import GraphError, GraphStore
from graph.factory import open_graph

if TYPE_CHECKING:
    from backend.flow.control import FlowControl
    from backend.worker.runtime import StreamRuntime

log = logging.getLogger("ftel.services")
_flow_lock = threading.Lock()


@dataclass
class Services:
    settings: Settings
    engine: Engine
    graph: GraphStore
    signing_key: str
    redis: EmbeddedRedis | None = None
    files: FileServices | None = None  # object store, retention schedule, gRPC uploads (backend/storage)
    consume_streams: bool = False  # all-in-one: run the stream consumers in this process (backend/worker)
    streams: StreamRuntime | None = None
    _flow: FlowControl | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _projector: threading.Thread | None = None
    _streams_thread: threading.Thread | None = None

    @property
    def redis_url(self) -> str | None:
        return self.settings.redis_url or (self.redis.url if self.redis else None)

    @property
    def flow(self) -> FlowControl:
        """Per-user accounting, parking and draining (backend/flow), opened on first use."""
        if self._flow is None:
            from backend.flow.control import FlowControl

            with _flow_lock:
                if self._flow is None:
                    self._flow = FlowControl(self.settings, self.engine, self.graph, self.redis_url)
        return self._flow

    def start_projector(self) -> None:
        """Background catch-up: merges events the request path could not merge (graph down, crash)."""
        self._projector = threading.Thread(target=self._project_loop, name="ftel-projector", daemon=True)
        self._projector.start()
        self.flow.start()  # the drainer runs wherever the projector does (all-in-one, api, worker)

    def start_files(self, *, uploads: bool) -> None:
        """The retention schedule; with `uploads`, also the gRPC upload server (API processes only:
        a worker on the same host must not try to bind FT_GRPC_PORT too)."""
        if self.files is not None:
            self.files.start(uploads=uploads)

    def start_streams(self) -> None:
        """All-in-one: the same consumers as `ftel worker`, plus its scheduled jobs, on a thread of their own."""
        if not self.consume_streams or self.redis_url is None or self.streams is not None:
            return
        from backend.worker.runtime import StreamRuntime, default_consumer_name

        self.streams = StreamRuntime(self.settings, self.engine, self.graph, self.redis_url,
                                     default_consumer_name(self.settings, "serve"), scheduled=True,
                                     flow=self.flow)
        self._streams_thread = threading.Thread(target=self.streams.run_in_thread, name="ftel-streams", daemon=True)
        self._streams_thread.start()

    def _project_loop(self) -> None:
        while not self._stop.wait(self.settings.projector_interval_seconds):
            try:
                while project_pending(self.engine, self.graph, self.settings.graph_batch_size):
                    if self._stop.is_set():
                        return
                EVENTS_PENDING.set(event_log.pending_count(self.engine))
            except GraphError as exc:
                log.warning("projector: graph unavailable, will retry: %s", exc)
            except Exception:
                log.exception("projector failed; will retry")

    def close(self) -> None:
        self._stop.set()
        if self.streams is not None and self._streams_thread is not None:
            self.streams.stop()  # before the stores close: the consumer finishes its batch first
            self._streams_thread.join(timeout=20)
        if self._projector is not None:
            self._projector.join(timeout=10)
        if self._flow is not None:
            self._flow.close()
        closers = [("files", self.files.close if self.files else None), ("graph", self.graph.close),
                   ("sql", self.engine.dispose), ("redis", self.redis.close if self.redis else None)]
        for name, close in closers:  # one failing close does not skip the others
            if close is None:
                continue
            try:
                close()
            except Exception:
                log.exception("closing %s failed", name)


def open_services(settings: Settings, *, embedded_redis: bool = False, streams: bool = False) -> Services:
    """Open SQL (migrating it), the graph, and optionally the embedded Redis; `streams`: this process
    consumes the subscription streams (all-in-one) once `start_streams()` is called."""
    settings.ensure_data_dir()
    engine = make_engine(settings)
    upgrade(engine)
    graph = open_graph(settings)
    key = auth.signing_key(engine, settings)
    redis = None
    if embedded_redis and settings.redis_url is None and settings.embedded_redis:
        redis = EmbeddedRedis(settings.data_dir / "redis", settings.embedded_redis_port)
    files = FileServices(settings, engine, graph, key)
    return Services(settings=settings, engine=engine, graph=graph, signing_key=key, redis=redis, files=files,
                    consume_streams=streams)
