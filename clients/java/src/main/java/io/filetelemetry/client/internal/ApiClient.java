package io.filetelemetry.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.filetelemetry.client.AuthenticationException;
import io.filetelemetry.client.TransportException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * HTTP to {@code /api/v1}: bearer token fetched on first use and refreshed before it expires and once on
 * a 401; error answers turned into typed exceptions. Thread-safe.
 */
public final class ApiClient {
    /** Refresh this long before the token's stated expiry (or a fifth of its lifetime, if shorter). */
    static final Duration REFRESH_MARGIN = Duration.ofSeconds(60);

    private final URI api;
    private final String clientId;
    private final String clientSecret;
    private final Duration requestTimeout;
    private final HttpClient http;
    private final Clock clock;
    private final ReentrantLock tokenLock = new ReentrantLock();
    private volatile Token token; // null until fetched, and after a 401

    /** A bearer token and when to replace it; one immutable value so readers never see half an update. */
    private record Token(String value, Instant refreshAt) {
    }

    public ApiClient(URI baseUrl, String clientId, String clientSecret, Duration connectTimeout,
                     Duration requestTimeout, Clock clock) {
        String base = baseUrl.toString().replaceAll("/+$", "");
        this.api = URI.create(base.endsWith("/api/v1") ? base + "/" : base + "/api/v1/");
        this.clientId = Objects.requireNonNull(clientId, "clientId");
        this.clientSecret = Objects.requireNonNull(clientSecret, "clientSecret");
        this.requestTimeout = requestTimeout;
        this.clock = clock;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    /** A request for a body-less or JSON call: path relative to /api/v1/, query params may be null. */
    public HttpRequest.Builder request(String path, Map<String, String> query) {
        return HttpRequest.newBuilder(uri(path, query)).timeout(requestTimeout).header("Accept", "application/json");
    }

    /** A request with no timeout on the whole exchange (uploads and downloads of any size). */
    public HttpRequest.Builder streamingRequest(String path, Map<String, String> query) {
        return HttpRequest.newBuilder(uri(path, query));
    }

    public URI uri(String path, Map<String, String> query) {
        StringJoiner q = new StringJoiner("&", "?", "");
        q.setEmptyValue("");
        if (query != null) {
            query.forEach((k, v) -> {
                if (v != null) {
                    q.add(enc(k) + "=" + enc(v));
                }
            });
        }
        return api.resolve(path + q);
    }

    /** Path segment encoding of a key (keys may hold spaces, '#', '?'...). */
    public static String seg(String key) {
        return enc(key).replace("+", "%20");
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** JSON call; returns the parsed body (null for an empty one). {@code what} names the call in errors. */
    public JsonNode json(String what, Function<String, HttpRequest> build) {
        HttpResponse<byte[]> r = send(what, build, HttpResponse.BodyHandlers.ofByteArray(), true);
        byte[] body = r.body();
        if (r.statusCode() >= 300) {
            throw Errors.fromResponse(r.statusCode(), body, what);
        }
        return body.length == 0 ? null : Json.tree(body);
    }

    /**
     * A call whose answer is streamed; the caller owns (and must close) the returned body on success.
     * {@code replayable} false: the request body can be sent once only (no retry after a 401).
     */
    public HttpResponse<InputStream> stream(String what, Function<String, HttpRequest> build, boolean replayable) {
        HttpResponse<InputStream> r = send(what, build, HttpResponse.BodyHandlers.ofInputStream(), replayable);
        if (r.statusCode() >= 300) {
            byte[] body;
            try (InputStream in = r.body()) {
                body = in.readNBytes(64 * 1024);
            } catch (IOException e) {
                body = new byte[0];
            }
            throw Errors.fromResponse(r.statusCode(), body, what);
        }
        return r;
    }

    private <T> HttpResponse<T> send(String what, Function<String, HttpRequest> build,
                                     HttpResponse.BodyHandler<T> handler, boolean replayable) {
        String used = token();
        HttpResponse<T> r = exchange(what, build.apply(used), handler);
        if (r.statusCode() == 401 && replayable) {
            discard(r);
            invalidate(used);
            r = exchange(what, build.apply(token()), handler);
        }
        return r;
    }

    private static void discard(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // nothing to do: the answer is thrown away
            }
        }
    }

    private <T> HttpResponse<T> exchange(String what, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw new TransportException(what + ": " + describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException(what + ": interrupted", e);
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : " " + m);
    }

    /** The current token, fetched or refreshed when due. */
    public String token() {
        Token t = token;
        if (t != null && clock.instant().isBefore(t.refreshAt())) {
            return t.value();
        }
        tokenLock.lock();
        try {
            t = token;
            if (t == null || !clock.instant().isBefore(t.refreshAt())) {
                t = fetchToken();
                token = t;
            }
            return t.value();
        } finally {
            tokenLock.unlock();
        }
    }

    /** Forget {@code rejected} (after a 401) so the next call fetches a new token; a newer one is kept. */
    private void invalidate(String rejected) {
        tokenLock.lock();
        try {
            Token t = token;
            if (t != null && t.value().equals(rejected)) {
                token = null;
            }
        } finally {
            tokenLock.unlock();
        }
    }

    private Token fetchToken() {
        byte[] body = Json.writeBytes(Map.of("client_id", clientId, "client_secret", clientSecret));
        HttpRequest request = HttpRequest.newBuilder(api.resolve("auth/token")).timeout(requestTimeout)
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        Instant asked = clock.instant();
        HttpResponse<byte[]> r = exchange("token", request, HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
            throw Errors.fromResponse(r.statusCode(), r.body(), "token for " + clientId);
        }
        JsonNode t = Json.tree(r.body());
        String access = t.path("access_token").asText(null);
        if (access == null) {
            throw new AuthenticationException(r.statusCode(), "no_token", "token answer without access_token", null);
        }
        long life = Math.max(1, t.path("expires_in").asLong(300));
        Duration margin = Duration.ofSeconds(Math.min(REFRESH_MARGIN.getSeconds(), life / 5));
        return new Token(access, asked.plusSeconds(life).minus(margin));
    }
}
