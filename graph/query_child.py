"""The query runner's child process: runs user queries on a read-only view of the embedded graph.

Started by graph.query_runner as `python -m graph.query_child <graph path> <memory MiB> <buffer pool MiB>`; never
imported by the server. It reads one request per frame on stdin and writes one answer per frame on the
original stdout (a frame: 4-byte big-endian length, then orjson). Its address space (RLIMIT_AS), CPU time per
query (RLIMIT_CPU), threads (one) and priority (nice 10) are bounded, so a runaway or crashing query costs this
process only; the parent kills it past the deadline and starts another.

The graph is opened read-only beside the server's read-write Database, and opened again whenever its files
changed since (an open Database does not see later commits). Opening replays the write-ahead log, so it costs
more the longer the log has grown since the last checkpoint; while the writer checkpoints or appends, an open
can fail, and is retried until the query's deadline.
"""

from __future__ import annotations

import math
import os
import resource
import struct
import sys
import time
from pathlib import Path
from typing import IO, Any

import orjson

_HEADER = struct.Struct(">I")


def read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    body = stream.read(size)
    return body if len(body) == size else None


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def plain(value: Any) -> Any:
    """LadybugDB values to JSON-friendly values (internal ids dropped, label kept)."""
    if isinstance(value, dict):
        if "_LABEL" in value:
            out = {k: plain(v) for k, v in value.items() if not k.startswith("_") and k != "status_rank"}
            out["_label"] = value["_LABEL"]
            return out
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


class _Graph:
    """The read-only Database, reopened when the graph's files change."""

    def __init__(self, path: Path, memory: int, buffer_pool: int) -> None:
        self.path = path
        self.memory = memory
        self.buffer_pool = buffer_pool
        self.signature: tuple[Any, ...] | None = None
        self.db: Any = None
        self.conn: Any = None

    def _signature(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = p.stat()
                out.append((st.st_size, st.st_mtime_ns, st.st_ino))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def connection(self, deadline: float) -> Any:
        import ladybug

        signature = self._signature()
        if self.conn is not None and signature == self.signature:
            return self.conn
        self.close()
        size = self.path.stat().st_size if self.path.exists() else 0
        # LadybugDB reserves max_db_size of address space up front; the limit leaves `memory` above it
        max_db = 1 << max(33, math.ceil(math.log2(max(size, 1) * 4)))
        resource.setrlimit(resource.RLIMIT_AS, (max_db + self.memory, resource.RLIM_INFINITY))
        while True:
            try:
                self.db = ladybug.Database(
                    str(self.path),
                    read_only=True,
                    buffer_pool_size=self.buffer_pool,
                    max_num_threads=1,
                    max_db_size=max_db,
                    throw_on_wal_replay_failure=False,  # the log's tail may be mid-write: replay what committed
                )
                break
            except RuntimeError:
                # the writer is checkpointing or mid-write ("recovery is pending", an index page in flux): retry
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.conn = ladybug.Connection(self.db)
        self.signature = signature
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.db.close()
        self.conn = self.db = self.signature = None


def run(graph: _Graph, request: dict[str, Any]) -> dict[str, Any]:
    """One query: the answer is {"columns", "rows", "truncated"} or {"error": kind, "message": ...}."""
    timeout: float = request["timeout"]
    deadline = time.monotonic() + timeout
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + timeout) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.RLIM_INFINITY))  # SIGXCPU past it
    try:
        conn = graph.connection(deadline)
    except RuntimeError as exc:
        graph.close()
        return {"error": "unavailable", "message": f"cannot open the graph read-only: {exc}"}
    conn.set_query_timeout(max(1, int((deadline - time.monotonic()) * 1000)))
    try:
        result = conn.execute(request["cypher"], request["params"])
        if isinstance(result, list):
            return {"error": "rejected", "message": "only one statement per query"}
        columns = result.get_column_names()
        rows: list[Any] = []
        size, truncated = 0, False
        max_bytes, row_limit = request["max_bytes"], request["row_limit"]
        while result.has_next():
            if len(rows) >= row_limit or time.monotonic() > deadline:
                truncated = len(rows) >= row_limit
                if not truncated:
                    return {"error": "timeout", "message": "materialising the rows ran past the time limit"}
                break
            row = [plain(v) for v in result.get_next()]
            size += len(_dumps(row)) + 1
            if size > max_bytes:
                truncated = True
                break
            rows.append(row)
        return {"columns": columns, "rows": rows, "truncated": truncated}
    except MemoryError:
        return {"error": "memory", "message": "the query ran out of memory"}
    except RuntimeError as exc:
        message = str(exc)
        if "Interrupted" in message:
            return {"error": "timeout", "message": message}
        if "bad_alloc" in message or "Buffer manager exception" in message:
            return {"error": "memory", "message": "the query ran out of memory"}
        return {"error": "rejected", "message": message}
    except (ValueError, TypeError, OverflowError) as exc:
        return {"error": "rejected", "message": f"parameters: {exc}"}
    finally:
        conn.set_query_timeout(0)


def main() -> None:
    path, memory_mb, buffer_pool_mb = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the engine prints goes to stderr, never into the frames
    requests = os.fdopen(0, "rb")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(10)  # ingestion in the server comes first
    graph = _Graph(path, memory_mb << 20, buffer_pool_mb << 20)
    write_frame(answers, b'{"ready":true}')
    while (frame := read_frame(requests)) is not None:
        try:
            answer = run(graph, orjson.loads(frame))
        except MemoryError:
            answer = {"error": "memory", "message": "the query ran out of memory"}
        try:
            payload = _dumps(answer)
        except MemoryError:
            payload = _dumps({"error": "memory", "message": "the query ran out of memory"})
        write_frame(answers, payload)


if __name__ == "__main__":
    main()
