package io.filetelemetry.client;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A node named in an event: its kind, its key (global across the service) and an optional display name.
 *
 * @param kind file, data or sink
 * @param key  the node key (1–512 characters, no control characters)
 * @param name optional display name, may be null
 */
public record NodeRef(NodeKind kind, String key, String name) {

    public NodeRef {
        Objects.requireNonNull(kind, "kind");
        Keys.check(key, "node key");
    }

    /** A file node. */
    public static NodeRef file(String key) {
        return new NodeRef(NodeKind.FILE, key, null);
    }

    /** A data node. */
    public static NodeRef data(String key) {
        return new NodeRef(NodeKind.DATA, key, null);
    }

    /** A sink node (database table, queue, API). */
    public static NodeRef sink(String key) {
        return new NodeRef(NodeKind.SINK, key, null);
    }

    /** The same node with a display name. */
    public NodeRef named(String displayName) {
        return new NodeRef(kind, key, displayName);
    }

    Map<String, Object> toWire() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind.wireName());
        m.put("key", key);
        if (name != null) {
            m.put("name", name);
        }
        return m;
    }
}
