package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import io.filetelemetry.client.internal.ApiClient;
import io.filetelemetry.client.internal.BatchingSender;
import io.filetelemetry.client.internal.Json;
import io.filetelemetry.client.internal.Multipart;
import io.filetelemetry.client.internal.Transfers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToLongFunction;

/**
 * The file-telemetry client: send telemetry events and files, manage stream subscriptions, read traces,
 * lineage and stored files. One instance per application; thread-safe; {@link #close()} flushes and stops
 * the {@link AsyncSender}s it made.
 *
 * <pre>{@code
 * try (FileTelemetryClient client = FileTelemetryClient.create("http://127.0.0.1:8000", id, secret)) {
 *     client.send(Event.traceStarted("nightly-1", "team-7").build());
 *     StoredFile f = client.upload(Path.of("data.csv"), UploadOptions.trace("nightly-1").key("File3"));
 *     TraceSummary s = client.trace("nightly-1").summary();
 * }
 * }</pre>
 *
 * The access token is fetched on first use, refreshed before it expires and once more after a 401.
 * Failures are unchecked {@link FileTelemetryException}s.
 */
public final class FileTelemetryClient implements AutoCloseable {
    /** Hits {@link #search(String)} asks for (the server's default). */
    public static final int DEFAULT_SEARCH_LIMIT = 20;

    private final ApiClient api;
    private final Set<AsyncSender> senders = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private FileTelemetryClient(Builder b) {
        this.api = new ApiClient(b.baseUrl, b.clientId, b.clientSecret, b.connectTimeout, b.requestTimeout, b.clock);
    }

