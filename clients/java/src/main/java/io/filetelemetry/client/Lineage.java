package io.filetelemetry.client;

import java.util.List;

/**
 * What a node came from and/or became ({@code GET /lineage/{key}}).
 *
 * @param root      the node asked about
 * @param direction upstream, downstream or both
 * @param depth     hops walked at most
 * @param nodes     nodes reached, the root included
 * @param edges     edges between them
 * @param truncated more lies beyond the depth or the node limit
 */
public record Lineage(String root, String direction, int depth, List<GraphNode> nodes, List<GraphEdge> edges,
                      boolean truncated) {

    public Lineage {
        nodes = nodes == null ? List.of() : List.copyOf(nodes);
        edges = edges == null ? List.of() : List.copyOf(edges);
    }

    /** Which way to walk the lineage. */
    public enum Direction {
        UPSTREAM, DOWNSTREAM, BOTH;

        String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
