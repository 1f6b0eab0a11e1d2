package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Auth, per-event rejections, the async sender, trace listing and typed errors against a real server. */
class ClientIT {
    private static FileTelemetryClient client;

    @BeforeAll
    static void connect() {
        client = ItSupport.client();
    }

    @AfterAll
    static void disconnect() {
        if (client != null) {
            client.close();
        }
    }

    @Test
    void wrongSecretIsAnAuthenticationException() {
        try (FileTelemetryClient wrong = FileTelemetryClient.builder().baseUrl(ItSupport.property("ftel.baseUrl"))
                .credentials(ItSupport.property("ftel.clientId"), "not-the-secret").build()) {
            AuthenticationException e = assertThrows(AuthenticationException.class, () -> wrong.trace("x"));
            assertEquals(401, e.status());
        }
    }

    @Test
    void invalidEventsAreRejectedByIndexAndTheOthersKept() {
        Seed run = new Seed("reject");
        Event bad = Event.fileReceived(run.trace, "bad").attr("big", "x".repeat(70 * 1024)).build(); // attrs > 64 KiB
        IngestResult r = client.send(Event.traceStarted(run.trace, run.user).build(), bad,
                Event.fileReceived(run.trace, run.key("ok")).build());
        assertEquals(1, r.rejected().size(), r.toString());
        assertEquals(1, r.rejected().get(0).index());
        assertEquals(2, r.accepted() + r.buffered());
    }

    @Test
    void asyncSenderBatchesFlushesAndReportsRejections() {
        Seed run = new Seed("async");
        List<String> rejected = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger batches = new AtomicInteger();
        SenderOptions options = SenderOptions.builder().maxBatchSize(50).linger(Duration.ofMillis(100))
                .listener(new SendListener() {
                    @Override
                    public void onSent(List<Event> batch, IngestResult result) {
                        batches.incrementAndGet();
                    }

                    @Override
                    public void onRejected(Event event, String error) {
                        rejected.add(event.node().key());
                    }
                }).build();
        try (AsyncSender sender = client.newAsyncSender(options)) {
            sender.send(Event.traceStarted(run.trace, run.user).build());
            for (int i = 0; i < 120; i++) {
                sender.send(Event.flow(run.trace, "split").input(NodeRef.file(run.key("in")))
                        .output(NodeRef.data(run.key("d" + i))).build());
            }
            sender.send(Event.fileReceived(run.trace, "too-big").attr("big", "y".repeat(70 * 1024)).build());
            assertTrue(sender.flush(Duration.ofSeconds(60)));
            assertEquals(0, sender.pending());
        }
        assertEquals(List.of("too-big"), rejected);
        assertTrue(batches.get() >= 3, "batches of at most 50: " + batches.get());
        Trace t = ItSupport.waitFor(() -> client.trace(run.trace), x -> x.summary().data() == 120, Duration.ofSeconds(30));
        assertEquals(120, t.summary().data());
    }

    @Test
    void tracesAreListedWithFiltersAndCursor() {
        Seed run = new Seed("list");
        List<Event> starts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            starts.add(Event.traceStarted(run.trace + "-" + i, run.user).build());
        }
        client.sendAndWaitForGraph(starts);
        Set<String> seen = new HashSet<>();
        TraceQuery.Builder q = TraceQuery.builder().text(run.trace).limit(2);
        TracePage page = client.traces(q.build());
        page.items().forEach(t -> seen.add(t.key()));
        assertNotNull(page.nextCursor());
        page = client.traces(q.cursor(page.nextCursor()).build());
        page.items().forEach(t -> seen.add(t.key()));
        assertNull(page.nextCursor());
        assertEquals(Set.of(run.trace + "-0", run.trace + "-1", run.trace + "-2"), seen);
        assertTrue(client.traces(TraceQuery.builder().text(run.trace).status("ended").build()).items().isEmpty());
    }

    @Test
    void readErrorsAreTyped() {
        assertThrows(NotFoundException.class, () -> client.trace("java-no-such-trace-" + Keys.newKey()));
        assertThrows(NotFoundException.class, () -> client.lineage("java-no-such-node-" + Keys.newKey()));
        InvalidRequestException write = assertThrows(InvalidRequestException.class,
                () -> client.query("CREATE (n:File {key: 'java-should-not-exist'}) RETURN n"));
        assertEquals(422, write.status());
        assertThrows(NotFoundException.class, () -> client.unsubscribe(Keys.newKey()));
    }

    @Test
    void ingestOnlyAccountCannotRead() {
        // accounts are admin business, not the client's: the helper creates one over plain HTTP
        Map<String, Object> created = AccountsHelper.createIngestAccount(ItSupport.property("ftel.baseUrl"),
                ItSupport.property("ftel.clientId"), ItSupport.property("ftel.clientSecret"));
        try (FileTelemetryClient ingest = FileTelemetryClient.create(ItSupport.property("ftel.baseUrl"),
                (String) created.get("client_id"), (String) created.get("client_secret"))) {
            Seed run = new Seed("ingest");
            IngestResult sent = ingest.send(Event.traceStarted(run.trace, run.user).build());
            assertEquals(1, sent.accepted() + sent.buffered(), sent.toString());
            ForbiddenException e = assertThrows(ForbiddenException.class, () -> ingest.trace(run.trace));
            assertEquals(403, e.status());
        }
    }
}
