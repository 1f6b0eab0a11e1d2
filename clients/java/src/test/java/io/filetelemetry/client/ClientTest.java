package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.filetelemetry.client.StubServer.Answer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against a local stub server: tokens, request shapes, error mapping, uploads and downloads. */
class ClientTest {
    private static final String TRACE_JSON = "{\"key\":\"A\",\"user\":\"u\",\"name\":null,\"status\":\"open\","
            + "\"first_at\":\"t0\",\"last_at\":\"t1\",\"logs\":{\"warn\":1},\"summary\":{\"files\":3,\"dropped\":2,"
            + "\"unconverted\":0,\"data\":6,\"outputs\":1,\"drop_reasons\":{\"bad\":2}},\"new_field\":1}";

    private StubServer stub;

    @BeforeEach
    void start() throws Exception {
        stub = new StubServer();
    }

    @AfterEach
    void stop() {
        stub.close();
    }

    @Test
    void tokenIsFetchedOnceWithJsonCredentialsAndSentAsBearer() {
        stub.route("GET /api/v1/traces/A", r -> Answer.json(200, TRACE_JSON));
        try (FileTelemetryClient client = stub.client()) {
            Trace t = client.trace("A");
            client.trace("A");
            assertEquals(6, t.summary().data());
            assertEquals(Map.of("bad", 2), t.summary().dropReasons());
            assertEquals("t0", t.firstAt());
        }
        assertEquals(1, stub.tokens.get());
        StubServer.Seen token = stub.seen("POST /api/v1/auth/token").get(0);
        assertEquals("application/json", token.header("Content-Type"));
        assertTrue(token.text().contains("\"client_id\":\"id\"") && token.text().contains("\"client_secret\":\"secret\""));
        for (StubServer.Seen s : stub.seen("GET /api/v1/traces/A")) {
            assertEquals("Bearer tok-1", s.header("Authorization"));
        }
    }

    @Test
    void concurrentCallsShareOneToken() throws Exception {
        stub.route("GET /api/v1/traces/A", r -> Answer.json(200, TRACE_JSON));
        try (FileTelemetryClient client = stub.client()) {
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
            List<java.util.concurrent.Future<Trace>> calls = new java.util.ArrayList<>();
            for (int i = 0; i < 32; i++) {
                calls.add(pool.submit(() -> client.trace("A")));
            }
            for (java.util.concurrent.Future<Trace> f : calls) {
                assertEquals("A", f.get().key());
            }
            pool.shutdown();
        }
        assertEquals(1, stub.tokens.get());
    }

    @Test
    void a401IsAnsweredByOneTokenRefreshAndARetry() {
        stub.route("GET /api/v1/traces/A", r -> "Bearer tok-1".equals(r.header("Authorization"))
                ? Answer.error(401, "unauthenticated", "token revoked") : Answer.json(200, TRACE_JSON));
        try (FileTelemetryClient client = stub.client()) {
            assertEquals("A", client.trace("A").key());
        }
        assertEquals(2, stub.tokens.get());
        assertEquals(2, stub.seen("GET /api/v1/traces/A").size());
    }

    @Test
    void aTokenStillRefusedAfterRefreshIsAnAuthenticationException() {
        stub.route("GET /api/v1/traces/A", r -> Answer.error(401, "unauthenticated", "no"));
        try (FileTelemetryClient client = stub.client()) {
            AuthenticationException e = assertThrows(AuthenticationException.class, () -> client.trace("A"));
            assertEquals(401, e.status());
        }
        assertEquals(2, stub.tokens.get(), "one refresh, not a loop");
    }

    @Test
    void badCredentialsAreAnAuthenticationException() {
        stub.route("POST /api/v1/auth/token", r -> Answer.error(401, "unauthenticated", "invalid client credentials"));
        try (FileTelemetryClient client = stub.client()) {
            AuthenticationException e = assertThrows(AuthenticationException.class, () -> client.trace("A"));
            assertTrue(e.getMessage().contains("invalid client credentials"), e.getMessage());
        }
    }

    @Test
    void theTokenIsRefreshedBeforeItExpires() {
        MutableClock clock = new MutableClock();
        stub.route("GET /api/v1/traces/A", r -> Answer.json(200, TRACE_JSON));
        try (FileTelemetryClient client = FileTelemetryClient.builder().baseUrl(stub.base()).credentials("id", "s")
                .clock(clock).build()) {
            client.trace("A");
            clock.advance(Duration.ofSeconds(800));
            client.trace("A");
            assertEquals(1, stub.tokens.get(), "still valid for 100 s, more than the margin");
            clock.advance(Duration.ofSeconds(60));
            client.trace("A");
            assertEquals(2, stub.tokens.get(), "refreshed within 60 s of expiry");
        }
    }

