package io.filetelemetry.client;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** Filters of {@code GET /traces}; all optional. Build with {@link #builder()}. */
public final class TraceQuery {
    private final Map<String, String> params;

    private TraceQuery(Map<String, String> params) {
        this.params = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /** No filter: the newest traces. */
    public static TraceQuery all() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Query parameters as sent. */
    public Map<String, String> params() {
        return params;
    }

    /** Builder of {@link TraceQuery}. */
    public static final class Builder {
        private final Map<String, String> params = new LinkedHashMap<>();

        private Builder() {
        }

        /** Only traces of this user id. */
        public Builder user(String user) {
            return put("user", user);
        }

        /** {@code open} or {@code ended}. */
        public Builder status(String status) {
            return put("status", status);
        }

        /** Traces active at or after this time. */
        public Builder since(Instant since) {
            return put("since", since == null ? null : since.toString());
        }

        /** Traces started before this time. */
        public Builder until(Instant until) {
            return put("until", until == null ? null : until.toString());
        }

        /** Substring of key, name or user. */
        public Builder text(String q) {
            return put("q", q);
        }

        /**
         * True: traces whose own events dropped a file or data; false: traces that dropped nothing;
         * null: either (no filter).
         */
        public Builder hasDrops(Boolean hasDrops) {
            return put("has_drops", hasDrops == null ? null : hasDrops.toString());
        }

        /** Page size, 1..500 (server default 50). */
        public Builder limit(int limit) {
            return put("limit", Integer.toString(limit));
        }

        /** Continue after a previous page ({@link TracePage#nextCursor()}). */
        public Builder cursor(String cursor) {
            return put("cursor", cursor);
        }

        private Builder put(String name, String value) {
            if (value == null) {
                params.remove(name);
            } else {
                params.put(name, value);
            }
            return this;
        }

        public TraceQuery build() {
            return new TraceQuery(params);
        }
    }
}
