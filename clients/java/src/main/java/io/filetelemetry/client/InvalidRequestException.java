package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 400 or 422: malformed input (a bad key, a bad event, a rejected Cypher query). */
public class InvalidRequestException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public InvalidRequestException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
