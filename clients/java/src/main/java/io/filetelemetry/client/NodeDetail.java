package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A node with its events and logs in time order ({@code GET /nodes/{key}}).
 *
 * @param node   the node; {@code node.get("logs")} holds log counts by level
 * @param events the stored events naming it, as JSON ({@code id, type, time, event...})
 * @param logs   its log lines
 */
public record NodeDetail(JsonNode node, List<JsonNode> events, List<LogLine> logs) {

    public NodeDetail {
        events = events == null ? List.of() : List.copyOf(events);
        logs = logs == null ? List.of() : List.copyOf(logs);
    }

    /** The node's key. */
    public String key() {
        return node.path("key").asText(null);
    }

    /** The node's status. */
    public String status() {
        return node.path("status").asText(null);
    }

    /**
     * One log event of the node.
     *
     * @param time    RFC 3339
     * @param level   debug, info, warn or error
     * @param message log text
     * @param id      event id
     */
    public record LogLine(String time, String level, String message, String id) {
    }
}
