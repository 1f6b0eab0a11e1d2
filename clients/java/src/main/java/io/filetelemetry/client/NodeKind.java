package io.filetelemetry.client;

/** What a lineage node is: a file, a data record/set, or a sink (database table, queue, API). */
public enum NodeKind {
    FILE, DATA, SINK;

    /** The wire name ({@code file}, {@code data}, {@code sink}). */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