    @Test
    void errorBodiesBecomeTypedExceptions() {
        Map<Integer, Class<? extends FileTelemetryException>> expected = Map.of(400, InvalidRequestException.class,
                403, ForbiddenException.class, 404, NotFoundException.class, 409, ConflictException.class,
                413, PayloadTooLargeException.class, 422, InvalidRequestException.class, 500, ServerException.class,
                503, ServerException.class);
        AtomicInteger status = new AtomicInteger();
        stub.route("GET /api/v1/nodes/n", r -> Answer.error(status.get(), "code_" + status.get(), "went wrong"));
        try (FileTelemetryClient client = stub.client()) {
            expected.forEach((code, type) -> {
                status.set(code);
                FileTelemetryException e = assertThrows(type, () -> client.node("n"));
                assertEquals(code, e.status());
                assertEquals("code_" + code, e.code());
                assertEquals("test", e.details().get("why").asText());
                assertTrue(e.getMessage().contains("went wrong") && e.getMessage().contains("node n"), e.getMessage());
            });
        }
    }

    @Test
    void aBodyThatIsNotJsonStillGivesATypedException() {
        stub.route("GET /api/v1/nodes/n", r -> new Answer(502, "Bad Gateway".getBytes(StandardCharsets.UTF_8), Map.of()));
        try (FileTelemetryClient client = stub.client()) {
            ServerException e = assertThrows(ServerException.class, () -> client.node("n"));
            assertEquals("http_502", e.code());
            assertTrue(e.getMessage().contains("Bad Gateway"));
            assertNull(e.details());
        }
    }

