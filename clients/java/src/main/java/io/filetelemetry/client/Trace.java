package io.filetelemetry.client;

import java.util.List;
import java.util.Map;

/**
 * A trace with its summary ({@code GET /traces/{key}}, items of {@code GET /traces}).
 *
 * @param key         trace key
 * @param user        owner user id
 * @param name        display name, may be null
 * @param status      {@code open} or {@code ended}
 * @param firstAt     RFC 3339 time of its first event
 * @param lastAt      RFC 3339 time of its latest event
 * @param logs        log counts by level
 * @param summary     node counts
 * @param hasDrops    this trace's own events dropped a file or data (drops reported by other traces don't count)
 * @param logMessages the trace's own log messages (naming no node), oldest first; only from {@code trace(key)},
 *                    null on the items of {@code traces(query)}
 */
public record Trace(String key, String user, String name, String status, String firstAt, String lastAt,
                    Map<String, Integer> logs, TraceSummary summary, boolean hasDrops,
                    List<LogMessage> logMessages) {

    public Trace {
        logMessages = logMessages == null ? null : List.copyOf(logMessages);
    }

    /** A trace without log messages; {@code hasDrops} read from its summary (which counts only its own drops). */
    public Trace(String key, String user, String name, String status, String firstAt, String lastAt,
                 Map<String, Integer> logs, TraceSummary summary) {
        this(key, user, name, status, firstAt, lastAt, logs, summary, summary != null && summary.dropped() > 0, null);
    }

    /**
     * One log message of the trace itself.
     *
     * @param time    RFC 3339
     * @param level   debug, info, warn or error
     * @param message log text, may be null
     */
    public record LogMessage(String time, String level, String message) {
    }
}
