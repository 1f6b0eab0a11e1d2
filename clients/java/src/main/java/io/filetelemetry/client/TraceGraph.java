package io.filetelemetry.client;

import java.util.List;
import java.util.Optional;

/**
 * Nodes and flow edges of one trace ({@code GET /traces/{key}/graph}).
 *
 * @param nodes the trace's nodes
 * @param edges flow edges between them
 */
public record TraceGraph(List<GraphNode> nodes, List<GraphEdge> edges) {

    public TraceGraph {
        nodes = nodes == null ? List.of() : List.copyOf(nodes);
        edges = edges == null ? List.of() : List.copyOf(edges);
    }

    /** The node with this key, if the trace holds it. */
    public Optional<GraphNode> node(String key) {
        return nodes.stream().filter(n -> n.key().equals(key)).findFirst();
    }
}
