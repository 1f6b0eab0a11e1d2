package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class EventTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern UUID7 = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

    private static JsonNode json(Event e) throws Exception {
        return JSON.readTree(e.toJson());
    }

    @Test
    void everyEventTypeHasTheEnvelopeShapeOfTheDesign() throws Exception {
        Instant t = Instant.parse("2026-11-28T10:00:00Z");
        JsonNode started = json(Event.traceStarted("A", "team-7").time(t).attr("job", "import").build());
        assertEquals("trace.started", started.get("type").asText());
        assertEquals("A", started.get("trace").asText());
        assertEquals("team-7", started.get("user").asText());
        assertEquals("2026-11-28T10:00:00Z", started.get("time").asText());
        assertEquals("import", started.get("attrs").get("job").asText());

        assertEquals("trace.ended", json(Event.traceEnded("A").build()).get("type").asText());
        JsonNode received = json(Event.fileReceived("A", "File1").name("f.csv").build());
        assertEquals("{\"kind\":\"file\",\"key\":\"File1\",\"name\":\"f.csv\"}", received.get("node").toString());
        assertEquals("file.stored", json(Event.fileStored("A", "File1").build()).get("type").asText());
        JsonNode dropped = json(Event.fileDropped("A", "File1", "header missing").code("E_HEADER").build());
        assertEquals("header missing", dropped.get("reason").asText());
        assertEquals("E_HEADER", dropped.get("code").asText());
        assertEquals("file.deleted", json(Event.fileDeleted("A", "File1").reason("cleanup").build()).get("type").asText());
        JsonNode dataDropped = json(Event.dataDropped("A", "d1", "empty").build());
        assertEquals("data", dataDropped.get("node").get("kind").asText());

        JsonNode flow = json(Event.flow("A", "parse").input(NodeRef.file("File3"))
                .outputs(NodeRef.data("d1"), NodeRef.data("d2")).build());
        assertEquals("parse", flow.get("op").asText());
        assertEquals("[{\"kind\":\"file\",\"key\":\"File3\"}]", flow.get("inputs").toString());
        assertEquals(2, flow.get("outputs").size());
        JsonNode sink = json(Event.flow("A", "load").input(NodeRef.data("d1")).output(NodeRef.sink("db.orders")).build());
        assertEquals("sink", sink.get("outputs").get(0).get("kind").asText());

        JsonNode log = json(Event.log(NodeRef.file("File1"), Event.Level.WARN, "bad header").build());
        assertEquals("warn", log.get("level").asText());
        assertEquals("bad header", log.get("message").asText());
        assertFalse(log.has("trace"), "a log on a known node needs no trace");
    }

    @Test
    void everyEventCarriesAnIdSoRetriesAreStoredOnce() throws Exception {
        Event e = Event.traceEnded("A").build();
        assertTrue(UUID7.matcher(e.id()).matches(), e.id());
        assertEquals(e.id(), json(e).get("id").asText());
        assertNotEquals(e.id(), Event.traceEnded("A").build().id());
        assertEquals("fixed", Event.traceEnded("A").id("fixed").build().id());
    }

    @Test
    void missingKeysAreGeneratedAsUuidV7() {
        Event started = Event.traceStarted(null, "u").build();
        assertTrue(UUID7.matcher(started.trace()).matches(), started.trace());
        Event received = Event.fileReceived("A", null).build();
        assertTrue(UUID7.matcher(received.node().key()).matches());
    }

    @Test
    void uuidV7KeysAreTimeOrderedAndUnique() {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            keys.add(Keys.newKey());
        }
        List<String> sorted = new ArrayList<>(keys);
        sorted.sort(null);
        assertEquals(keys, sorted, "generated in order, sorted as text");
        assertEquals(keys.size(), keys.stream().distinct().count());
        UUID u = UUID.fromString(keys.get(0));
        assertEquals(7, u.version());
        assertEquals(2, u.variant());
        long millis = u.getMostSignificantBits() >>> 16;
        assertTrue(Math.abs(System.currentTimeMillis() - millis) < 60_000, "48-bit Unix milliseconds");
    }

    @Test
    void eventsMissingWhatTheirTypeNeedsAreRefusedBeforeSending() {
        assertThrows(IllegalArgumentException.class, () -> Event.flow("A", "parse").input(NodeRef.file("F")).build());
        assertThrows(IllegalArgumentException.class, () -> Event.flow(null, "parse").input(NodeRef.file("F"))
                .output(NodeRef.data("d")).build());
        assertThrows(IllegalArgumentException.class, () -> Event.fileDropped("A", "F", null).build());
        assertThrows(IllegalArgumentException.class, () -> Event.log((String) null, Event.Level.INFO, "m").build());
        assertThrows(IllegalArgumentException.class, () -> NodeRef.file(""));
        assertThrows(IllegalArgumentException.class, () -> NodeRef.file("x".repeat(513)));
        assertThrows(IllegalArgumentException.class, () -> NodeRef.file("a\nb"));
        assertThrows(NullPointerException.class, () -> Event.traceStarted("A", null));
        Event.fileDropped("A", "F", null).code("E_ONLY_CODE").build(); // a code alone is enough
    }
}
