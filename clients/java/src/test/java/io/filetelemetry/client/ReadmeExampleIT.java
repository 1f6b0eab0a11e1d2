package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The examples of the READMEs, as written there (keys made unique per run). */
class ReadmeExampleIT {

    @Test
    void oneFileTracedEndToEnd(@TempDir Path dir) throws Exception {
        String run = Keys.newKey().substring(24);
        Path orders = Files.writeString(dir.resolve("orders.csv"), "id,amount\n1,9.50\n2,12.00\n");
        String fileKey = "orders-" + run;
        String rows = "orders-rows-" + run;
        String table = "dwh.orders-" + run;
        try (FileTelemetryClient client = ItSupport.client()) {
            String trace = "nightly-" + run;
            client.send(Event.traceStarted(trace, "team-7").build());
            StoredFile in = client.upload(orders, UploadOptions.trace(trace).key(fileKey));
            client.send(
                Event.flow(trace, "parse").input(NodeRef.file(in.key())).output(NodeRef.data(rows)).build(),
                Event.flow(trace, "load").input(NodeRef.data(rows)).output(NodeRef.sink(table)).build(),
                Event.traceEnded(trace).build());
            TraceSummary summary = ItSupport.waitFor(() -> client.trace(trace).summary(),
                    s -> s.outputs() == 1, Duration.ofSeconds(30));
            Lineage up = client.lineage(table, Lineage.Direction.UPSTREAM, 5);
            client.download(in.key(), dir.resolve("orders-copy.csv"));

            assertEquals(1, summary.files());
            assertEquals(1, summary.data());
            assertEquals(1, summary.outputs());
            assertEquals(0, summary.unconverted());
            Set<String> keys = new HashSet<>();
            up.nodes().forEach(n -> keys.add(n.key()));
            assertEquals(Set.of(table, rows, fileKey), keys);
            assertArrayEquals(Files.readString(orders).getBytes(StandardCharsets.UTF_8),
                    Files.readAllBytes(dir.resolve("orders-copy.csv")));
        }
    }

    @Test
    void keysThatArePaths(@TempDir Path dir) throws Exception {
        String run = Keys.newKey().substring(24);
        Path orders = Files.writeString(dir.resolve("orders.csv"), "id,amount\n1,9.50\n");
        String landing = "landing/partner-a/" + run + "/orders.csv";
        try (FileTelemetryClient client = ItSupport.client()) {
            String trace = "pipelines/daily orders/" + run;
            String file = "s3://bucket/in/" + run + "/orders.csv";
            client.send(
                Event.traceStarted(trace, "team-7").build(),
                Event.flow(trace, "parse").input(NodeRef.file(file)).output(NodeRef.data("rows/" + run)).build(),
                Event.fileDropped(trace, file, "schema validation failed").build());
            NodeDetail node = ItSupport.waitFor(() -> client.node(file), n -> true, Duration.ofSeconds(30));
            List<KeyHit> hits = client.search("s3://bucket/in/" + run + "/");
            StoredFile landed = client.upload(orders, UploadOptions.trace(trace).key(landing));
            client.download(landing, dir.resolve("orders-copy.csv"));
            TracePage failing = ItSupport.waitFor(
                    () -> client.traces(TraceQuery.builder().text(run).hasDrops(true).build()),
                    p -> p.total() == 1, Duration.ofSeconds(30));

            assertEquals(file, node.key());
            assertEquals(List.of(new KeyHit(file, "file")), hits);
            assertEquals(landing, landed.key());
            assertArrayEquals(Files.readAllBytes(orders), Files.readAllBytes(dir.resolve("orders-copy.csv")));
            assertEquals(List.of(trace), failing.items().stream().map(Trace::key).toList());
        }
    }
}
