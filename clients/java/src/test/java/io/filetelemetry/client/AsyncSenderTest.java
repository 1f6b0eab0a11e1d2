package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.filetelemetry.client.StubServer.Answer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The background sender against a stub server: batching, retries, rejections, flush and close. */
class AsyncSenderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StubServer stub;
    private final List<Integer> batchSizes = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void start() throws Exception {
        stub = new StubServer();
    }

    @AfterEach
    void stop() {
        stub.close();
    }

    private StubServer.Answer accept(StubServer.Seen r) throws Exception {
        int n = JSON.readTree(r.body()).size();
        batchSizes.add(n);
        return Answer.json(202, "{\"accepted\":" + n + ",\"duplicates\":0,\"buffered\":0,\"rejected\":[]}");
    }

    private static List<Event> events(int n) {
        List<Event> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(Event.fileReceived("A", "F" + i).build());
        }
        return out;
    }

    private static SenderOptions.Builder fast() {
        return SenderOptions.builder().backoff(Duration.ofMillis(10), Duration.ofMillis(50));
    }

    @Test
    void fullBatchesGoAtOnceAndTheRestOnFlush() {
        stub.route("POST /api/v1/events", this::accept);
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().maxBatchSize(10).linger(Duration.ofSeconds(30)).build())) {
            sender.send(events(25));
            assertTrue(sender.flush(Duration.ofSeconds(10)), "flush does not wait for the linger time");
            assertEquals(0, sender.pending());
        }
        assertEquals(List.of(10, 10, 5), batchSizes);
    }

    @Test
    void aPartialBatchIsSentAfterTheLingerTime() throws Exception {
        CountDownLatch sent = new CountDownLatch(1);
        stub.route("POST /api/v1/events", r -> {
            sent.countDown();
            return accept(r);
        });
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().maxBatchSize(100).linger(Duration.ofMillis(50)).build())) {
            sender.send(events(3));
            assertTrue(sent.await(5, TimeUnit.SECONDS), "sent without flush once the linger time passed");
        }
        assertEquals(List.of(3), batchSizes);
    }

    @Test
    void serverErrorsAreRetriedWithTheSameEventIds() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<String> bodies = Collections.synchronizedList(new ArrayList<>());
        stub.route("POST /api/v1/events", r -> {
            bodies.add(r.text());
            return calls.incrementAndGet() <= 2 ? Answer.error(503, "unavailable", "graph down") : accept(r);
        });
        List<IngestResult> results = Collections.synchronizedList(new ArrayList<>());
        SendListener listener = new SendListener() {
            @Override
            public void onSent(List<Event> batch, IngestResult result) {
                results.add(result);
            }
        };
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().listener(listener).build())) {
            sender.send(events(4));
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(3, calls.get());
        assertEquals(1, bodies.stream().distinct().count(), "a retry re-sends the same events, ids included");
        assertEquals(4, results.get(0).accepted());
    }

    @Test
    void retriesEndAfterMaxAttemptsAndTheBatchIsReportedFailed() {
        stub.route("POST /api/v1/events", r -> Answer.error(500, "internal", "boom"));
        List<FileTelemetryException> failures = Collections.synchronizedList(new ArrayList<>());
        SendListener listener = new SendListener() {
            @Override
            public void onFailed(List<Event> events, FileTelemetryException error) {
                failures.add(error);
            }
        };
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().maxAttempts(3).listener(listener).build())) {
            sender.send(events(2));
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(3, stub.seen("POST /api/v1/events").size());
        assertEquals(1, failures.size());
        assertInstanceOf(ServerException.class, failures.get(0));
    }

    @Test
    void clientErrorsAreNotRetried() {
        stub.route("POST /api/v1/events", r -> Answer.error(403, "forbidden", "needs role ingest"));
        List<FileTelemetryException> failures = Collections.synchronizedList(new ArrayList<>());
        SendListener listener = new SendListener() {
            @Override
            public void onFailed(List<Event> events, FileTelemetryException error) {
                failures.add(error);
            }
        };
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().listener(listener).build())) {
            sender.send(events(2));
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(1, stub.seen("POST /api/v1/events").size());
        assertInstanceOf(ForbiddenException.class, failures.get(0));
    }

    @Test
    void rejectionsNameTheEventsOfTheBatch() {
        stub.route("POST /api/v1/events", r -> Answer.json(202,
                "{\"accepted\":2,\"duplicates\":0,\"buffered\":0,\"rejected\":[{\"index\":1,\"error\":\"attrs too large\"}]}"));
        List<String> rejected = Collections.synchronizedList(new ArrayList<>());
        SendListener listener = new SendListener() {
            @Override
            public void onRejected(Event event, String error) {
                rejected.add(event.node().key() + ": " + error);
            }
        };
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().listener(listener).build())) {
            sender.send(events(3));
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(List.of("F1: attrs too large"), rejected);
    }

    @Test
    void aTooLargeBatchIsSplitInHalves() {
        stub.route("POST /api/v1/events", r -> JSON.readTree(r.body()).size() > 2
                ? Answer.error(413, "payload_too_large", "too many") : accept(r));
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().build())) {
            sender.send(events(8));
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(List.of(2, 2, 2, 2), batchSizes);
    }

    @Test
    void closingTheClientFlushesItsSenders() {
        stub.route("POST /api/v1/events", this::accept);
        AsyncSender sender;
        try (FileTelemetryClient client = stub.client()) {
            sender = client.newAsyncSender(fast().linger(Duration.ofSeconds(30)).build());
            sender.send(events(7));
        }
        assertEquals(List.of(7), batchSizes);
        assertThrows(IllegalStateException.class, () -> sender.send(events(1).get(0)));
    }

    @Test
    void aFullBufferMakesSendWaitThenThrow() throws Exception {
        CountDownLatch inFlight = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        stub.route("POST /api/v1/events", r -> {
            inFlight.countDown();
            release.await(30, TimeUnit.SECONDS);
            return accept(r);
        });
        try (FileTelemetryClient client = stub.client();
             AsyncSender sender = client.newAsyncSender(fast().bufferCapacity(2).maxBatchSize(1)
                     .linger(Duration.ZERO).enqueueTimeout(Duration.ofMillis(100)).build())) {
            sender.send(events(1));
            // the server has the request: the sender thread took that event out of the buffer and is stuck in flight
            assertTrue(inFlight.await(30, TimeUnit.SECONDS), "the first event reached the server");
            sender.send(events(2)); // fills the buffer
            FileTelemetryException e = assertThrows(FileTelemetryException.class, () -> sender.send(events(1).get(0)));
            assertEquals("buffer_full", e.code());
            release.countDown();
            assertTrue(sender.flush(Duration.ofSeconds(10)));
        }
        assertEquals(List.of(1, 1, 1), batchSizes);
    }
}
