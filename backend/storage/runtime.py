"""File storage in a running process: the object store the settings ask for, the retention
schedule (a background thread, like the projector) and the gRPC upload server."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from backend.settings import Settings, StorageBackend
from backend.storage.base import ObjectStore, StorageError
from backend.storage.files import FileContext
from backend.storage.retention import run_retention
from graph.base import GraphError, GraphStore

log = logging.getLogger("ftel.files")


def open_object_store(settings: Settings) -> ObjectStore:
    """The store of FT_STORAGE: a local directory (FT_STORAGE_DIR, default <data dir>/files) or an
    S3 bucket (FT_S3_*). Opening contacts nothing; the S3 bucket is created on first write."""
    if settings.storage is StorageBackend.s3:
        from backend.storage.s3 import S3ObjectStore

        return S3ObjectStore(settings.s3_endpoint or "", settings.s3_bucket, settings.s3_access_key,
                             settings.s3_secret_key, region=settings.s3_region)
    from backend.storage.local import LocalObjectStore

    return LocalObjectStore(settings.files_dir)


class FileServices:
    """Owns the object store and the file background work of one server process."""

    def __init__(self, settings: Settings, engine: Engine, graph: GraphStore, signing_key: str) -> None:
        self.settings = settings
        self.store = open_object_store(settings)
        self.ctx = FileContext(settings, engine, graph, self.store)
        self._engine = engine
        self._signing_key = signing_key
        self._stop = threading.Event()
        self._retention: threading.Thread | None = None
        self._grpc: Any = None

    def start(self, *, uploads: bool = True) -> None:
        """Start the retention schedule (FT_RETENTION_INTERVAL_SECONDS > 0) and, with `uploads`, the
        gRPC upload server (FT_GRPC_PORT > 0)."""
        if self.settings.retention_interval_seconds > 0 and self._retention is None:
            self._retention = threading.Thread(target=self._retention_loop, name="ftel-retention", daemon=True)
            self._retention.start()
        if uploads and self.settings.grpc_port > 0 and self._grpc is None:
            from backend.grpc.server import start_grpc_server

            self._grpc = start_grpc_server(self.ctx, self._engine, self._signing_key, self.settings.host, self.settings.grpc_port)

    def _retention_loop(self) -> None:
        while not self._stop.wait(self.settings.retention_interval_seconds):
            try:
                run_retention(self.ctx)
            except (StorageError, GraphError) as exc:
                log.warning("retention: store unavailable, will retry: %s", exc)
            except Exception:
                log.exception("retention run failed; will retry")

    def close(self) -> None:
        self._stop.set()
        if self._grpc is not None:
            self._grpc.stop(grace=5).wait(10)
        if self._retention is not None:
            self._retention.join(timeout=30)
        self.store.close()


class DeferredGraph:
    """A GraphStore stand-in for commands that cannot open the graph (the all-in-one server holds
    the embedded one): every merge fails with GraphError, so events stay stored but unprojected,
    and the server's projector merges them."""

    def apply(self, batch: Any) -> None:
        raise GraphError("graph not opened by this command: the server's projector will merge these events")

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        def unavailable(*_: Any, **__: Any) -> Any:
            raise GraphError("graph not opened by this command")

        return unavailable
