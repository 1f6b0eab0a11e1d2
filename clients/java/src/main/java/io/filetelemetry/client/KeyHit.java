package io.filetelemetry.client;

/**
 * A key found by {@link FileTelemetryClient#search(String, int)}.
 *
 * @param key  the full key
 * @param kind {@code trace}, {@code file}, {@code data} or {@code sink}
 */
public record KeyHit(String key, String kind) {

    /** True for a trace key, false for a node key. */
    public boolean isTrace() {
        return "trace".equals(kind);
    }
}
