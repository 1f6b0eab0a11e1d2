package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.filetelemetry.client.StubServer.Answer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** OpenLineage RunEvents in and out through the client, against the stub server: request shapes and errors. */
class OpenLineageTest {
    private static final String START = "{\"eventType\":\"START\",\"eventTime\":\"2026-12-01T09:00:00Z\","
            + "\"run\":{\"runId\":\"0191f1b2-3c4d-7e8f-9a0b-1c2d3e4f5a6b\"},\"job\":{\"namespace\":\"n\",\"name\":\"j\"},"
            + "\"producer\":\"https://example.com\",\"schemaURL\":"
            + "\"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent\"}";
    private static final String COUNTS = "{\"accepted\":2,\"duplicates\":0,\"buffered\":0,\"rejected\":[]}";

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
    void aRunEventIsPostedAsGivenWithTheBearerToken() {
        stub.route("POST /api/v1/openlineage", r -> Answer.json(202, COUNTS));
        try (FileTelemetryClient client = stub.client()) {
            IngestResult r = client.sendOpenLineage(START);
            assertEquals(2, r.accepted());
            assertTrue(r.allAccepted());
        }
        StubServer.Seen sent = stub.seen("POST /api/v1/openlineage").get(0);
        assertEquals(START, sent.text(), "the RunEvent goes out byte for byte, alone: the HTTP transport's shape");
        assertEquals("application/json", sent.header("Content-Type"));
        assertEquals("Bearer tok-1", sent.header("Authorization"));
        assertNull(sent.query());
    }

    @Test
    void aRefusedRunEventIsAnInvalidRequestWithTheServersReason() {
        stub.route("POST /api/v1/openlineage", r -> Answer.error(400, "invalid_input", "run.runId: not a UUID"));
        try (FileTelemetryClient client = stub.client()) {
            InvalidRequestException e = assertThrows(InvalidRequestException.class,
                    () -> client.sendOpenLineage(START.replace("0191f1b2-3c4d-7e8f-9a0b-1c2d3e4f5a6b", "x")));
            assertEquals(400, e.status());
            assertEquals("invalid_input", e.code());
            assertTrue(e.getMessage().contains("run.runId: not a UUID"), e.getMessage());
            assertEquals("test", e.details().path("why").asText());
        }
    }

    @Test
    void aBatchIsOneJsonArrayAndRefusedEventsComeBackByIndex() throws Exception {
        stub.route("POST /api/v1/openlineage", r -> Answer.json(202,
                "{\"accepted\":3,\"duplicates\":1,\"buffered\":0,\"rejected\":[{\"index\":1,\"error\":\"schemaURL\"}]}"));
        String other = START.replace("START", "COMPLETE");
        try (FileTelemetryClient client = stub.client()) {
            IngestResult r = client.sendOpenLineage(List.of(START, other));
            assertEquals(3, r.accepted());
            assertEquals(1, r.duplicates());
            assertEquals(List.of(new IngestResult.Rejection(1, "schemaURL")), r.rejected());
        }
        StubServer.Seen sent = stub.seen("POST /api/v1/openlineage").get(0);
        ObjectMapper mapper = new ObjectMapper();
        JsonNode body = mapper.readTree(sent.body());
        assertTrue(body.isArray());
        assertEquals(List.of(mapper.readTree(START), mapper.readTree(other)), List.of(body.get(0), body.get(1)));
        assertNull(sent.query());
    }

    @Test
    void waitingForTheGraphIsAskedOfTheServer() {
        stub.route("POST /api/v1/openlineage", r -> Answer.json(202, COUNTS));
        try (FileTelemetryClient client = stub.client()) {
            client.sendOpenLineageAndWaitForGraph(List.of(START));
        }
        assertEquals("wait_for_graph=true", stub.seen("POST /api/v1/openlineage").get(0).query());
    }

    @Test
    void aStringThatIsNotJsonIsRefusedBeforeAnythingIsSent() {
        try (FileTelemetryClient client = stub.client()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> client.sendOpenLineage(List.of(START, "{not json")));
            assertTrue(e.getMessage().startsWith("RunEvent 1 is not JSON"), e.getMessage());
        }
        assertEquals(List.of(), stub.seen("POST /api/v1/openlineage"));
    }

    @Test
    void aRefusedTokenIsRenewedOnceAndTheRunEventSentAgain() {
        stub.route("POST /api/v1/openlineage", r -> "Bearer tok-1".equals(r.header("Authorization"))
                ? Answer.error(401, "unauthenticated", "token expired") : Answer.json(202, COUNTS));
        try (FileTelemetryClient client = stub.client()) {
            assertEquals(2, client.sendOpenLineage(START).accepted());
        }
        assertEquals(2, stub.tokens.get());
        List<StubServer.Seen> sent = stub.seen("POST /api/v1/openlineage");
        assertEquals(START, sent.get(1).text());
    }

    @Test
    void aTracesRunEventsAreReadFromNdjsonUnderAPathKey() {
        String ndjson = START + "\n" + START.replace("START", "COMPLETE") + "\n";
        stub.route("GET /api/v1/traces/pipelines%2Fdaily%20orders%2F1/openlineage", r -> new Answer(200,
                ndjson.getBytes(StandardCharsets.UTF_8), Map.of("Content-Type", "application/x-ndjson")));
        try (FileTelemetryClient client = stub.client()) {
            List<JsonNode> events = client.traceOpenLineage("pipelines/daily orders/1");
            assertEquals(List.of("START", "COMPLETE"), events.stream().map(e -> e.path("eventType").asText()).toList());
            assertEquals("j", events.get(1).path("job").path("name").asText());
        }
        StubServer.Seen read = stub.seen("GET /api/v1/traces/pipelines%2Fdaily%20orders%2F1/openlineage").get(0);
        assertEquals("Bearer tok-1", read.header("Authorization"));
    }

    @Test
    void anUnknownTracesRunEventsAreNotFound() {
        try (FileTelemetryClient client = stub.client()) {
            NotFoundException e = assertThrows(NotFoundException.class, () -> client.traceOpenLineage("nope"));
            assertEquals(404, e.status());
        }
    }
}
