package io.filetelemetry.client;

import java.util.List;

/**
 * One page of traces, newest first.
 *
 * @param items      the traces
 * @param nextCursor pass to {@link TraceQuery.Builder#cursor(String)} for the next page; null on the last page
 * @param total      traces matching the filters over all pages
 */
public record TracePage(List<Trace> items, String nextCursor, int total) {

    public TracePage {
        items = items == null ? List.of() : List.copyOf(items);
    }

    /** A page without a known total: counts its own items. */
    public TracePage(List<Trace> items, String nextCursor) {
        this(items, nextCursor, items == null ? 0 : items.size());
    }

    /** True when there is a further page. */
    public boolean hasMore() {
        return nextCursor != null;
    }
}
