package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Base of every error the client throws; unchecked, so the happy path needs no try/catch.
 *
 * <pre>
 * FileTelemetryException            any failure; {@link #status()} is 0 when no HTTP answer came
 * ├── AuthenticationException  401  bad credentials, expired or revoked token
 * ├── ForbiddenException       403  the account lacks the role (e.g. ingest-only reading files)
 * ├── NotFoundException        404  no such trace, node, file, group or subscription
 * ├── InvalidRequestException  400/422  malformed input, invalid event, rejected query
 * ├── ConflictException        409  e.g. a file key already taken
 * ├── PayloadTooLargeException 413  body, batch or file over the server's limits
 * ├── ServerException          5xx  the server or one of its stores failed; retry later
 * └── TransportException            no HTTP answer: connection refused, timeout, broken stream
 * </pre>
 *
 * Built from the server's JSON error body {@code {"error": {"code", "message", "details"}}}.
 */
public class FileTelemetryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;
    private final transient JsonNode details;

    public FileTelemetryException(int status, String code, String message, JsonNode details, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
        this.details = details;
    }

    public FileTelemetryException(String message, Throwable cause) {
        this(0, "client", message, null, cause);
    }

    /** HTTP status of the answer, or 0 when there was none. */
    public int status() {
        return status;
    }

    /** The server's error code ({@code not_found}, {@code unprocessable}...), or a client-side code. */
    public String code() {
        return code;
    }

    /** The server's {@code details} (may be null). */
    public JsonNode details() {
        return details;
    }
}
