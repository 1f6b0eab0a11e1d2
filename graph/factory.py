"""Builds the GraphStore the settings ask for."""

from __future__ import annotations

from backend.settings import GraphBackend, Settings
from graph.base import GraphStore


def open_graph(settings: Settings) -> GraphStore:
    if settings.graph is GraphBackend.neo4j:
        from graph.neo4j import Neo4jGraphStore

        return Neo4jGraphStore(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database)
    from graph.embedded import EmbeddedGraphStore

    return EmbeddedGraphStore(settings.graph_dir)