    /** A client with default timeouts. */
    public static FileTelemetryClient create(String baseUrl, String clientId, String clientSecret) {
        return builder().baseUrl(baseUrl).credentials(clientId, clientSecret).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    // -- events ----------------------------------------------------------------------------------------

    /**
     * Send events in one request ({@code POST /events}); invalid ones come back in {@link IngestResult#rejected()}.
     * The answer comes once they are stored; the lineage graph shows them a moment later.
     */
    public IngestResult send(List<Event> events) {
        open();
        return sendBatch(events, false);
    }

    /**
     * Send events and answer only once they are merged into the lineage graph ({@code wait_for_graph=true}):
     * what this call sent is then in every read. Slower than {@link #send(List)}; for tests and scripts.
     */
    public IngestResult sendAndWaitForGraph(List<Event> events) {
        open();
        return sendBatch(events, true);
    }

    private IngestResult sendBatch(List<Event> events) {
        return sendBatch(events, false);
    }

    /** Also used by the async senders while the client closes (they flush after it refuses new calls). */
    private IngestResult sendBatch(List<Event> events, boolean waitForGraph) {
        if (events.isEmpty()) {
            return new IngestResult(0, 0, 0, List.of());
        }
        List<Map<String, Object>> wire = new ArrayList<>(events.size());
        for (Event e : events) {
            wire.add(e.toMap());
        }
        byte[] body = Json.writeBytes(wire);
        Map<String, String> query = waitForGraph ? Map.of("wait_for_graph", "true") : null;
        JsonNode r = api.json("send " + events.size() + " events", token -> api.request("events", query)
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
        return Json.convert(r, IngestResult.class);
    }

    /** Send events in one request. */
    public IngestResult send(Event... events) {
        return send(List.of(events));
    }

    /** A background sender with these options; closed by {@link #close()} if not before. */
    public AsyncSender newAsyncSender(SenderOptions options) {
        open();
        AsyncSender[] self = new AsyncSender[1];
        self[0] = new BatchingSender(options, this::sendBatch, () -> senders.remove(self[0]));
        senders.add(self[0]);
        return self[0];
    }

    /** A background sender with {@link SenderOptions#defaults()}. */
    public AsyncSender newAsyncSender() {
        return newAsyncSender(SenderOptions.defaults());
    }

    // -- OpenLineage -----------------------------------------------------------------------------------

    /**
     * Send one OpenLineage RunEvent, as JSON ({@code POST /openlineage}), the way the OpenLineage HTTP transport
     * does. The counts are of the envelopes it becomes (a flow, the trace's start and end, logs, drops). A
     * RunEvent the server refuses is an {@link InvalidRequestException} with its reason.
     */
    public IngestResult sendOpenLineage(String runEventJson) {
        open();
        byte[] body = Objects.requireNonNull(runEventJson, "runEventJson").getBytes(StandardCharsets.UTF_8);
        return postOpenLineage("send an OpenLineage RunEvent", body, false);
    }

    /**
     * Send OpenLineage RunEvents (JSON objects) in one request; refused ones come back in
     * {@link IngestResult#rejected()} by their index in {@code runEventsJson}. A string that is not JSON
     * throws {@link IllegalArgumentException} before anything is sent.
     */
    public IngestResult sendOpenLineage(List<String> runEventsJson) {
        open();
        return postOpenLineage("send " + runEventsJson.size() + " OpenLineage RunEvents",
                openLineageArray(runEventsJson), false);
    }

    /** {@link #sendOpenLineage(List)}, answered only once the events are merged into the lineage graph. */
    public IngestResult sendOpenLineageAndWaitForGraph(List<String> runEventsJson) {
        open();
        return postOpenLineage("send " + runEventsJson.size() + " OpenLineage RunEvents",
                openLineageArray(runEventsJson), true);
    }

    /**
     * A trace's lineage as OpenLineage RunEvents ({@code GET /traces/{key}/openlineage}): the trace as the
     * root run, each flow as a child run that completes, each drop as one that fails with the reason.
     */
    public List<JsonNode> traceOpenLineage(String traceKey) {
        open();
        String what = "trace OpenLineage " + traceKey;
        HttpResponse<InputStream> r = api.stream(what, token -> api.streamingRequest(
                "traces/" + ApiClient.seg(traceKey) + "/openlineage", null)
                .header("Authorization", "Bearer " + token).header("Accept", "application/x-ndjson").GET().build(),
                true);
        List<JsonNode> out = new ArrayList<>();
        try (InputStream in = r.body();
             MappingIterator<JsonNode> lines = Json.MAPPER.readerFor(JsonNode.class).readValues(in)) {
            while (lines.hasNextValue()) {
                out.add(lines.nextValue());
            }
        } catch (IOException e) {
            throw new TransportException(what + ": reading the answer failed", e);
        }
        return out;
    }

    private static byte[] openLineageArray(List<String> runEventsJson) {
        List<JsonNode> events = new ArrayList<>(runEventsJson.size());
        for (int i = 0; i < runEventsJson.size(); i++) {
            try {
                events.add(Json.MAPPER.readTree(runEventsJson.get(i)));
            } catch (IOException e) {
                throw new IllegalArgumentException("RunEvent " + i + " is not JSON: " + e.getMessage(), e);
            }
        }
        return Json.writeBytes(events);
    }

    private IngestResult postOpenLineage(String what, byte[] body, boolean waitForGraph) {
        Map<String, String> query = waitForGraph ? Map.of("wait_for_graph", "true") : null;
        JsonNode r = api.json(what, token -> api.request("openlineage", query)
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
        return Json.convert(r, IngestResult.class);
    }

    // -- subscriptions ---------------------------------------------------------------------------------

    /**
     * Open a stream subscription ({@code POST /subscriptions}) on Redis. {@code userId} null: the server
     * issues one. Write to it with {@code StreamTransport.open(subscription)} (needs Jedis).
     */
    public Subscription subscribe(String userId, String userName) {
        return subscribe(userId, userName, "redis");
    }

    /** Open a subscription on {@code transport} ({@code redis} or {@code kafka}). */
    public Subscription subscribe(String userId, String userName, String transport) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (userId != null) {
            body.put("user_id", userId);
        }
        if (userName != null) {
            body.put("user_name", userName);
        }
        body.put("transport", Objects.requireNonNull(transport, "transport"));
        byte[] bytes = Json.writeBytes(body);
        return Json.convert(postJson("subscribe", "subscriptions", bytes), Subscription.class);
    }

    /** The account's live subscriptions. */
    public List<Subscription> subscriptions() {
        return subscriptions(false);
    }

    /** The account's subscriptions, closed ones too when {@code includeDeleted}. */
    public List<Subscription> subscriptions(boolean includeDeleted) {
        JsonNode r = get("list subscriptions", "subscriptions",
                includeDeleted ? Map.of("include_deleted", "true") : null);
        List<Subscription> out = new ArrayList<>();
        r.forEach(n -> out.add(Json.convert(n, Subscription.class)));
        return out;
    }

    /** One of the account's subscriptions. */
    public Subscription subscription(String id) {
        return Json.convert(get("subscription " + id, "subscriptions/" + ApiClient.seg(id), null), Subscription.class);
    }

    /** Close a subscription (soft delete); returns it with {@code deletedAt} set. */
    public Subscription unsubscribe(String id) {
        JsonNode r = api.json("unsubscribe " + id, token -> api.request("subscriptions/" + ApiClient.seg(id), null)
                .header("Authorization", "Bearer " + token).DELETE().build());
        return Json.convert(r, Subscription.class);
    }

    // -- files -----------------------------------------------------------------------------------------

    /** Upload a file, streamed from disk ({@code POST /files}); answers once it is stored. */
    public StoredFile upload(Path file, UploadOptions options) {
        open();
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        String name = options.filename() != null ? options.filename() : String.valueOf(file.getFileName());
        Multipart body = new Multipart(options.fields(), "file", name);
        JsonNode r = api.json("upload " + file, token -> api.streamingRequest("files", null)
                .header("Authorization", "Bearer " + token).header("Content-Type", body.contentType())
                .header("Accept", "application/json")
                .POST(body.publisher(() -> Transfers.open(file), size)).build());
        return Json.convert(r, StoredFile.class);
    }

    /**
     * Upload from a stream, read while sending (chunked; never held whole). The stream is read to its end
     * but not closed. A stream can be sent once only: if the token is refused mid-way this throws.
     */
    public StoredFile upload(InputStream content, UploadOptions options) {
        open();
        String name = options.filename() != null ? options.filename()
                : options.key() != null ? options.key() : "upload";
        Multipart body = new Multipart(options.fields(), "file", name);
        InputStream unclosed = new java.io.FilterInputStream(content) {
            @Override
            public void close() {
                // the caller owns the stream
            }
        };
        boolean[] used = new boolean[1];
        HttpResponse<InputStream> r = api.stream("upload", token -> {
            if (used[0]) {
                throw new AuthenticationException(401, "unauthenticated",
                        "upload: token refused and a stream cannot be sent twice", null);
            }
            used[0] = true;
            return api.streamingRequest("files", null)
                    .header("Authorization", "Bearer " + token).header("Content-Type", body.contentType())
                    .header("Accept", "application/json")
                    .POST(body.publisher(() -> unclosed, -1)).build();
        }, false);
        try (InputStream in = r.body()) {
            return Json.read(in.readAllBytes(), StoredFile.class);
        } catch (IOException e) {
            throw new TransportException("upload: reading the answer failed", e);
        }
    }

    /** Metadata of a stored file ({@code GET /files/{key}}). */
    public StoredFile fileInfo(String key) {
        return Json.convert(get("file " + key, "files/" + ApiClient.seg(key), null), StoredFile.class);
    }

    /**
     * Download a file's original bytes into {@code target} (replaced); checks the length and sha256 the
     * server announces. Returns the bytes written.
     */
    public long download(String key, Path target) {
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        try {
            long n;
            try (OutputStream out = Files.newOutputStream(tmp)) {
                n = download(key, out);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target, e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /** Download a file's original bytes into {@code out} (not closed); checks length and sha256. */
    public long download(String key, OutputStream out) {
        return copy("download " + key, "files/" + ApiClient.seg(key) + "/content", null, out, true);
    }

    /** The tar.gz of a storage group, streamed into {@code out} (not closed). Returns the bytes written. */
    public long downloadGroupArchive(String group, OutputStream out) {
        return copy("group archive " + group, "files/groups/" + ApiClient.seg(group) + "/archive", null, out, false);
    }

    /** The tar.gz of a storage group into {@code target}. */
    public long downloadGroupArchive(String group, Path target) {
        return toFile(target, out -> downloadGroupArchive(group, out));
    }

    /** The tar.gz of the files stored on one UTC day, streamed into {@code out} (not closed). */
    public long downloadDailyArchive(LocalDate day, OutputStream out) {
        return copy("daily archive " + day, "files/archive", Map.of("date", day.toString()), out, false);
    }

    /** The tar.gz of the files stored on one UTC day into {@code target}. */
    public long downloadDailyArchive(LocalDate day, Path target) {
        return toFile(target, out -> downloadDailyArchive(day, out));
    }

    // -- reads -----------------------------------------------------------------------------------------

    /** One page of traces, newest first ({@code GET /traces}). */
    public TracePage traces(TraceQuery query) {
        return Json.convert(get("list traces", "traces", query.params()), TracePage.class);
    }

    /** A trace with its summary. */
    public Trace trace(String key) {
        return Json.convert(get("trace " + key, "traces/" + ApiClient.seg(key), null), Trace.class);
    }

    /** A trace's nodes and flow edges. */
    public TraceGraph traceGraph(String key) {
        return Json.convert(get("trace graph " + key, "traces/" + ApiClient.seg(key) + "/graph", null),
                TraceGraph.class);
    }

    /** A node with its events and logs. */
    public NodeDetail node(String key) {
        return Json.convert(get("node " + key, "nodes/" + ApiClient.seg(key), null), NodeDetail.class);
    }

    /** Lineage of a node: {@code depth} 1..50 hops. */
    public Lineage lineage(String key, Lineage.Direction direction, int depth) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("direction", direction.wireName());
        q.put("depth", Integer.toString(depth));
        return Json.convert(get("lineage " + key, "lineage/" + ApiClient.seg(key), q), Lineage.class);
    }

    /** Lineage both ways, 5 hops. */
    public Lineage lineage(String key) {
        return lineage(key, Lineage.Direction.BOTH, 5);
    }

    /**
     * Traces, files, data and sinks whose key starts with {@code prefix} (case-sensitive; {@code GET /search}):
     * traces first, then nodes, each in key order; at most {@code limit} (1..100).
     */
    public List<KeyHit> search(String prefix, int limit) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("q", Objects.requireNonNull(prefix, "prefix"));
        q.put("limit", Integer.toString(limit));
        JsonNode r = get("search " + prefix, "search", q);
        List<KeyHit> out = new ArrayList<>();
        r.path("items").forEach(n -> out.add(Json.convert(n, KeyHit.class)));
        return out;
    }

    /** Keys starting with {@code prefix}, at most {@value #DEFAULT_SEARCH_LIMIT}. */
    public List<KeyHit> search(String prefix) {
        return search(prefix, DEFAULT_SEARCH_LIMIT);
    }

    /** A read-only Cypher query ({@code POST /graph/query}); the server limits rows and time. */
    public QueryResult query(String cypher, Map<String, ?> params) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("query", cypher);
        body.put("params", params == null ? Map.of() : params);
        return Json.convert(postJson("graph query", "graph/query", Json.writeBytes(body)), QueryResult.class);
    }

    /** A read-only Cypher query without parameters. */
    public QueryResult query(String cypher) {
        return query(cypher, Map.of());
    }

    // -- lifecycle -------------------------------------------------------------------------------------

    /** Flushes and closes the async senders made by this client. Idempotent. */
    @Override
    public void close() {
        closed = true;
        for (AsyncSender s : List.copyOf(senders)) {
            s.close();
        }
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("the client is closed");
        }
    }

    private JsonNode get(String what, String path, Map<String, String> query) {
        open();
        return api.json(what, token -> api.request(path, query).header("Authorization", "Bearer " + token)
                .GET().build());
    }

    private JsonNode postJson(String what, String path, byte[] body) {
        open();
        return api.json(what, token -> api.request(path, null).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build());
    }

    private long copy(String what, String path, Map<String, String> query, OutputStream out, boolean verify) {
        open();
        HttpResponse<InputStream> r = api.stream(what, token -> api.streamingRequest(path, query)
                .header("Authorization", "Bearer " + token).GET().build(), true);
        return Transfers.copy(what, r, out, verify);
    }

    private static long toFile(Path target, ToLongFunction<OutputStream> write) {
        try (OutputStream out = Files.newOutputStream(target)) {
            return write.applyAsLong(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target, e);
        }
    }

    /** Builder of {@link FileTelemetryClient}. */
    public static final class Builder {
        private URI baseUrl;
        private String clientId;
        private String clientSecret;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration requestTimeout = Duration.ofSeconds(60);
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** Server address, e.g. {@code http://127.0.0.1:8000} ({@code /api/v1} is added). */
        public Builder baseUrl(String baseUrl) {
            this.baseUrl = URI.create(Objects.requireNonNull(baseUrl, "baseUrl"));
            return this;
        }

        /** Client credentials of an account (see {@code POST /accounts}). */
        public Builder credentials(String clientId, String clientSecret) {
            this.clientId = Objects.requireNonNull(clientId, "clientId");
            this.clientSecret = Objects.requireNonNull(clientSecret, "clientSecret");
            return this;
        }

        /** TCP connect timeout (default 10 s). */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Timeout of JSON calls (default 60 s); uploads and downloads are not limited by it. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Clock for token expiry (tests). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public FileTelemetryClient build() {
            if (baseUrl == null) {
                throw new IllegalStateException("baseUrl is required");
            }
            if (clientId == null) {
                throw new IllegalStateException("credentials are required");
            }
            return new FileTelemetryClient(this);
        }
    }
}
