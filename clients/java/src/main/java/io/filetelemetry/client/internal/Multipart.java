package io.filetelemetry.client.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A multipart/form-data body whose file part is pulled from an InputStream while the request is sent:
 * text fields first, then the file bytes straight from the stream, never buffered whole.
 */
public final class Multipart {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String boundary;
    private final byte[] head;
    private final byte[] tail;

    public Multipart(Map<String, String> fields, String fileField, String filename) {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        this.boundary = "ftel-" + HexFormat.of().formatHex(b);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        fields.forEach((name, value) -> {
            if (value != null) {
                write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n"
                        + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + value + "\r\n");
            }
        });
        write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + fileField + "\"; filename=\""
                + quote(filename) + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        this.head = out.toByteArray();
        this.tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
    }

    public String contentType() {
        return "multipart/form-data; boundary=" + boundary;
    }

    /**
     * The body publisher. {@code length} is the file's size when known (the request then carries a
     * Content-Length, so the server can refuse an oversized file at once), else -1 (chunked).
     */
    public HttpRequest.BodyPublisher publisher(Supplier<InputStream> content, long length) {
        HttpRequest.BodyPublisher streamed = HttpRequest.BodyPublishers.ofInputStream(() -> new SequenceInputStream(
                java.util.Collections.enumeration(List.of(new ByteArrayInputStream(head), content.get(),
                        new ByteArrayInputStream(tail)))));
        return length < 0 ? streamed
                : HttpRequest.BodyPublishers.fromPublisher(streamed, head.length + length + tail.length);
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            sb.append(c == '"' || c == '\\' || c < 0x20 ? '_' : c);
        }
        return sb.toString();
    }

    private static void write(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }
}
