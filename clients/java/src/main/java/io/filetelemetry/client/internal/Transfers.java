package io.filetelemetry.client.internal;

import io.filetelemetry.client.TransportException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Streaming a download into an OutputStream, checking the announced length and sha256 on the way. */
public final class Transfers {
    private Transfers() {
    }

    /**
     * Copy the answer's body into {@code out} (not closed). A body shorter than its Content-Length, or (when
     * {@code verify}) whose sha256 differs from {@code X-Content-SHA256}, is a {@link TransportException}:
     * a damaged download is never taken for a good one.
     */
    public static long copy(String what, HttpResponse<InputStream> r, OutputStream out, boolean verify) {
        long expected = r.headers().firstValueAsLong("Content-Length").orElse(-1);
        String sha = r.headers().firstValue("X-Content-SHA256").orElse(null);
        MessageDigest digest = verify && sha != null ? sha256() : null;
        long n;
        try (InputStream in = r.body()) {
            OutputStream sink = digest == null ? out : new DigestOutputStream(out, digest);
            n = in.transferTo(sink);
            sink.flush();
        } catch (IOException e) {
            throw new TransportException(what + ": the download broke off: " + e.getMessage(), e);
        }
        if (expected >= 0 && n != expected) {
            throw new TransportException(what + ": got " + n + " bytes, the server announced " + expected, null);
        }
        if (digest != null) {
            String got = HexFormat.of().formatHex(digest.digest());
            if (!got.equalsIgnoreCase(sha)) {
                throw new TransportException(what + ": sha256 " + got + " differs from the announced " + sha, null);
            }
        }
        return n;
    }

    /** Open a file for upload; unchecked, since it runs inside the body publisher. */
    public static InputStream open(Path file) {
        try {
            return Files.newInputStream(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
