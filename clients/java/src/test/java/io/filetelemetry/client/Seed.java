package io.filetelemetry.client;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** The seed scenario of backend/demo.py, with node keys prefixed so runs never share nodes (keys are global). */
final class Seed {
    final String trace;
    final String prefix;
    final String user;

    Seed(String label) {
        String run = Keys.newKey().substring(24); // the random tail of a UUIDv7
        this.trace = "java-" + label + "-" + run;
        this.prefix = "j" + label + run + "-";
        this.user = "java-it-" + label;
    }

    String key(String node) {
        return prefix + node;
    }

    NodeRef file(String node) {
        return NodeRef.file(key(node));
    }

    NodeRef data(String node) {
        return NodeRef.data(key(node));
    }

    /** File1 and File2 dropped with reasons; File3 → data1..3; data1 → data4; data2 → data5 → File4; data3 → data6. */
    List<Event> events() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        List<Event.Builder> steps = new ArrayList<>();
        steps.add(Event.traceStarted(trace, user).attr("name", "seed scenario: nightly import"));
        for (String f : List.of("File1", "File2", "File3")) {
            steps.add(Event.fileReceived(trace, key(f)).name(f.toLowerCase() + ".csv").attr("source", "sftp"));
            steps.add(Event.fileStored(trace, key(f)).attr("codec", "zstd"));
        }
        steps.add(Event.log(trace, Event.Level.WARN, "header row missing; cannot map columns").node(file("File1")));
        steps.add(Event.fileDropped(trace, key("File1"), "header row missing (see log)").code("E_HEADER"));
        steps.add(Event.log(trace, Event.Level.ERROR, "checksum mismatch against manifest").node(file("File2")));
        steps.add(Event.fileDropped(trace, key("File2"), "checksum mismatch (see log)").code("E_CHECKSUM"));
        steps.add(Event.flow(trace, "parse").input(file("File3")).outputs(data("data1"), data("data2"), data("data3")));
        steps.add(Event.log(data("data1"), Event.Level.INFO, "parsed 120 rows"));
        steps.add(Event.flow(trace, "enrich").input(data("data1")).output(data("data4")));
        steps.add(Event.flow(trace, "aggregate").input(data("data2")).output(data("data5")));
        steps.add(Event.log(trace, Event.Level.DEBUG, "aggregated by customer").node(data("data5")));
        steps.add(Event.flow(trace, "write").input(data("data5")).output(file("File4").named("report.parquet")));
        steps.add(Event.flow(trace, "normalize").input(data("data3")).output(data("data6")));
        steps.add(Event.log(trace, Event.Level.INFO, "nightly import finished"));
        steps.add(Event.traceEnded(trace));
        List<Event> out = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            out.add(steps.get(i).time(t0.plusSeconds(i)).build());
        }
        return out;
    }
}
