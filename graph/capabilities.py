"""What a graph backend cannot do. The zero value means: everything; a backend opts out only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    # Several processes may write the same graph at once (Neo4j: yes; embedded: one process owns the directory).
    no_shared_writers: bool = False
    # Multiple labels per node (Neo4j has a common :Node label; the embedded graph has one table per label).
    no_multi_labels: bool = False
