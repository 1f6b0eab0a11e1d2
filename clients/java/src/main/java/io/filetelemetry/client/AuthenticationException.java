package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 401: bad client credentials, or a token the server no longer accepts (after one refresh). */
public class AuthenticationException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public AuthenticationException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
