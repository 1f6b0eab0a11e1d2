"""User queries on the embedded graph, run outside the serving process.

The server's LadybugDB Database is read-write and serves ingestion; an untrusted query there could hold its
lock, exhaust its memory or crash it (the engine segfaults on some inputs). So each user query runs in a
child process (graph/query_child.py, started with `python -m`, never forked from the server) over a
read-only Database of the same directory, with bounded memory, CPU and threads. The parent waits at most
until the query's deadline (plus a short grace), then kills the child; a child that dies answers its one
query with QueryRejected and is replaced. Ingestion never waits on a user query: the runner shares no lock
with the store's writes.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from graph.base import GraphError, QueryRejected, QueryResult, QueryTimeout
from graph.query_child import read_frame, write_frame

log = logging.getLogger(__name__)

_GRACE = 1.0  # beyond the deadline: the engine's own interrupt normally answers first
_START_SECONDS = 30.0  # a child that is not ready by then is broken


class _Child:
    def __init__(self, argv: list[str]) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests = self.proc.stdin
        self.answers = self.proc.stdout
        self.ready = False

    def wait_frame(self, deadline: float) -> bytes | None:
        """The next frame, or None if the child died; raises TimeoutError past the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.answers], [], [], remaining)[0]:
            raise TimeoutError
        return read_frame(self.answers)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.requests, self.answers):
            try:
                stream.close()
            except OSError:
                pass


class QueryRunner:
    """A pool of up to `workers` query children, started on first use."""

    def __init__(
        self, graph_path: Path, *, workers: int = 1, memory_mb: int = 1024, buffer_pool_mb: int = 256, max_bytes: int
    ) -> None:
        self.max_bytes = max_bytes
        self._argv = [
            sys.executable,
            "-m",
            "graph.query_child",
            str(graph_path.resolve()),
            str(memory_mb),
            str(buffer_pool_mb),
        ]
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, cypher: str, params: dict[str, Any], row_limit: int, deadline: float) -> QueryResult:
        """Run a query that passed the sandbox; `deadline` is time.monotonic() by which it must have answered."""
        timeout = deadline - time.monotonic()
        if timeout <= 0 or not self._slots.acquire(timeout=timeout):
            raise QueryTimeout("no query worker became free before the time limit")
        try:
            child = self._take(deadline)
            request = {
                "cypher": cypher,
                "params": params,
                "row_limit": row_limit,
                "max_bytes": self.max_bytes,
                "timeout": max(0.001, deadline - time.monotonic()),
            }
            try:
                write_frame(child.requests, orjson.dumps(request))
                frame = child.wait_frame(deadline + _GRACE)
            except TimeoutError:
                child.kill()
                raise QueryTimeout("query stopped at its time limit (its worker was stopped)") from None
            except OSError:
                frame = None
            if frame is None:
                child.kill()
                if child.proc.returncode == -signal.SIGXCPU:
                    raise QueryTimeout("query stopped: it used more CPU time than its time limit")
                raise QueryRejected(_crash_message(child.proc.returncode))
            self._give_back(child)
            return _result(orjson.loads(frame))
        finally:
            self._slots.release()

    def _take(self, deadline: float) -> _Child:
        with self._lock:
            if self._closed:
                raise GraphError("the query runner is closed")
            while self._idle:
                child = self._idle.pop()
                if child.proc.poll() is None:
                    return child
                child.kill()
        child = _Child(self._argv)
        try:
            frame = child.wait_frame(min(deadline, time.monotonic() + _START_SECONDS))
        except TimeoutError:
            child.kill()
            raise QueryTimeout("the query worker did not start before the time limit") from None
        if frame is None:
            child.kill()
            raise GraphError(f"the query worker failed to start (exit code {child.proc.returncode})")
        return child

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if self._closed:
                child.kill()
            else:
                self._idle.append(child)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()


def _crash_message(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"query crashed the query engine ({name}); the service is unaffected"
    return f"query crashed the query engine (exit code {code}); the service is unaffected"


def _result(answer: dict[str, Any]) -> QueryResult:
    error = answer.get("error")
    if error is None:
        return QueryResult(columns=answer["columns"], rows=answer["rows"], truncated=answer["truncated"])
    message = str(answer.get("message", ""))
    if error == "timeout":
        raise QueryTimeout(f"query stopped at its time limit: {message}")
    if error == "unavailable":
        raise GraphError(message)
    if error == "memory":
        raise QueryRejected(f"{message} (the query worker's memory is limited by FT_QUERY_MEMORY_MB)")
    raise QueryRejected(message)
