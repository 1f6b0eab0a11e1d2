"""Embedded graph adapter: LadybugDB (the maintained Kùzu fork) in a directory under FT_DATA_DIR.

One process owns the directory (LadybugDB allows one read-write Database per directory per
process); calls from several threads are serialised by a lock. User queries never take that lock: they run
in the query runner's child processes over a read-only view (graph/query_runner.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ladybug

from graph.base import LABELS, GraphBatch, GraphError, NodeRow, QueryResult
from graph.capabilities import Capabilities
from graph.cypher import CypherGraphStore, Statement
from graph.query_runner import QueryRunner

_NODE_COLUMNS = (
    "key STRING, kind STRING, trace STRING, user STRING, name STRING, status STRING, status_rank INT64, "
    "reason STRING, code STRING, first_at STRING, last_at STRING, produced BOOLEAN, "
    "log_debug INT64, log_info INT64, log_warn INT64, log_error INT64, PRIMARY KEY(key)"
)
_KINDS = tuple(LABELS.values())
log = logging.getLogger("ftel.graph")


def _schema() -> list[str]:
    ddl = [f"CREATE NODE TABLE IF NOT EXISTS {label}({_NODE_COLUMNS})" for label in ("Trace", *_KINDS)]
    ddl.append("ALTER TABLE Trace ADD IF NOT EXISTS started_at STRING")  # graphs made before it existed
    pairs = ", ".join(f"FROM {a} TO {b}" for a in _KINDS for b in _KINDS)
    ddl.append(f"CREATE REL TABLE IF NOT EXISTS FLOWS_TO({pairs}, op STRING, at STRING)")
    ddl.append("CREATE REL TABLE IF NOT EXISTS CONTAINS(" + ", ".join(f"FROM Trace TO {k}" for k in _KINDS) + ")")
    # drops charged to the trace that reported them (graphs made before: `ftel graph rebuild` fills them)
    ddl.append("ALTER TABLE Trace ADD IF NOT EXISTS has_drops BOOLEAN")
    ddl += [f"ALTER TABLE CONTAINS ADD IF NOT EXISTS {c} STRING" for c in ("dropped_at", "drop_reason", "drop_code")]
    # relations derived by the batch app (graph/base.py): the mark of a flow's source, and the derived edges
    ddl += [f"ALTER TABLE {k} ADD IF NOT EXISTS relations_due STRING" for k in _KINDS]
    ends = ("File", "Sink")
    ddl.append(
        "CREATE REL TABLE IF NOT EXISTS FILE_FLOWS_TO("
        + ", ".join(f"FROM {a} TO {b}" for a in ends for b in ends)
        + ")"
    )
    ddl.append("CREATE REL TABLE IF NOT EXISTS FEEDS(FROM Trace TO Trace)")
    return ddl


@contextmanager
def _graph_errors() -> Iterator[None]:
    """LadybugDB reports every failure as RuntimeError: at this boundary it becomes a GraphError."""
    try:
        yield
    except RuntimeError as exc:
        raise GraphError(f"embedded graph: {exc}") from exc


class EmbeddedGraphStore(CypherGraphStore):
    capabilities = Capabilities(no_shared_writers=True, no_multi_labels=True)

    def __init__(
        self, path: Path, runner: QueryRunner | None = None, buffer_mb: int = 512, checkpoint_mb: int = 64
    ) -> None:
        """`runner`: where user queries run; without one (maintenance commands, benches) `query` fails.
        `buffer_mb`: LadybugDB's buffer pool (its own default is sized from the machine's memory).
        `checkpoint_mb`: how much write-ahead log builds up before it is folded into the database; its own
        default folds far more often, and a merge that had to fold cost several times one that did not (the
        seed mix merged ~1.3x faster with 64 MiB). The log's pages wait in the buffer pool until then, so it
        stays well below `buffer_mb` (Settings checks a quarter at most)."""
        self._runner = runner
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(
                str(path), buffer_pool_size=buffer_mb * 1024 * 1024, checkpoint_threshold=checkpoint_mb * 1024 * 1024
            )
        except RuntimeError as exc:
            raise GraphError(f"cannot open the embedded graph at {path}: {exc}") from exc
        self._conn = ladybug.Connection(self._db)
        self._lock = threading.Lock()
        with self._lock:
            for ddl in _schema():
                self._conn.execute(ddl)
        self.charge_old_drops()
        self.mark_flows_unrelated()

    def _merge_node(self, kind: str) -> str:
        return f"MERGE (n:{LABELS[kind]} {{key: r.key}})"

    def _node(self, var: str, kind: str | None, key: str) -> str:
        label = f":{LABELS[kind]}" if kind else ""
        return f"({var}{label} {{key: {key}}})"

    def _rows(self, result: Any) -> list[dict[str, Any]]:
        columns = result.get_column_names()
        return [dict(zip(columns, row, strict=True)) for row in result.get_all()]

    def _read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock, _graph_errors():
            return self._rows(self._conn.execute(cypher, params))

    def apply(self, batch: GraphBatch) -> None:
        """This process is the graph's only writer: nodes the batch brings are looked up in the write
        transaction, and the absent ones created rather than merged (see CypherGraphStore._statements)."""
        if not (batch.traces or batch.nodes or batch.flows or batch.log_counts or batch.drops):
            return
        self._write(lambda: self._statements(batch, fresh=self._absent(batch.nodes)))

    def _absent(self, nodes: list[NodeRow]) -> set[tuple[str, str]]:
        wanted: dict[str, set[str]] = {}
        for n in nodes:
            wanted.setdefault(n.kind, set()).add(n.key)
        absent: set[tuple[str, str]] = set()
        for kind, keys in wanted.items():
            found = self._rows(
                self._conn.execute(
                    f"UNWIND $keys AS k MATCH (n:{LABELS[kind]} {{key: k}}) RETURN n.key AS key", {"keys": sorted(keys)}
                )
            )
            absent.update((kind, key) for key in keys - {row["key"] for row in found})
        return absent

    def _write(self, statements: list[Statement] | Callable[[], list[Statement]]) -> None:
        """Run the statements in one transaction; a callable builds them inside it, under the lock. A buffer
        pool too full for the transaction (the write-ahead log's pages wait there to be folded) is folded
        (CHECKPOINT) and the transaction tried once more."""
        with self._lock, _graph_errors():
            try:
                self._transaction(statements)
            except RuntimeError as exc:
                if "Buffer manager exception" not in str(exc):
                    raise
                log.warning("embedded graph: buffer pool full, folding the write-ahead log and retrying: %s", exc)
                self._conn.execute("CHECKPOINT")
                self._transaction(statements)

    def _transaction(self, statements: list[Statement] | Callable[[], list[Statement]]) -> None:
        self._conn.execute("BEGIN TRANSACTION")
        try:
            for cypher, params in statements() if callable(statements) else statements:
                self._conn.execute(cypher, params)
        except Exception:
            try:
                self._conn.execute("ROLLBACK")
            except RuntimeError:
                pass  # a failed statement may already have ended the transaction
            raise
        self._conn.execute("COMMIT")

    def _user_query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        if self._runner is None:
            raise GraphError("this process does not answer user queries (no query runner)")
        return self._runner.run(cypher, params, row_limit, time.monotonic() + timeout)

    def clear(self) -> None:
        with self._lock, _graph_errors():
            for label in ("Trace", *_KINDS):
                self._conn.execute(f"MATCH (n:{label}) DETACH DELETE n")

    def ping(self) -> None:
        with self._lock, _graph_errors():
            self._conn.execute("RETURN 1")

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        with self._lock:
            self._conn.close()
            self._db.close()
