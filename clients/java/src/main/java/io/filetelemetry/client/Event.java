package io.filetelemetry.client;

import io.filetelemetry.client.internal.Json;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * One telemetry event (the envelope of §4 of the design), immutable and thread-safe.
 *
 * <p>Start from the factory of its type, set what you know, {@code build()}:
 * <pre>{@code
 * Event.traceStarted("nightly-2026-11-28", "team-7").attr("job", "import").build();
 * Event.fileReceived(trace, "File3").name("data.csv").build();
 * Event.flow(trace, "parse").input(NodeRef.file("File3")).output(NodeRef.data("data1")).build();
 * Event.fileDropped(trace, "File1", "header row missing").code("E_HEADER").build();
 * }</pre>
 * A {@code null} trace or node key is replaced by a new UUIDv7 key (read it back with {@link #trace()} /
 * {@link #node()}). Every event gets a client-generated {@code id} unless one is set, so re-sending the same
 * {@code Event} (retries) is stored once by the server.
 */
public final class Event {
    private final Map<String, Object> wire;
    private final NodeRef node;

    private Event(Map<String, Object> wire, NodeRef node) {
        this.wire = Collections.unmodifiableMap(wire);
        this.node = node;
    }

    /** {@code trace.started}: a trace and its owner user id (both required; a null trace key is generated). */
    public static Builder traceStarted(String trace, String user) {
        return new Builder("trace.started", orNewKey(trace)).user(Objects.requireNonNull(user, "user"));
    }

    /** {@code trace.ended}. */
    public static Builder traceEnded(String trace) {
        return new Builder("trace.ended", Objects.requireNonNull(trace, "trace"));
    }

    /** {@code file.received}: a file arrived (a null key is generated). */
    public static Builder fileReceived(String trace, String fileKey) {
        return new Builder("file.received", trace).node(NodeRef.file(orNewKey(fileKey)));
    }

    /** {@code file.stored}: the file was stored. */
    public static Builder fileStored(String trace, String fileKey) {
        return new Builder("file.stored", trace).node(NodeRef.file(fileKey));
    }

    /** {@code file.dropped}: the file ended without producing anything, with a reason. */
    public static Builder fileDropped(String trace, String fileKey, String reason) {
        return new Builder("file.dropped", trace).node(NodeRef.file(fileKey)).reason(reason);
    }

    /** {@code file.deleted}: the file was deleted (optional reason). */
    public static Builder fileDeleted(String trace, String fileKey) {
        return new Builder("file.deleted", trace).node(NodeRef.file(fileKey));
    }

    /** {@code data.dropped}: a data node ended without producing anything, with a reason. */
    public static Builder dataDropped(String trace, String dataKey, String reason) {
        return new Builder("data.dropped", trace).node(NodeRef.data(dataKey)).reason(reason);
    }

    /** {@code flow}: every input became every output by {@code op} (add inputs and outputs on the builder). */
    public static Builder flow(String trace, String op) {
        Builder b = new Builder("flow", trace);
        if (op != null) {
            b.fields.put("op", op);
        }
        return b;
    }

    /** {@code log} on a trace (add {@link Builder#node(NodeRef)} to attach it to a node). */
    public static Builder log(String trace, Level level, String message) {
        Builder b = new Builder("log", trace);
        b.fields.put("level", Objects.requireNonNull(level, "level").wireName());
        b.fields.put("message", Objects.requireNonNull(message, "message"));
        return b;
    }

    /** {@code log} on a node the server already knows; no trace needed. */
    public static Builder log(NodeRef node, Level level, String message) {
        return log((String) null, level, message).node(node);
    }

    /** The event type ({@code trace.started}, {@code flow}...). */
    public String type() {
        return (String) wire.get("type");
    }

    /** The trace key, or null (a log on a known node). */
    public String trace() {
        return (String) wire.get("trace");
    }

    /** The client-generated id (idempotency key). */
    public String id() {
        return (String) wire.get("id");
    }

    /** The node this event is about, or null (trace and flow events). */
    public NodeRef node() {
        return node;
    }

    /** The event as its JSON object (unmodifiable). */
    public Map<String, Object> toMap() {
        return wire;
    }

    /** The event as JSON text, as sent. */
    public String toJson() {
        return Json.write(wire);
    }

    @Override
    public String toString() {
        return toJson();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Event e && e.wire.equals(wire);
    }

    @Override
    public int hashCode() {
        return wire.hashCode();
    }

    private static String orNewKey(String key) {
        return key == null ? Keys.newKey() : key;
    }

    /** Level of a {@code log} event. */
    public enum Level {
        DEBUG, INFO, WARN, ERROR;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Builder of one {@link Event}; not thread-safe. */
    public static final class Builder {
        private final Map<String, Object> fields = new LinkedHashMap<>();
        private final List<NodeRef> inputs = new ArrayList<>();
        private final List<NodeRef> outputs = new ArrayList<>();
        private final Map<String, Object> attrs = new LinkedHashMap<>();
        private NodeRef node;

        private Builder(String type, String trace) {
            fields.put("type", type);
            if (trace != null) {
                fields.put("trace", Keys.check(trace, "trace key"));
            }
        }

        /** Idempotency id (a UUID); generated when not set. */
        public Builder id(String id) {
            return put("id", id);
        }

        /** When it happened; the server uses its receive time when not set. */
        public Builder time(Instant time) {
            return put("time", time == null ? null : DateTimeFormatter.ISO_INSTANT.format(time));
        }

        /** The observed app's user id (required on trace.started only). */
        public Builder user(String user) {
            return put("user", user);
        }

        /** The node this event is about. */
        public Builder node(NodeRef node) {
            this.node = node;
            return this;
        }

        /** Display name of the event's node. */
        public Builder name(String displayName) {
            if (node == null) {
                throw new IllegalStateException("name() needs a node: this " + fields.get("type") + " event has none");
            }
            node = node.named(displayName);
            return this;
        }

        /** Drop or delete reason (free text). */
        public Builder reason(String reason) {
            return put("reason", reason);
        }

        /** Short reason code ({@code E_HEADER}). */
        public Builder code(String code) {
            return put("code", code);
        }

        /** A flow input. */
        public Builder input(NodeRef input) {
            inputs.add(Objects.requireNonNull(input, "input"));
            return this;
        }

        /** Flow inputs. */
        public Builder inputs(NodeRef... more) {
            for (NodeRef n : more) {
                input(n);
            }
            return this;
        }

        /** A flow output. */
        public Builder output(NodeRef output) {
            outputs.add(Objects.requireNonNull(output, "output"));
            return this;
        }

        /** Flow outputs. */
        public Builder outputs(NodeRef... more) {
            for (NodeRef n : more) {
                output(n);
            }
            return this;
        }

        /** One attribute (any JSON-serialisable value; all attrs together at most 64 KiB). */
        public Builder attr(String name, Object value) {
            attrs.put(Objects.requireNonNull(name, "name"), value);
            return this;
        }

        /** Several attributes. */
        public Builder attrs(Map<String, ?> values) {
            attrs.putAll(values);
            return this;
        }

        private Builder put(String name, Object value) {
            if (value == null) {
                fields.remove(name);
            } else {
                fields.put(name, value);
            }
            return this;
        }

        /**
         * The event. Throws {@link IllegalArgumentException} when a field its type requires is missing
         * (the server would reject it).
         */
        public Event build() {
            String type = (String) fields.get("type");
            boolean hasTrace = fields.containsKey("trace");
            switch (type) {
                case "flow" -> {
                    require(hasTrace, "a flow event needs a trace");
                    require(!inputs.isEmpty() && !outputs.isEmpty(), "a flow event needs inputs and outputs");
                }
                case "log" -> require(hasTrace || node != null, "a log event needs a trace or a node");
                case "file.dropped", "data.dropped" -> {
                    require(hasTrace, "a " + type + " event needs a trace");
                    require(fields.containsKey("reason") || fields.containsKey("code"),
                            "a " + type + " event needs a reason or a code");
                }
                default -> require(hasTrace, "a " + type + " event needs a trace");
            }
            Map<String, Object> wire = new LinkedHashMap<>();
            wire.put("id", fields.getOrDefault("id", Keys.newKey()));
            wire.putAll(fields);
            if (node != null) {
                wire.put("node", node.toWire());
            }
            if (!inputs.isEmpty()) {
                wire.put("inputs", inputs.stream().map(NodeRef::toWire).toList());
            }
            if (!outputs.isEmpty()) {
                wire.put("outputs", outputs.stream().map(NodeRef::toWire).toList());
            }
            if (!attrs.isEmpty()) {
                wire.put("attrs", new LinkedHashMap<>(attrs));
            }
            return new Event(wire, node);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }
}
