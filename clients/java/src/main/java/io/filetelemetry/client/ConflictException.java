package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 409: the request contradicts existing state (e.g. a file key already taken). */
public class ConflictException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public ConflictException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
