package io.filetelemetry.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.filetelemetry.client.AuthenticationException;
import io.filetelemetry.client.ConflictException;
import io.filetelemetry.client.FileTelemetryException;
import io.filetelemetry.client.ForbiddenException;
import io.filetelemetry.client.InvalidRequestException;
import io.filetelemetry.client.NotFoundException;
import io.filetelemetry.client.PayloadTooLargeException;
import io.filetelemetry.client.ServerException;
import java.nio.charset.StandardCharsets;

/** HTTP error answers → the typed exceptions, from the body {@code {"error": {code, message, details}}}. */
public final class Errors {
    private Errors() {
    }

    public static FileTelemetryException fromResponse(int status, byte[] body, String what) {
        String code = "http_" + status;
        String message = null;
        JsonNode details = null;
        try {
            JsonNode error = Json.MAPPER.readTree(body).path("error");
            if (error.isObject()) {
                code = error.path("code").asText(code);
                message = error.path("message").asText(null);
                details = error.get("details");
                if (details != null && details.isNull()) {
                    details = null;
                }
            }
        } catch (Exception notJson) {
            // fall through: the body is shown as text
        }
        if (message == null) {
            String text = new String(body, StandardCharsets.UTF_8).strip();
            message = text.isEmpty() ? "HTTP " + status : text.substring(0, Math.min(300, text.length()));
        }
        String full = what + ": " + message + " (" + status + " " + code + ")";
        return switch (status) {
            case 400, 422 -> new InvalidRequestException(status, code, full, details);
            case 401 -> new AuthenticationException(status, code, full, details);
            case 403 -> new ForbiddenException(status, code, full, details);
            case 404 -> new NotFoundException(status, code, full, details);
            case 409 -> new ConflictException(status, code, full, details);
            case 413 -> new PayloadTooLargeException(status, code, full, details);
            default -> status >= 500 ? new ServerException(status, code, full, details)
                    : new FileTelemetryException(status, code, full, details, null);
        };
    }
}
