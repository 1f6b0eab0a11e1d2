"""Neo4j adapter (official `neo4j` driver). Every File/Data/Sink node also carries the :Node label,
whose unique `key` constraint makes MERGE fast and keys unique across kinds."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import neo4j
import orjson
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError, DriverError, Neo4jError, ServiceUnavailable
from neo4j.graph import Node, Path, Relationship

from graph.base import LABELS, GraphError, QueryRejected, QueryResult, QueryTimeout
from graph.cypher import CypherGraphStore, Statement

_SCHEMA = (
    "CREATE CONSTRAINT ftel_node_key IF NOT EXISTS FOR (n:Node) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT ftel_trace_key IF NOT EXISTS FOR (t:Trace) REQUIRE t.key IS UNIQUE",
    "CREATE INDEX ftel_trace_first_at IF NOT EXISTS FOR (t:Trace) ON (t.first_at)",
    "CREATE INDEX ftel_node_relations_due IF NOT EXISTS FOR (n:Node) ON (n.relations_due)",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Node):
        out = {k: _plain(v) for k, v in value.items() if k != "status_rank"}
        out["_labels"] = sorted(value.labels)
        return out
    if isinstance(value, Relationship):
        out = {k: _plain(v) for k, v in value.items()}
        out["_type"] = value.type
        return out
    if isinstance(value, Path):
        return {"nodes": [_plain(n) for n in value.nodes], "relationships": [_plain(r) for r in value.relationships]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


class Neo4jGraphStore(CypherGraphStore):
    kind_in_patterns = False
    common_label = "Node"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        retry_seconds: float = 30.0,
        connect_timeout: float = 10.0,
        query_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        """`retry_seconds`: how long one call may retry a failing server (the driver's transaction retries);
        with `connect_timeout` it bounds how long a caller waits on an unreachable Neo4j. `query_max_bytes`: the
        JSON size of the rows a user query may return (the server's own limits are in its configuration:
        db.transaction.timeout, db.memory.transaction.max)."""
        self._query_max_bytes = query_max_bytes
        self._driver = GraphDatabase.driver(
            uri,
            auth=(user, password),
            connection_timeout=connect_timeout,
            connection_acquisition_timeout=connect_timeout + retry_seconds,
            max_transaction_retry_time=retry_seconds,
        )
        self._database = database
        try:
            for ddl in _SCHEMA:
                self._driver.execute_query(ddl, database_=database)
            self.charge_old_drops()
            self.mark_flows_unrelated()
        except (DriverError, Neo4jError, OSError, GraphError) as exc:
            self._driver.close()
            raise GraphError(f"cannot reach Neo4j at {uri}: {exc}") from exc

    def _merge_node(self, kind: str) -> str:
        return f"MERGE (n:Node {{key: r.key}}) ON CREATE SET n:{LABELS[kind]}"

    def _node(self, var: str, kind: str | None, key: str) -> str:
        return f"({var}:Node {{key: {key}}})"

    def _session(self, mode: str) -> neo4j.Session:
        return self._driver.session(database=self._database, default_access_mode=mode)

    def _read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            with self._session(neo4j.READ_ACCESS) as session:
                return session.execute_read(lambda tx: _dicts(tx.run(cypher, params)))
        except (ServiceUnavailable, OSError) as exc:
            raise GraphError(f"Neo4j unreachable: {exc}") from exc
        except (DriverError, Neo4jError) as exc:
            raise GraphError(f"Neo4j: {exc}") from exc

    def _write(self, statements: list[Statement]) -> None:
        """One explicit transaction, not retried by the driver: a merge fails at once when Neo4j cannot take
        it (the caller defers it; the projector merges it later) instead of holding its caller in retries."""
        try:
            with self._session(neo4j.WRITE_ACCESS) as session, session.begin_transaction() as tx:
                for cypher, params in statements:
                    tx.run(cypher, params).consume()
                tx.commit()
        except (ServiceUnavailable, OSError) as exc:
            raise GraphError(f"Neo4j unreachable: {exc}") from exc
        except (DriverError, Neo4jError) as exc:
            raise GraphError(f"Neo4j: {exc}") from exc

    def _user_query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        deadline = time.monotonic() + timeout

        def work(tx: neo4j.Transaction) -> QueryResult:
            result = tx.run(cypher, params)
            columns = list(result.keys())
            rows: list[list[Any]] = []
            size, truncated = 0, False
            for record in result:
                if len(rows) >= row_limit:
                    truncated = True
                    break
                if time.monotonic() > deadline:
                    raise QueryTimeout(f"query stopped after {timeout:g} s")
                row = [_plain(v) for v in record.values()]
                size += len(orjson.dumps(row, default=str)) + 1
                if size > self._query_max_bytes:
                    truncated = True
                    break
                rows.append(row)
            return QueryResult(columns=columns, rows=rows, truncated=truncated)

        # one attempt, not the driver's retries: a query that ran out of memory would only run out again; rows
        # fetched a few at a time, so that the byte cap and the deadline are checked before much is decoded
        session = self._driver.session(database=self._database, default_access_mode=neo4j.READ_ACCESS, fetch_size=16)
        try:
            with session, session.begin_transaction(timeout=timeout) as tx:
                return work(tx)
        except (ServiceUnavailable, OSError) as exc:
            raise GraphError(f"Neo4j unreachable: {exc}") from exc
        except Neo4jError as exc:
            code = exc.code or ""
            if "TransactionTimedOut" in code or "Timeout" in code or "Terminated" in code:
                raise QueryTimeout(f"query stopped after {timeout:g} s") from None
            if "OutOfMemory" in code or "MemoryPool" in code:
                raise QueryRejected(f"the query ran out of memory: {exc.message or code}") from None
            if isinstance(exc, ClientError):
                raise QueryRejected(exc.message or str(exc)) from None
            raise GraphError(f"Neo4j: {exc}") from exc
        except DriverError as exc:
            raise GraphError(f"Neo4j: {exc}") from exc
        except (TypeError, ValueError) as exc:  # parameters the driver cannot send
            raise QueryRejected(f"parameters: {exc}") from None

    def clear(self) -> None:
        """Relationships first, then nodes, 5,000 at a time: one transaction per step stays within the server's
        transaction memory however large the graph (a DETACH DELETE of 5,000 nodes took a shared sink's tens of
        thousands of edges along and ran out of it at a million nodes)."""
        for step in (
            "MATCH (n)-[r]->() WHERE n:Node OR n:Trace WITH r LIMIT 5000 DELETE r RETURN count(*) AS c",
            "MATCH (n) WHERE n:Node OR n:Trace WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS c",
        ):
            while True:
                try:
                    records, _, _ = self._driver.execute_query(step, database_=self._database)
                except (DriverError, Neo4jError, OSError) as exc:
                    raise GraphError(f"Neo4j: {exc}") from exc
                if records[0]["c"] == 0:
                    break

    def ping(self) -> None:
        try:
            self._driver.verify_connectivity()
        except (DriverError, Neo4jError, OSError) as exc:
            raise GraphError(f"Neo4j unreachable: {exc}") from exc

    def close(self) -> None:
        self._driver.close()


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts: from the values and the keys once (Record.data() per row cost ~1 s for 10,000 rows)."""
    keys = result.keys()
    return [dict(zip(keys, values, strict=True)) for values in result.values()]
