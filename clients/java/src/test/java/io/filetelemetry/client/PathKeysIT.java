package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys that are S3-style paths (#19) through the client against a real server: every read opens them and
 * gives them back intact, search finds them by prefix, a drop is charged to the trace that reported it, and
 * a file stored under a path key downloads by that key.
 */
class PathKeysIT {
    private static FileTelemetryClient client;
    private static String run;
    private static String trace;
    private static String in;
    private static String odd;
    private static String rows;
    private static String out;

    @BeforeAll
    static void sendAPipelineWhoseKeysArePaths() {
        client = ItSupport.client();
        run = newRun();
        trace = "pipelines/daily orders/" + run;
        in = "s3://bucket/in/2026/12/01/orders-" + run + ".csv";
        odd = "landing/ünï " + run + "/100% done.csv";
        rows = "rows/" + run + "/graph"; // ends like the trace-graph route
        out = "s3://bucket/out/" + run + "/summary.parquet";
        IngestResult sent = client.sendAndWaitForGraph(List.of(
                Event.traceStarted(trace, "java-it-paths").attr("name", "orders").build(),
                Event.fileReceived(trace, in).build(),
                Event.fileReceived(trace, odd).build(),
                Event.flow(trace, "parse").input(NodeRef.file(in)).output(NodeRef.data(rows)).build(),
                Event.flow(trace, "write").input(NodeRef.data(rows)).output(NodeRef.file(out)).build(),
                Event.log(trace, Event.Level.WARN, "partner feed late").build()));
        assertEquals(List.of(), sent.rejected(), sent.toString());
    }

    @AfterAll
    static void disconnect() {
        if (client != null) {
            client.close();
        }
    }

    private static String newRun() {
        return Keys.newKey().substring(24); // the random tail of a UUIDv7
    }

    private static Set<String> keys(List<GraphNode> nodes) {
        return nodes.stream().map(GraphNode::key).collect(Collectors.toSet());
    }

    @Test
    void everyReadOpensPathKeysAndGivesThemBackIntact() {
        Trace t = client.trace(trace);
        assertEquals(trace, t.key());
        assertEquals(List.of(new Trace.LogMessage(t.logMessages().get(0).time(), "warn", "partner feed late")),
                t.logMessages());
        assertEquals(Set.of(in, odd, rows, out), keys(client.traceGraph(trace).nodes()));
        for (String key : List.of(in, odd, rows, out)) {
            NodeDetail node = client.node(key);
            assertEquals(key, node.key());
            assertEquals(trace, node.node().path("trace").asText());
        }
        Lineage up = client.lineage(out, Lineage.Direction.UPSTREAM, 5);
        assertEquals(out, up.root());
        assertEquals(Set.of(out, rows, in), keys(up.nodes()));
        Lineage down = client.lineage(rows, Lineage.Direction.DOWNSTREAM, 1);
        assertEquals(List.of(new GraphEdge(rows, out, "write")), down.edges());
    }

    @Test
    void aTraceWhoseKeyEndsInGraphIsToldApartFromItsParentsGraph() {
        String parent = "etl/" + newRun();
        String child = parent + "/graph";
        client.sendAndWaitForGraph(List.of(
                Event.traceStarted(parent, "java-it-paths").build(),
                Event.fileReceived(parent, parent + "/in.csv").build(),
                Event.traceStarted(child, "java-it-paths").build()));
        assertEquals(Set.of(parent + "/in.csv"), keys(client.traceGraph(parent).nodes()));
        assertEquals(child, client.trace(child).key());
        assertTrue(client.traceGraph(child).nodes().isEmpty());
    }

    @Test
    void searchFindsTheFileAndTheTraceByTheStartOfTheirKeys() {
        assertEquals(List.of(new KeyHit(in, "file")), client.search("s3://bucket/in/2026/12/01/orders-" + run));
        assertEquals(List.of(new KeyHit(trace, "trace")), client.search("pipelines/daily orders/" + run));
        assertEquals(List.of(new KeyHit(rows, "data")), client.search("rows/" + run + "/"));
        assertEquals(List.of(new KeyHit(odd, "file")), client.search("landing/ünï " + run + "/100%"));
        assertEquals(1, client.search("s3://bucket/", 1).size());
    }

    @Test
    void aDropBelongsToTheTraceThatReportedIt() {
        String drops = newRun();
        String x = "writer/" + drops;
        String y = "reader/" + drops;
        String handoff = "s3://bucket/handoff/" + drops + ".csv";
        String reason = "schema validation failed";
        client.sendAndWaitForGraph(List.of(
                Event.traceStarted(x, "team-x").build(),
                Event.flow(x, "write").input(NodeRef.data("rows-" + drops)).output(NodeRef.file(handoff)).build(),
                Event.traceEnded(x).build(),
                Event.traceStarted(y, "team-y").build(),
                Event.fileDropped(y, handoff, reason).build()));

        Trace ofX = client.trace(x);
        Trace ofY = client.trace(y);
        assertEquals(0, ofX.summary().dropped());
        assertFalse(ofX.hasDrops());
        assertEquals(1, ofY.summary().dropped());
        assertEquals(Map.of(reason, 1), ofY.summary().dropReasons());
        assertTrue(ofY.hasDrops());

        GraphNode inX = client.traceGraph(x).node(handoff).orElseThrow();
        GraphNode inY = client.traceGraph(y).node(handoff).orElseThrow();
        assertEquals("dropped", inX.status(), "the node's status is its latest anywhere");
        assertFalse(inX.droppedHere());
        assertNull(inX.dropReason());
        assertTrue(inY.droppedHere());
        assertEquals(reason, inY.dropReason());

        TracePage dropping = client.traces(TraceQuery.builder().text(drops).hasDrops(true).build());
        assertEquals(List.of(y), dropping.items().stream().map(Trace::key).toList());
        assertEquals(1, dropping.total());
        assertTrue(dropping.items().get(0).hasDrops());
        assertNull(dropping.items().get(0).logMessages(), "only trace(key) carries log messages");
        TracePage clean = client.traces(TraceQuery.builder().text(drops).hasDrops(false).build());
        assertEquals(List.of(x), clean.items().stream().map(Trace::key).toList());
        assertEquals(1, clean.total());
    }

    @Test
    void aFileStoredUnderAPathKeyDownloadsByThatKey(@TempDir Path dir) throws Exception {
        String files = newRun();
        String key = "landing/partner-a/" + files + "/orders.csv";
        String tail = "landing/partner-a/" + files + "/content"; // ends like the download route
        byte[] bytes = "id,total\n1,10\n2,20\n".getBytes(StandardCharsets.UTF_8);
        Path source = Files.write(dir.resolve("orders.csv"), bytes);
        String fileTrace = "uploads/" + files;
        client.send(Event.traceStarted(fileTrace, "java-it-paths").build());

        StoredFile stored = client.upload(source, UploadOptions.trace(fileTrace).key(key));
        assertEquals(key, stored.key());
        assertEquals(key, client.fileInfo(key).key());
        Path copy = dir.resolve("copy.csv");
        assertEquals(bytes.length, client.download(key, copy));
        assertArrayEquals(bytes, Files.readAllBytes(copy));

        byte[] other = "x\n".getBytes(StandardCharsets.UTF_8);
        assertEquals(tail, client.upload(Files.write(dir.resolve("c"), other), UploadOptions.trace(fileTrace).key(tail))
                .key());
        assertEquals(tail, client.fileInfo(tail).key());
        assertEquals(other.length, client.download(tail, copy));
        assertArrayEquals(other, Files.readAllBytes(copy));
    }
}
