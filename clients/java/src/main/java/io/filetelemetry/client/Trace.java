package io.filetelemetry.client;

import java.util.Map;

/**
 * A trace with its summary ({@code GET /traces/{key}}, items of {@code GET /traces}).
 *
 * @param key     trace key
 * @param user    owner user id
 * @param name    display name, may be null
 * @param status  {@code open} or {@code ended}
 * @param firstAt RFC 3339 time of its first event
 * @param lastAt  RFC 3339 time of its latest event
 * @param logs    log counts by level
 * @param summary node counts
 */
public record Trace(String key, String user, String name, String status, String firstAt, String lastAt,
                    Map<String, Integer> logs, TraceSummary summary) {
}
