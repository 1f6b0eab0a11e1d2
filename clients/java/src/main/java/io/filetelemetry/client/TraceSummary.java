package io.filetelemetry.client;

import java.util.Map;

/**
 * Counts of a trace: incoming files, dropped nodes, files not yet turned into data, data nodes, outputs written.
 *
 * @param files       files that came in (not produced inside the trace)
 * @param dropped     nodes dropped
 * @param unconverted incoming files still {@code received} or {@code stored}
 * @param data        data nodes
 * @param outputs     files and sinks written by the trace
 * @param dropReasons reason (or code) → count
 */
public record TraceSummary(int files, int dropped, int unconverted, int data, int outputs,
                           Map<String, Integer> dropReasons) {
}
