package io.filetelemetry.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

/** A local HTTP server (the JDK's) standing in for file-telemetry in unit tests: scripted answers, recorded requests. */
final class StubServer implements AutoCloseable {

    /** One request as the stub saw it. */
    record Seen(String method, String path, String query, Map<String, List<String>> headers, byte[] body) {
        String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** A scripted answer. */
    record Answer(int status, byte[] body, Map<String, String> headers) {
        static Answer json(int status, String json) {
            return new Answer(status, json.getBytes(StandardCharsets.UTF_8), Map.of("Content-Type", "application/json"));
        }

        static Answer error(int status, String code, String message) {
            return json(status, "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message
                    + "\",\"details\":{\"why\":\"test\"}}}");
        }
    }

    /** Decides the answer to a request. */
    interface Route {
        Answer answer(Seen request) throws Exception;
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private final Map<String, Route> routes = new ConcurrentHashMap<>();
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    final AtomicInteger tokens = new AtomicInteger();

    StubServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
        route("POST /api/v1/auth/token", r -> Answer.json(200, "{\"access_token\":\"tok-" + tokens.incrementAndGet()
                + "\",\"token_type\":\"bearer\",\"expires_in\":900}"));
    }

    String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    FileTelemetryClient client() {
        return FileTelemetryClient.create(base(), "id", "secret");
    }

    /** Answer "METHOD /path" (no query) with this route. */
    StubServer route(String methodAndPath, Route route) {
        routes.put(methodAndPath, route);
        return this;
    }

    List<Seen> seen(String methodAndPath) {
        return seen.stream().filter(s -> (s.method() + " " + s.path()).equals(methodAndPath)).toList();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readAllBytes();
            }
            Seen s = new Seen(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
                    Map.copyOf(ex.getRequestHeaders().entrySet().stream().filter(e -> e.getKey() != null)
                            .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))), body);
            seen.add(s);
            Route route = routes.get(s.method() + " " + s.path());
            Answer a;
            try {
                a = route == null ? Answer.error(404, "not_found", "no route " + s.path()) : route.answer(s);
            } catch (Exception e) {
                a = Answer.error(500, "internal", String.valueOf(e));
            }
            a.headers().forEach((k, v) -> {
                if (!k.equals("X-Stub-Length")) {
                    ex.getResponseHeaders().add(k, v);
                }
            });
            long length = Long.parseLong(a.headers().getOrDefault("X-Stub-Length", String.valueOf(a.body().length)));
            ex.sendResponseHeaders(a.status(), length == 0 ? -1 : length);
            if (a.body().length > 0) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(a.body());
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
