package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files uploaded through the client (from a Path and from an InputStream) come back byte-exact. */
class FilesIT {
    private static FileTelemetryClient client;
    private static Seed run;

    @BeforeAll
    static void connect() {
        client = ItSupport.client();
        run = new Seed("files");
        client.send(Event.traceStarted(run.trace, run.user).build());
    }

    @AfterAll
    static void disconnect() {
        if (client != null) {
            client.close();
        }
    }

    /** Half CSV-like text, half random bytes: the codec's good and bad cases in one file. */
    static byte[] content(int size, long seed) {
        byte[] b = new byte[size];
        Random r = new Random(seed);
        byte[] line = "2026-11-28,customer-0042,EUR,1234.50,\"note, quoted\"\n".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < size / 2; i++) {
            b[i] = line[i % line.length];
        }
        byte[] noise = new byte[size - size / 2];
        r.nextBytes(noise);
        System.arraycopy(noise, 0, b, size / 2, noise.length);
        return b;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void multiMebibyteFileFromPathDownloadsByteExact(@TempDir Path dir) throws Exception {
        byte[] bytes = content(6 * 1024 * 1024 + 123, 1);
        Path source = dir.resolve("big.csv");
        Files.write(source, bytes);
        String group = run.key("group-a");

        StoredFile stored = client.upload(source, UploadOptions.trace(run.trace).key(run.key("big")).group(group));
        assertEquals(run.key("big"), stored.key());
        assertEquals(group, stored.group());
        assertEquals(bytes.length, stored.size());
        assertEquals(sha256(bytes), stored.sha256());
        assertTrue(stored.storedSize() > 0 && stored.storedSize() < bytes.length, "compressed: " + stored);

        StoredFile info = client.fileInfo(stored.key());
        assertEquals(stored.sha256(), info.sha256());
        assertEquals("big.csv", info.filename());
        assertEquals("stored", info.state());

        Path target = dir.resolve("back.csv");
        assertEquals(bytes.length, client.download(stored.key(), target));
        assertArrayEquals(bytes, Files.readAllBytes(target));

        GraphNode node = client.traceGraph(run.trace).node(stored.key()).orElseThrow();
        assertEquals("stored", node.status());
    }

    @Test
    void inputStreamUploadIsStreamedAndDownloadsByteExact() throws Exception {
        byte[] bytes = content(3 * 1024 * 1024 + 7, 2);
        InputStream in = new ByteArrayInputStream(bytes);
        StoredFile stored = client.upload(in, UploadOptions.trace(run.trace).key(run.key("streamed"))
                .group(run.key("group-b")).filename("streamed.bin"));
        assertEquals(bytes.length, stored.size());
        assertEquals(sha256(bytes), stored.sha256());
        assertEquals(-1, in.read(), "the stream was read to its end");

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(bytes.length, client.download(stored.key(), out));
        assertArrayEquals(bytes, out.toByteArray());
    }

    @Test
    void groupAndDailyArchivesHoldTheFiles() throws Exception {
        String group = run.key("group-c");
        byte[] one = "first file\n".getBytes(StandardCharsets.UTF_8);
        byte[] two = content(200_000, 3);
        StoredFile a = client.upload(new ByteArrayInputStream(one), UploadOptions.trace(run.trace).key(run.key("one")).group(group));
        StoredFile b = client.upload(new ByteArrayInputStream(two), UploadOptions.trace(run.trace).key(run.key("two")).group(group));

        ByteArrayOutputStream archive = new ByteArrayOutputStream();
        client.downloadGroupArchive(group, archive);
        Map<String, byte[]> members = untar(archive.toByteArray());
        assertEquals(2, members.size(), members.keySet().toString());
        assertArrayEquals(one, members.get(a.key()));
        assertArrayEquals(two, members.get(b.key()));

        ByteArrayOutputStream daily = new ByteArrayOutputStream();
        client.downloadDailyArchive(LocalDate.now(ZoneOffset.UTC), daily);
        Map<String, byte[]> today = untar(daily.toByteArray());
        assertArrayEquals(two, today.get(b.key()), "today's archive holds the file: " + today.keySet());
    }

    @Test
    void fileErrorsAreTyped() {
        assertThrows(NotFoundException.class, () -> client.fileInfo(run.key("missing")));
        assertThrows(NotFoundException.class, () -> client.download(run.key("missing"), new ByteArrayOutputStream()));
        assertThrows(NotFoundException.class, () -> client.downloadGroupArchive(run.key("no-group"), new ByteArrayOutputStream()));
        UploadOptions taken = UploadOptions.trace(run.trace).key(run.key("taken"));
        client.upload(new ByteArrayInputStream(new byte[] {1, 2, 3}), taken);
        ConflictException conflict = assertThrows(ConflictException.class,
                () -> client.upload(new ByteArrayInputStream(new byte[] {4}), taken));
        assertEquals(409, conflict.status());
        InvalidRequestException bad = assertThrows(InvalidRequestException.class, () -> client.upload(
                new ByteArrayInputStream(new byte[] {1}), UploadOptions.trace(run.trace).key("a/../b")));
        assertEquals(400, bad.status());
        assertTrue(bad.getMessage().contains("upload"), bad.getMessage());
    }

    /** Minimal ustar/PAX reader: member name → bytes. */
    static Map<String, byte[]> untar(byte[] gz) throws IOException {
        Map<String, byte[]> out = new HashMap<>();
        byte[] tar;
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            tar = in.readAllBytes();
        }
        int pos = 0;
        String paxName = null;
        while (pos + 512 <= tar.length) {
            if (tar[pos] == 0) {
                break;
            }
            String name = cstring(tar, pos, 100);
            String prefix = cstring(tar, pos + 345, 155);
            long size = Long.parseLong(cstring(tar, pos + 124, 12).trim(), 8);
            char type = (char) tar[pos + 156];
            int data = pos + 512;
            if (type == 'x') {
                String pax = new String(tar, data, (int) size, StandardCharsets.UTF_8);
                for (String rec : pax.split("\n")) {
                    int eq = rec.indexOf(" path=");
                    if (eq >= 0) {
                        paxName = rec.substring(eq + 6);
                    }
                }
            } else if (type == '0' || type == 0) {
                String full = paxName != null ? paxName : prefix.isEmpty() ? name : prefix + "/" + name;
                byte[] body = new byte[(int) size];
                System.arraycopy(tar, data, body, 0, (int) size);
                out.put(full, body);
                paxName = null;
            }
            pos = data + (int) ((size + 511) / 512 * 512);
        }
        return out;
    }

    private static String cstring(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && b[end] != 0) {
            end++;
        }
        return new String(b, off, end - off, StandardCharsets.UTF_8);
    }
}
