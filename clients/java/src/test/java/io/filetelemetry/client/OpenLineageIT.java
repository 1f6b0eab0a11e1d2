package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.openlineage.client.Clients;
import io.openlineage.client.OpenLineage;
import io.openlineage.client.OpenLineage.RunEvent.EventType;
import io.openlineage.client.OpenLineageClient;
import io.openlineage.client.OpenLineageClientException;
import io.openlineage.client.OpenLineageClientUtils;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * OpenLineage RunEvents against a real server (#17): a two-job pipeline whose second job fails, sent through
 * this client and through openlineage-java's HTTP transport configured with the README's YAML, read back as a
 * trace (status, flow edges, the failure as the drop reason of the failed job's file input) and as RunEvents.
 */
class OpenLineageIT {
    private static final OpenLineage OL = new OpenLineage(URI.create("https://example.com/file-telemetry/java-it"));
    private static final Duration PATIENCE = Duration.ofSeconds(30);
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

    /** A DAG run with two task runs: extract (a CSV file → a Parquet file) completes, load (another CSV) fails. */
    record Pipeline(UUID dag, String name, String extracted, String staged, String rejected, String error,
                    List<OpenLineage.RunEvent> events) {

        static Pipeline of(String tag) {
            UUID dag = UUID.randomUUID();
            UUID extract = UUID.randomUUID();
            UUID load = UUID.randomUUID();
            String name = "nightly_" + tag;
            String error = "column amount is missing (" + tag + ")";
            ZonedDateTime t0 = ZonedDateTime.parse("2026-12-01T09:00:00Z");
            var orders = OL.newInputDataset("s3://landing", "in/" + tag + "/orders.csv", null, null);
            var refunds = OL.newInputDataset("s3://landing", "in/" + tag + "/refunds.csv", null, null);
            var staged = OL.newOutputDataset("s3://staging", tag + "/orders.parquet", null, null);
            var mart = OL.newOutputDataset("postgres://warehouse:5432", "dw.mart.refunds_" + tag, null, null);
            List<OpenLineage.RunEvent> events = List.of(
                    event(EventType.START, t0, dag, null, name, List.of(), List.of(), null),
                    event(EventType.START, t0.plusMinutes(1), extract, dag, "extract", List.of(orders), List.of(staged), null),
                    event(EventType.COMPLETE, t0.plusMinutes(2), extract, dag, "extract", List.of(orders), List.of(staged), null),
                    event(EventType.START, t0.plusMinutes(3), load, dag, "load", List.of(refunds), List.of(mart), null),
                    event(EventType.FAIL, t0.plusMinutes(4), load, dag, "load", List.of(refunds), List.of(mart), error),
                    event(EventType.FAIL, t0.plusMinutes(5), dag, null, name, List.of(), List.of(), null));
            return new Pipeline(dag, name, "s3://landing/in/" + tag + "/orders.csv", "s3://staging/" + tag + "/orders.parquet",
                    "s3://landing/in/" + tag + "/refunds.csv", error, events);
        }

        private static OpenLineage.RunEvent event(EventType type, ZonedDateTime at, UUID run, UUID parent, String job,
                                                  List<OpenLineage.InputDataset> in,
                                                  List<OpenLineage.OutputDataset> out, String error) {
            OpenLineage.RunFacetsBuilder facets = OL.newRunFacetsBuilder();
            if (parent != null) {
                facets.parent(OL.newParentRunFacet(OL.newParentRunFacetRun(parent, null),
                        OL.newParentRunFacetJob("java-it", "nightly", null), null));
            }
            if (error != null) {
                facets.errorMessage(OL.newErrorMessageRunFacet(error, "java", null));
            }
            return OL.newRunEventBuilder().eventType(type).eventTime(at).run(OL.newRun(run, facets.build()))
                    .job(OL.newJob("java-it", job, null)).inputs(in).outputs(out).build();
        }

        String trace() {
            return dag.toString();
        }

        List<String> json() {
            return events.stream().map(OpenLineageClientUtils::toJson).toList();
        }

        /** The trace as it must read once every event is in. */
        void assertArrived(FileTelemetryClient reader) {
            Trace trace = ItSupport.waitFor(() -> reader.trace(trace()), t -> "ended".equals(t.status()), PATIENCE);
            assertEquals("ended", trace.status(), "the root run's FAIL ends the trace");
            assertEquals(name, trace.name());
            assertEquals("java-it", trace.user());
            assertEquals(Map.of(error, 1), trace.summary().dropReasons());
            TraceGraph graph = ItSupport.waitFor(() -> reader.traceGraph(trace()),
                    g -> !g.edges().isEmpty() && g.nodes().stream().anyMatch(GraphNode::droppedHere), PATIENCE);
            assertEquals(List.of(new GraphEdge(extracted, staged, "extract")), graph.edges(),
                    "the completed job is an edge; the failed one made none");
            Map<String, GraphNode> nodes = graph.nodes().stream()
                    .collect(Collectors.toMap(GraphNode::key, n -> n));
            assertEquals("file", nodes.get(extracted).kind());
            GraphNode failed = nodes.get(rejected);
            assertEquals("file", failed.kind());
            assertEquals("dropped", failed.status());
            assertTrue(failed.droppedHere());
            assertEquals(error, failed.dropReason());
        }
    }

    private static String tag() {
        return Keys.newKey().substring(24).replace("-", "");
    }

    @Test
    void aPipelineWithAFailingJobSentThroughTheClientReadsBackAsATrace() {
        Pipeline p = Pipeline.of(tag());
        IngestResult sent = client.sendOpenLineageAndWaitForGraph(p.json());
        assertEquals(List.of(), sent.rejected(), sent.toString());
        assertTrue(sent.accepted() > p.events().size(), "each RunEvent becomes a few envelopes: " + sent);
        p.assertArrived(client);

        IngestResult again = client.sendOpenLineage(p.json());
        assertEquals(0, again.accepted(), "the same RunEvents again store nothing: " + again);
        assertTrue(again.allAccepted(), again.toString());
    }

    @Test
    void oneRunEventAloneIsAcceptedOrRefusedWithTheServersReason() {
        Pipeline p = Pipeline.of(tag());
        IngestResult one = client.sendOpenLineage(p.json().get(0));
        assertTrue(one.accepted() > 0 && one.allAccepted(), one.toString());

        String noRunId = p.json().get(0).replace(p.trace(), "not-a-uuid");
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> client.sendOpenLineage(noRunId));
        assertEquals(400, e.status());
        assertTrue(e.getMessage().contains("UUID"), e.getMessage());

        IngestResult batch = client.sendOpenLineage(List.of(p.json().get(1), noRunId));
        assertEquals(1, batch.rejected().size(), batch.toString());
        assertEquals(1, batch.rejected().get(0).index());
    }

    @Test
    void openLineageJavaConfiguredAsTheReadmeSaysDeliversToTheService(@TempDir Path dir) throws Exception {
        String base = ItSupport.property("ftel.baseUrl").replaceAll("/+$", "");
        Map<String, Object> account = AccountsHelper.createIngestAccount(base, ItSupport.property("ftel.clientId"),
                ItSupport.property("ftel.clientSecret"));
        Path config = Files.writeString(dir.resolve("openlineage.yml"), readmeYaml()
                .replace("http://127.0.0.1:8000", base)
                .replace("CLIENT_ID", (String) account.get("client_id"))
                .replace("CLIENT_SECRET", (String) account.get("client_secret")));
        Pipeline p = Pipeline.of(tag());
        OpenLineageClient lineage = Clients.newClient(() -> List.of(config)); // the README's Clients.newClient()
        try {
            for (OpenLineage.RunEvent event : p.events()) {
                lineage.emit(event); // throws on any answer but 2xx
            }
        } finally {
            lineage.close();
        }
        p.assertArrived(client);

        Path wrong = Files.writeString(dir.resolve("wrong.yml"), Files.readString(config)
                .replace((String) account.get("client_secret"), "not-the-secret"));
        OpenLineageClient refused = Clients.newClient(() -> List.of(wrong));
        try {
            assertThrows(OpenLineageClientException.class, () -> refused.emit(p.events().get(0)),
                    "a secret the service refuses fails the emit, it does not drop the event silently");
        } finally {
            refused.close();
        }
    }

    @Test
    void aTracesLineageComesBackAsRunEventsThatOpenLineageJavaReads() {
        Pipeline p = Pipeline.of(tag());
        assertTrue(client.sendOpenLineageAndWaitForGraph(p.json()).allAccepted());
        p.assertArrived(client);

        List<JsonNode> events = client.traceOpenLineage(p.trace());
        assertFalse(events.isEmpty());
        for (JsonNode e : events) {
            assertTrue(e.path("schemaURL").asText().startsWith("https://openlineage.io/spec/"), e.toString());
            OpenLineage.RunEvent parsed = OpenLineageClientUtils.runEventFromJson(e.toString());
            assertEquals(e.path("run").path("runId").asText(), parsed.getRun().getRunId().toString());
        }
        Set<List<String>> flows = events.stream()
                .filter(e -> e.path("eventType").asText().equals("COMPLETE") && e.path("inputs").size() > 0)
                .map(e -> List.of(datasets(e.path("inputs")), datasets(e.path("outputs")), e.path("job").path("name").asText()))
                .collect(Collectors.toSet());
        assertEquals(Set.of(List.of(p.extracted(), p.staged(), "extract")), flows);
        List<JsonNode> fails = events.stream()
                .filter(e -> e.path("eventType").asText().equals("FAIL") && e.path("inputs").size() > 0)
                .toList();
        assertEquals(1, fails.size(), events.toString());
        assertEquals(p.error(), fails.get(0).path("run").path("facets").path("errorMessage").path("message").asText());
        assertEquals(p.rejected(), datasets(fails.get(0).path("inputs")));
        // the pipeline's own run failed: it goes out FAIL, under the run id it was sent with
        List<String> root = events.stream()
                .filter(e -> e.path("run").path("runId").asText().equals(p.trace()))
                .map(e -> e.path("eventType").asText())
                .toList();
        assertEquals(List.of("START", "FAIL"), root, events.toString());
    }

    /** namespace/name of the datasets, joined by commas. */
    private static String datasets(JsonNode list) {
        return StreamSupport.stream(list.spliterator(), false)
                .map(d -> d.path("namespace").asText() + "/" + d.path("name").asText())
                .collect(Collectors.joining(","));
    }

    /** The openlineage.yml of the README's OpenLineage section, as written there. */
    private static String readmeYaml() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("## OpenLineage.*?```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has no yaml block in its OpenLineage section");
        return m.group(1);
    }
}
