package io.filetelemetry.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.function.Supplier;

/** Integration tests talk to a real server named by -Dftel.baseUrl, -Dftel.clientId, -Dftel.clientSecret. */
final class ItSupport {
    private ItSupport() {
    }

    static String property(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            fail("system property " + name + " is not set: integration tests need a running server, e.g. "
                    + "mvn -B verify -Dftel.baseUrl=http://127.0.0.1:8000 -Dftel.clientId=ID -Dftel.clientSecret=SECRET "
                    + "(make test does this through tests/e2e/test_java_client.py); unit tests alone: mvn -B test");
        }
        return v;
    }

    static FileTelemetryClient client() {
        return FileTelemetryClient.builder()
                .baseUrl(property("ftel.baseUrl"))
                .credentials(property("ftel.clientId"), property("ftel.clientSecret"))
                .requestTimeout(Duration.ofSeconds(60))
                .build();
    }

    /** Poll until the value satisfies the check (work the server does in the background), else the last value. */
    static <T> T waitFor(Supplier<T> read, java.util.function.Predicate<T> done, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        T value;
        while (true) {
            try {
                value = read.get();
                if (done.test(value) || System.nanoTime() > deadline) {
                    return value;
                }
            } catch (NotFoundException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
