package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 413: request body, event batch or file over the server's limits. */
public class PayloadTooLargeException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public PayloadTooLargeException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
