package io.filetelemetry.client;

/** No (complete) HTTP answer: connection refused, timeout, interrupted, or a download that ended short. */
public class TransportException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** A failure without an HTTP answer. */
    public TransportException(String message, Throwable cause) {
        super(0, "transport", message, null, cause);
    }
}
