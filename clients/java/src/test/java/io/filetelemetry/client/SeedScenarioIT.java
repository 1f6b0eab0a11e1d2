package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The seed scenario sent through the client, over REST and over the Redis stream, read back node by node. */
class SeedScenarioIT {
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
    void seedSentOverRestReadsBackNodeByNode() {
        Seed seed = new Seed("rest");
        List<Event> events = seed.events();

        IngestResult first = client.send(events);
        assertEquals(List.of(), first.rejected());
        assertEquals(events.size(), first.accepted() + first.buffered());

        IngestResult again = client.send(events);
        assertEquals(0, again.accepted(), "re-sending the same batch changes nothing");
        assertEquals(events.size(), again.duplicates() + again.buffered());

        assertSeedGraph(seed, Duration.ofSeconds(30));
    }

    @Test
    void seedSentOverStreamTransportReadsBackNodeByNode() {
        Seed seed = new Seed("stream");
        Subscription sub = client.subscribe(seed.user, "Java IT");
        assertTrue(sub.streamKey().startsWith("ft:s:"), sub.streamKey());
        assertTrue(sub.endpoint().startsWith("redis://"), sub.endpoint());
        assertEquals(seed.user, sub.userId());
        assertTrue(client.subscriptions().stream().anyMatch(s -> s.id().equals(sub.id())));
        try {
            List<Event> events = seed.events();
            try (StreamTransport stream = StreamTransport.open(sub)) {
                stream.send(events.get(0));                          // one entry, field "event"
                stream.send(events.subList(1, 10));                  // one entry, field "events"
                for (Event e : events.subList(10, events.size())) {
                    stream.send(e);
                }
            }
            assertSeedGraph(seed, Duration.ofSeconds(60));
        } finally {
            Subscription closed = client.unsubscribe(sub.id());
            assertFalse(closed.isLive());
            assertEquals("unsubscribed", closed.deleteReason());
        }
        assertFalse(client.subscriptions().stream().anyMatch(s -> s.id().equals(sub.id())));
        assertTrue(client.subscriptions(true).stream().anyMatch(s -> s.id().equals(sub.id())));
    }

    private static void assertSeedGraph(Seed seed, Duration timeout) {
        Trace trace = ItSupport.waitFor(() -> client.trace(seed.trace),
                t -> t.summary().data() == 6 && t.summary().outputs() == 1 && "ended".equals(t.status()), timeout);
        assertEquals(seed.user, trace.user());
        assertEquals("ended", trace.status());
        TraceSummary s = trace.summary();
        assertEquals(3, s.files(), "files");
        assertEquals(2, s.dropped(), "dropped");
        assertEquals(0, s.unconverted(), "unconverted");
        assertEquals(6, s.data(), "data");
        assertEquals(1, s.outputs(), "outputs");
        assertEquals(Map.of("header row missing (see log)", 1, "checksum mismatch (see log)", 1), s.dropReasons());

        TraceGraph graph = client.traceGraph(seed.trace);
        assertEquals(10, graph.nodes().size(), "File1..4 and data1..6: " + graph.nodes());
        GraphNode file1 = graph.node(seed.key("File1")).orElseThrow();
        assertEquals("file", file1.kind());
        assertEquals("dropped", file1.status());
        assertEquals("header row missing (see log)", file1.reason());
        assertEquals("E_HEADER", file1.code());
        assertEquals("file1.csv", file1.name());
        GraphNode file2 = graph.node(seed.key("File2")).orElseThrow();
        assertEquals("dropped", file2.status());
        assertEquals("checksum mismatch (see log)", file2.reason());
        assertEquals("E_CHECKSUM", file2.code());
        GraphNode file3 = graph.node(seed.key("File3")).orElseThrow();
        assertEquals("file", file3.kind());
        assertEquals("converted", file3.status());
        for (int i = 1; i <= 6; i++) {
            GraphNode d = graph.node(seed.key("data" + i)).orElseThrow();
            assertEquals("data", d.kind(), d.toString());
            assertEquals(seed.trace, d.trace(), d.toString());
        }
        GraphNode file4 = graph.node(seed.key("File4")).orElseThrow();
        assertEquals("file", file4.kind());
        assertEquals("written", file4.status());
        assertEquals("report.parquet", file4.name());

        Set<GraphEdge> expected = Set.of(
                new GraphEdge(seed.key("File3"), seed.key("data1"), "parse"),
                new GraphEdge(seed.key("File3"), seed.key("data2"), "parse"),
                new GraphEdge(seed.key("File3"), seed.key("data3"), "parse"),
                new GraphEdge(seed.key("data1"), seed.key("data4"), "enrich"),
                new GraphEdge(seed.key("data2"), seed.key("data5"), "aggregate"),
                new GraphEdge(seed.key("data5"), seed.key("File4"), "write"),
                new GraphEdge(seed.key("data3"), seed.key("data6"), "normalize"));
        assertEquals(expected, new HashSet<>(graph.edges()));

        Lineage up = client.lineage(seed.key("File4"), Lineage.Direction.UPSTREAM, 10);
        Set<String> upKeys = new HashSet<>();
        up.nodes().forEach(n -> upKeys.add(n.key()));
        assertEquals(Set.of(seed.key("File4"), seed.key("data5"), seed.key("data2"), seed.key("File3")), upKeys);
        assertFalse(up.truncated());

        Lineage down = client.lineage(seed.key("File3"), Lineage.Direction.DOWNSTREAM, 1);
        assertEquals(3, down.edges().size(), down.toString());

        NodeDetail file1Detail = client.node(seed.key("File1"));
        assertEquals("dropped", file1Detail.status());
        assertEquals(1, file1Detail.node().path("logs").path("warn").asInt());
        assertTrue(file1Detail.logs().stream().anyMatch(l -> l.message().startsWith("header row missing")),
                file1Detail.logs().toString());

        QueryResult q = client.query("MATCH (t:Trace {key: $k})-[:CONTAINS]->(n) RETURN count(n) AS c",
                Map.of("k", seed.trace));
        assertEquals(List.of("c"), q.columns());
        assertEquals(10, q.rows().get(0).get(0).asInt());

        TracePage page = client.traces(TraceQuery.builder().user(seed.user).text(seed.trace).limit(5).build());
        assertTrue(page.items().stream().anyMatch(t -> t.key().equals(seed.trace)), page.toString());
    }
}
