package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 5xx: the server or one of its stores failed; safe to retry later. */
public class ServerException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public ServerException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
