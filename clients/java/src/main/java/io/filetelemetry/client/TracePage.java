package io.filetelemetry.client;

import java.util.List;

/**
 * One page of traces, newest first.
 *
 * @param items      the traces
 * @param nextCursor pass to {@link TraceQuery.Builder#cursor(String)} for the next page; null on the last page
 */
public record TracePage(List<Trace> items, String nextCursor) {

    public TracePage {
        items = items == null ? List.of() : List.copyOf(items);
    }

    /** True when there is a further page. */
    public boolean hasMore() {
        return nextCursor != null;
    }
}
