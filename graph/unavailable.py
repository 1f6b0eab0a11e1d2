"""A GraphStore for a process that cannot open the graph (the all-in-one server holds the embedded one,
and `ftel retention run` runs beside it): every call fails with GraphError, so events are stored but
left unprojected, and the server's projector merges them."""

from __future__ import annotations

from typing import Any, Literal

from backend.errors import GraphError
from graph.base import DueNode, FileEdge, GraphBatch, QueryResult, Subgraph, TraceFilter, UserFill
from graph.capabilities import Capabilities


class UnavailableGraph:
    capabilities = Capabilities(no_shared_writers=True)

    def __init__(
        self, reason: str = "graph not opened by this process: the server's projector will merge these events"
    ) -> None:
        self.reason = reason

    def _fail(self) -> GraphError:
        return GraphError(self.reason)

    def apply(self, batch: GraphBatch) -> None:
        raise self._fail()

    def trace(self, key: str) -> dict[str, Any] | None:
        raise self._fail()

    def list_traces(self, filt: TraceFilter, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]:
        raise self._fail()

    def count_traces(self, filt: TraceFilter) -> int:
        raise self._fail()

    def trace_graph(self, key: str, limit: int | None = None) -> Subgraph:
        raise self._fail()

    def trace_counts(self, keys: list[str]) -> list[dict[str, Any]]:
        raise self._fail()

    def fill_users(self, traces: list[str], refill: list[UserFill] | None = None) -> list[UserFill]:
        raise self._fail()

    def node(self, key: str) -> dict[str, Any] | None:
        raise self._fail()

    def neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        raise self._fail()

    def query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        raise self._fail()

    def relations_due(self, limit: int) -> list[DueNode]:
        raise self._fail()

    def memberships(self, keys: list[str], kinds: list[str | None] | None = None) -> list[tuple[str, str]]:
        raise self._fail()

    def add_relations(self, file_edges: list[FileEdge], feeds: list[tuple[str, str]], done: list[DueNode]) -> None:
        raise self._fail()

    def file_neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        raise self._fail()

    def feeds(self, key: str, direction: Literal["upstream", "downstream"]) -> list[dict[str, Any]]:
        raise self._fail()

    def stuck_files(self, before: str, limit: int) -> list[dict[str, Any]]:
        raise self._fail()

    def clear(self) -> None:
        raise self._fail()

    def ping(self) -> None:
        raise self._fail()

    def close(self) -> None:
        pass
