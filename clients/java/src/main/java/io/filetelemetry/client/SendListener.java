package io.filetelemetry.client;

import java.util.List;

/**
 * Told what became of the events of an {@link AsyncSender}; called on the sender's thread, so keep it short.
 * Every method has an empty default: implement what you need.
 */
public interface SendListener {

    /** A batch was answered by the server (rejections, if any, are also passed to {@link #onRejected}). */
    default void onSent(List<Event> batch, IngestResult result) {
    }

    /** The server refused this event (invalid); the rest of its batch was kept. */
    default void onRejected(Event event, String error) {
    }

    /**
     * These events could not be delivered: a non-retryable error (403, 400...) or retries exhausted.
     * They are not re-sent by the sender.
     */
    default void onFailed(List<Event> events, FileTelemetryException error) {
    }
}
