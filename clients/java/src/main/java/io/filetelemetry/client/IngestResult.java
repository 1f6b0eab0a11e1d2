package io.filetelemetry.client;

import java.util.List;

/**
 * The server's answer to a batch of events ({@code 202 {accepted, duplicates, buffered, rejected}}).
 *
 * @param accepted   events stored now
 * @param duplicates events already stored before (re-sent): nothing changed
 * @param buffered   events parked by flow control; they are stored later, nothing is lost
 * @param rejected   invalid events, by their index in the batch; the others were kept
 */
public record IngestResult(int accepted, int duplicates, int buffered, List<Rejection> rejected) {

    public IngestResult {
        rejected = rejected == null ? List.of() : List.copyOf(rejected);
    }

    /** True when no event of the batch was rejected. */
    public boolean allAccepted() {
        return rejected.isEmpty();
    }

    /**
     * One invalid event.
     *
     * @param index position of the event in the batch that was sent
     * @param error why the server refused it
     */
    public record Rejection(int index, String error) {
    }
}
