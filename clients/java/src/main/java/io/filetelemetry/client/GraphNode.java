package io.filetelemetry.client;

/**
 * A lineage node as the server shows it.
 *
 * @param key         node key
 * @param kind        {@code file}, {@code data} or {@code sink}
 * @param status      {@code received|stored|converted|dropped|written|expired|deleted}, its latest anywhere; may be null
 * @param reason      drop reason, may be null
 * @param code        drop reason code, may be null
 * @param name        display name, may be null
 * @param trace       trace key
 * @param user        user id, may be null
 * @param firstAt     RFC 3339
 * @param lastAt      RFC 3339
 * @param droppedHere in a {@link TraceGraph}: the trace's own events dropped the node (false in a {@link Lineage})
 * @param dropReason  in a {@link TraceGraph}: the reason (or code) the trace's drop gave; otherwise null
 */
public record GraphNode(String key, String kind, String status, String reason, String code, String name,
                        String trace, String user, String firstAt, String lastAt, boolean droppedHere,
                        String dropReason) {

    /** A node without trace-graph drop fields (as in a {@link Lineage}). */
    public GraphNode(String key, String kind, String status, String reason, String code, String name,
                     String trace, String user, String firstAt, String lastAt) {
        this(key, kind, status, reason, code, name, trace, user, firstAt, lastAt, false, null);
    }
}
