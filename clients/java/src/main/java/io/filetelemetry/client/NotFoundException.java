package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;

/** 404: the named trace, node, file, group or subscription does not exist. */
public class NotFoundException extends FileTelemetryException {
    private static final long serialVersionUID = 1L;

    /** Built by the client from the server's error answer. */
    public NotFoundException(int status, String code, String message, JsonNode details) {
        super(status, code, message, details, null);
    }
}
