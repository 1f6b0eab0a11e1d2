package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 403: the account is authenticated but lacks the role the call needs. */
public class ForbiddenException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public ForbiddenException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