    @Test
    void noServerIsATransportException() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (FileTelemetryClient client = FileTelemetryClient.create("http://127.0.0.1:" + port, "id", "s")) {
            TransportException e = assertThrows(TransportException.class, () -> client.trace("A"));
            assertEquals(0, e.status());
        }
    }

    @Test
    void eventsAreSentAsAJsonArrayAndRejectionsComeBack() throws Exception {
        stub.route("POST /api/v1/events", r -> Answer.json(202,
                "{\"accepted\":1,\"duplicates\":0,\"buffered\":0,\"rejected\":[{\"index\":1,\"error\":\"node: required\"}]}"));
        try (FileTelemetryClient client = stub.client()) {
            IngestResult r = client.send(Event.traceStarted("A", "u").build(), Event.traceEnded("A").build());
            assertEquals(1, r.accepted());
            assertEquals(new IngestResult.Rejection(1, "node: required"), r.rejected().get(0));
        }
        StubServer.Seen sent = stub.seen("POST /api/v1/events").get(0);
        assertEquals("application/json", sent.header("Content-Type"));
        var body = new com.fasterxml.jackson.databind.ObjectMapper().readTree(sent.body());
        assertTrue(body.isArray());
        assertEquals("trace.ended", body.get(1).get("type").asText());
    }

    @Test
    void readsEncodeKeysAndFilters() {
        stub.route("GET /api/v1/traces", r -> Answer.json(200, "{\"items\":[" + TRACE_JSON + "],\"next_cursor\":\"c2\"}"));
        stub.route("GET /api/v1/lineage/a%20b%2Fc", r -> Answer.json(200, "{\"root\":\"a b/c\",\"direction\":\"upstream\","
                + "\"depth\":3,\"nodes\":[{\"key\":\"a b/c\",\"kind\":\"data\"}],\"edges\":[],\"truncated\":true}"));
        stub.route("POST /api/v1/graph/query", r -> Answer.json(200,
                "{\"columns\":[\"c\"],\"rows\":[[10]],\"truncated\":false,\"row_limit\":1000}"));
        try (FileTelemetryClient client = stub.client()) {
            TracePage page = client.traces(TraceQuery.builder().user("team 7").status("open")
                    .since(Instant.parse("2026-11-28T00:00:00Z")).text("a&b").limit(10).cursor("c1").build());
            assertEquals("c2", page.nextCursor());
            assertEquals("A", page.items().get(0).key());
            Lineage l = client.lineage("a b/c", Lineage.Direction.UPSTREAM, 3);
            assertTrue(l.truncated());
            assertEquals("data", l.nodes().get(0).kind());
            QueryResult q = client.query("MATCH (n) RETURN count(n) AS c", Map.of("k", "v"));
            assertEquals(10, q.rows().get(0).get(0).asInt());
        }
        assertEquals("user=team+7&status=open&since=2026-11-28T00%3A00%3A00Z&q=a%26b&limit=10&cursor=c1",
                stub.seen("GET /api/v1/traces").get(0).query());
        assertEquals("direction=upstream&depth=3", stub.seen("GET /api/v1/lineage/a%20b%2Fc").get(0).query());
        assertEquals("{\"query\":\"MATCH (n) RETURN count(n) AS c\",\"params\":{\"k\":\"v\"}}",
                stub.seen("POST /api/v1/graph/query").get(0).text());
    }

    @Test
    void searchSendsThePrefixAndLimitAndReadsTheHits() {
        stub.route("GET /api/v1/search", r -> Answer.json(200, "{\"items\":[{\"key\":\"s3://b/run\",\"kind\":\"trace\"},"
                + "{\"key\":\"s3://b/run/in.csv\",\"kind\":\"file\"}]}"));
        try (FileTelemetryClient client = stub.client()) {
            List<KeyHit> hits = client.search("s3://b/run", 5);
            assertEquals(List.of(new KeyHit("s3://b/run", "trace"), new KeyHit("s3://b/run/in.csv", "file")), hits);
            assertTrue(hits.get(0).isTrace());
            client.search("a b&c");
        }
        List<StubServer.Seen> seen = stub.seen("GET /api/v1/search");
        assertEquals("q=s3%3A%2F%2Fb%2Frun&limit=5", seen.get(0).query());
        assertEquals("q=a+b%26c&limit=20", seen.get(1).query());
    }

    @Test
    void pathKeysTravelAsOneSegmentAndDropsAndOwnLogsAreRead() {
        String key = "s3://b/in/x y.csv";
        String encoded = "s3%3A%2F%2Fb%2Fin%2Fx%20y.csv";
        stub.route("GET /api/v1/traces/" + encoded, r -> Answer.json(200, TRACE_JSON.replace("\"new_field\":1",
                "\"has_drops\":true,\"log_messages\":[{\"time\":\"t0\",\"level\":\"warn\",\"message\":\"late\"}]")));
        stub.route("GET /api/v1/traces/" + encoded + "/graph", r -> Answer.json(200, "{\"nodes\":[{\"key\":\"n\","
                + "\"kind\":\"file\",\"status\":\"dropped\",\"dropped_here\":true,\"drop_reason\":\"bad\"},"
                + "{\"key\":\"m\",\"kind\":\"data\"}],\"edges\":[],\"truncated\":false}"));
        stub.route("GET /api/v1/traces", r -> Answer.json(200, "{\"items\":[" + TRACE_JSON + "],\"next_cursor\":null,"
                + "\"total\":7}"));
        try (FileTelemetryClient client = stub.client()) {
            Trace t = client.trace(key);
            assertTrue(t.hasDrops());
            assertEquals(List.of(new Trace.LogMessage("t0", "warn", "late")), t.logMessages());
            TraceGraph g = client.traceGraph(key);
            assertTrue(g.node("n").orElseThrow().droppedHere());
            assertEquals("bad", g.node("n").orElseThrow().dropReason());
            assertFalse(g.node("m").orElseThrow().droppedHere());
            assertNull(g.node("m").orElseThrow().dropReason());
            TracePage page = client.traces(TraceQuery.builder().text("run").hasDrops(true).build());
            assertEquals(7, page.total());
            assertNull(page.items().get(0).logMessages(), "list items carry no log messages");
            client.traces(TraceQuery.builder().hasDrops(false).hasDrops(null).build());
        }
        assertEquals("q=run&has_drops=true", stub.seen("GET /api/v1/traces").get(0).query());
        assertNull(stub.seen("GET /api/v1/traces").get(1).query(), "hasDrops(null) drops the filter");
    }

    @Test
    void subscriptionsRoundTrip() {
        String sub = "{\"id\":\"s1\",\"user_id\":\"team-7\",\"user_name\":\"T\",\"stream_key\":\"ft:s:s1\","
                + "\"transport\":\"redis\",\"endpoint\":\"redis://127.0.0.1:6380/0\",\"topic\":null,"
                + "\"created_at\":\"2026-11-28T00:00:00Z\",\"deleted_at\":null,\"delete_reason\":null}";
        stub.route("POST /api/v1/subscriptions", r -> Answer.json(201, sub));
        stub.route("GET /api/v1/subscriptions", r -> Answer.json(200, "[" + sub + "]"));
        stub.route("DELETE /api/v1/subscriptions/s1", r -> Answer.json(200,
                sub.replace("\"deleted_at\":null,\"delete_reason\":null", "\"deleted_at\":\"x\",\"delete_reason\":\"unsubscribed\"")));
        try (FileTelemetryClient client = stub.client()) {
            Subscription s = client.subscribe("team-7", "T");
            assertEquals("ft:s:s1", s.streamKey());
            assertEquals("redis://127.0.0.1:6380/0", s.endpoint());
            assertTrue(s.isLive());
            assertEquals(1, client.subscriptions(true).size());
            Subscription closed = client.unsubscribe("s1");
            assertEquals("unsubscribed", closed.deleteReason());
        }
        assertEquals("{\"user_id\":\"team-7\",\"user_name\":\"T\",\"transport\":\"redis\"}",
                stub.seen("POST /api/v1/subscriptions").get(0).text());
        assertEquals("include_deleted=true", stub.seen("GET /api/v1/subscriptions").get(0).query());
    }

    @Test
    void aSubscriptionPrintsItsEndpointWithoutThePassword() {
        Subscription s = new Subscription("s1", "u", null, "ft:s:s1", "redis",
                "redis://ftel-sub-s1:s3cr3t-Pw_x@127.0.0.1:6380/0", null, "t", null, null);
        assertTrue(s.toString().contains("endpoint=redis://ftel-sub-s1:***@127.0.0.1:6380/0"), s.toString());
        assertFalse(s.toString().contains("s3cr3t"), s.toString());
        assertEquals("redis://ftel-sub-s1:s3cr3t-Pw_x@127.0.0.1:6380/0", s.endpoint());
    }

    private static final String STORED = "{\"key\":\"F\",\"group\":\"g\",\"trace\":\"A\",\"size\":%d,\"stored_size\":5,"
            + "\"codec\":\"zstd\",\"sha256\":\"abc\",\"filename\":\"%s\",\"stored_at\":\"t\",\"state\":\"stored\"}";

    @Test
    void uploadFromAStreamIsChunkedMultipartWithTheFields() {
        byte[] bytes = new byte[300_000];
        new Random(7).nextBytes(bytes);
        stub.route("POST /api/v1/files", r -> Answer.json(201, String.format(STORED, r.body().length, "x")));
        try (FileTelemetryClient client = stub.client()) {
            client.upload(new ByteArrayInputStream(bytes), UploadOptions.trace("A").key("F").group("g").filename("f \"1\".bin"));
        }
        StubServer.Seen up = stub.seen("POST /api/v1/files").get(0);
        assertNull(up.header("Content-Length"), "streamed: no length known up front");
        assertEquals("chunked", up.header("Transfer-encoding"));
        Multi m = Multi.parse(up);
        assertEquals("A", m.field("trace"));
        assertEquals("F", m.field("key"));
        assertEquals("g", m.field("group"));
        assertTrue(m.headers("file").contains("filename=\"f _1_.bin\""), m.headers("file"));
        assertArrayEquals(bytes, m.bytes("file"));
    }

    @Test
    void uploadFromAPathSendsItsLengthAndName(@TempDir Path dir) throws Exception {
        byte[] bytes = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("data.csv");
        Files.write(file, bytes);
        stub.route("POST /api/v1/files", r -> Answer.json(201, String.format(STORED, 8, "data.csv")));
        try (FileTelemetryClient client = stub.client()) {
            StoredFile f = client.upload(file, UploadOptions.trace("A"));
            assertEquals(8, f.size());
            assertEquals(5, f.storedSize());
            assertEquals("data.csv", f.filename());
        }
        StubServer.Seen up = stub.seen("POST /api/v1/files").get(0);
        assertEquals(String.valueOf(up.body().length), up.header("Content-Length"));
        Multi m = Multi.parse(up);
        assertNull(m.field("key"), "no key: the server generates it");
        assertTrue(m.headers("file").contains("filename=\"data.csv\""));
        assertArrayEquals(bytes, m.bytes("file"));
    }

    @Test
    void uploadRetriesAPathAfterA401ButNotAStream(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[] {1, 2, 3});
        stub.route("POST /api/v1/files", r -> "Bearer tok-1".equals(r.header("Authorization"))
                ? Answer.error(401, "unauthenticated", "expired") : Answer.json(201, String.format(STORED, 3, "f")));
        try (FileTelemetryClient client = stub.client()) {
            assertEquals(3, client.upload(file, UploadOptions.trace("A")).size());
        }
        try (StubServer other = new StubServer(); FileTelemetryClient client = other.client()) {
            other.route("POST /api/v1/files", r -> Answer.error(401, "unauthenticated", "expired"));
            assertThrows(AuthenticationException.class,
                    () -> client.upload(new ByteArrayInputStream(new byte[] {1}), UploadOptions.trace("A")));
            assertEquals(1, other.seen("POST /api/v1/files").size());
        }
    }

    @Test
    void downloadsStreamIntoFilesAndChecksTheSha256(@TempDir Path dir) throws Exception {
        byte[] bytes = "hello, file\n".getBytes(StandardCharsets.UTF_8);
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        stub.route("GET /api/v1/files/good/content", r -> new Answer(200, bytes, Map.of("X-Content-SHA256", sha)));
        stub.route("GET /api/v1/files/bad/content", r -> new Answer(200, bytes, Map.of("X-Content-SHA256", "00" + sha.substring(2))));
        stub.route("GET /api/v1/files/archive", r -> new Answer(200, new byte[] {31, -117}, Map.of()));
        stub.route("GET /api/v1/files/groups/g/archive", r -> new Answer(200, new byte[] {31, -117, 8}, Map.of()));
        try (FileTelemetryClient client = stub.client()) {
            Path target = dir.resolve("out.txt");
            assertEquals(bytes.length, client.download("good", target));
            assertArrayEquals(bytes, Files.readAllBytes(target));
            TransportException e = assertThrows(TransportException.class, () -> client.download("bad", dir.resolve("bad")));
            assertTrue(e.getMessage().contains("sha256"), e.getMessage());
            assertTrue(Files.notExists(dir.resolve("bad")) && Files.notExists(dir.resolve("bad.part")),
                    "a damaged download leaves no file behind");
            assertEquals(2, client.downloadDailyArchive(LocalDate.of(2026, 11, 28), new ByteArrayOutputStream()));
            assertEquals(3, client.downloadGroupArchive("g", dir.resolve("g.tar.gz")));
        }
        assertEquals("date=2026-11-28", stub.seen("GET /api/v1/files/archive").get(0).query());
    }

    @Test
    void aDownloadEndingShortIsATransportException() {
        stub.route("GET /api/v1/files/short/content", r -> new Answer(200, new byte[10], Map.of("X-Stub-Length", "100")));
        try (FileTelemetryClient client = stub.client()) {
            assertInstanceOf(TransportException.class,
                    assertThrows(FileTelemetryException.class, () -> client.download("short", new ByteArrayOutputStream())));
        }
    }

    @Test
    void aClosedClientRefusesCalls() {
        FileTelemetryClient client = stub.client();
        client.close();
        assertThrows(IllegalStateException.class, () -> client.trace("A"));
    }

    /** Settable clock for token expiry. */
    static final class MutableClock extends Clock {
        private Instant now = Instant.parse("2026-11-28T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /** Tiny multipart/form-data parser for checking what the client sent. */
    record Multi(Map<String, String> partHeaders, Map<String, byte[]> parts) {
        static Multi parse(StubServer.Seen s) {
            String ct = s.header("Content-Type");
            byte[] delim = ("--" + ct.substring(ct.indexOf("boundary=") + 9)).getBytes(StandardCharsets.ISO_8859_1);
            String body = new String(s.body(), StandardCharsets.ISO_8859_1);
            String d = new String(delim, StandardCharsets.ISO_8859_1);
            Map<String, String> headers = new java.util.HashMap<>();
            Map<String, byte[]> parts = new java.util.HashMap<>();
            for (String part : body.split(java.util.regex.Pattern.quote(d))) {
                if (part.startsWith("--") || part.isBlank()) {
                    continue;
                }
                int split = part.indexOf("\r\n\r\n");
                String head = part.substring(2, split);
                String content = part.substring(split + 4, part.length() - 2);
                String name = head.replaceAll("(?s).*form-data; name=\"([^\"]+)\".*", "$1");
                headers.put(name, head);
                parts.put(name, content.getBytes(StandardCharsets.ISO_8859_1));
            }
            return new Multi(headers, parts);
        }

        String field(String name) {
            byte[] b = parts.get(name);
            return b == null ? null : new String(b, StandardCharsets.UTF_8);
        }

        String headers(String name) {
            return partHeaders.get(name);
        }

        byte[] bytes(String name) {
            return parts.get(name);
        }
    }
}
