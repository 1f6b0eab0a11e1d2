package io.filetelemetry.client;

import io.filetelemetry.client.internal.Json;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import redis.clients.jedis.JedisPooled;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;

/**
 * Writes events straight into a subscription's Redis stream (design §8): one entry per call, field
 * {@code event} (one JSON event) or {@code events} (a JSON array). The server consumes the stream, stores
 * each event once and merges the graph a moment later. Thread-safe (a Jedis connection pool).
 *
 * <p>Needs {@code redis.clients:jedis} on the class path (an optional dependency of this client).
 * <pre>{@code
 * Subscription sub = client.subscribe("team-7", "Team 7");
 * try (StreamTransport stream = StreamTransport.open(sub)) {
 *     stream.send(Event.traceStarted("B", "team-7").build());
 * }
 * }</pre>
 */
public final class StreamTransport implements AutoCloseable {
    private final JedisPooled redis;
    private final String streamKey;

    private StreamTransport(URI endpoint, String streamKey) {
        this.redis = new JedisPooled(endpoint);
        this.streamKey = streamKey;
    }

    /**
     * Connect to the subscription's {@code endpoint} (a {@code redis://} URL). Where the server manages Redis
     * ACLs, the endpoint of the {@link Subscription} returned by {@code subscribe} carries the subscription's own
     * Redis user and password ({@code redis://<user>:<password>@host:port/0}, allowed only XADD to its stream);
     * a subscription read back later has the user without the password: keep the first one.
     */
    public static StreamTransport open(Subscription subscription) {
        return open(subscription, URI.create(subscription.endpoint()));
    }

    /**
     * Connect to {@code endpoint} instead of the announced one (e.g. the endpoint with the password kept from
     * {@code subscribe}, or an address reachable from here).
     */
    public static StreamTransport open(Subscription subscription, URI endpoint) {
        if (!"redis".equals(subscription.transport())) {
            throw new IllegalArgumentException("subscription " + subscription.id() + " uses "
                    + subscription.transport() + ", not redis");
        }
        if (!subscription.isLive()) {
            throw new IllegalArgumentException("subscription " + subscription.id() + " is closed");
        }
        return new StreamTransport(Objects.requireNonNull(endpoint, "endpoint"), subscription.streamKey());
    }

    /** The stream written to. */
    public String streamKey() {
        return streamKey;
    }

    /** XADD one event (field {@code event}); returns the entry id. */
    public String send(Event event) {
        return xadd("event", event.toJson());
    }

    /** XADD several events as one entry (field {@code events}); returns the entry id. */
    public String send(List<Event> events) {
        if (events.isEmpty()) {
            throw new IllegalArgumentException("no events");
        }
        return xadd("events", Json.write(events.stream().map(Event::toMap).toList()));
    }

    private String xadd(String field, String json) {
        try {
            StreamEntryID id = redis.xadd(streamKey, XAddParams.xAddParams(), Map.of(field, json));
            return id.toString();
        } catch (RuntimeException e) {
            throw new TransportException("XADD to " + streamKey + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        redis.close();
    }
}
