package io.filetelemetry.client;

import java.time.Duration;

/**
 * Sends events in the background: a bounded buffer, batches by count and time, retries with backoff on
 * 5xx and network errors. Per-event rejections and undeliverable batches go to the {@link SendListener}.
 * Thread-safe. {@link #close()} flushes. Get one from {@link FileTelemetryClient#newAsyncSender(SenderOptions)}.
 */
public interface AsyncSender extends AutoCloseable {

    /**
     * Queue an event. Waits for room while the buffer is full, up to the configured enqueue timeout, then
     * throws {@link FileTelemetryException} (code {@code buffer_full}). Throws {@link IllegalStateException}
     * once closed.
     */
    void send(Event event);

    /** Queue several events (each as {@link #send(Event)}). */
    default void send(Iterable<Event> events) {
        for (Event e : events) {
            send(e);
        }
    }

    /**
     * Send everything queued so far and wait until the server answered it (or it failed for good).
     * Returns false when the timeout passed first.
     */
    boolean flush(Duration timeout);

    /** {@link #flush(Duration)} waiting up to 60 s. */
    default boolean flush() {
        return flush(Duration.ofSeconds(60));
    }

    /** Events queued or in flight. */
    long pending();

    /** Flush (up to 60 s), then stop the background thread. Events still unsent then go to onFailed. */
    @Override
    void close();
}
