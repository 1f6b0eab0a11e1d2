package io.filetelemetry.client;

/**
 * A stream channel opened for one user id (§8 of the design): write events to {@code streamKey} at {@code endpoint}.
 *
 * @param id           public id (for {@code unsubscribe})
 * @param userId       the app's user id (issued by the server when none was given)
 * @param userName     optional display name
 * @param streamKey    Redis: the stream to XADD into; Kafka: the message key
 * @param transport    {@code redis} or {@code kafka}
 * @param endpoint     a {@code redis://} URL or Kafka bootstrap servers
 * @param topic        Kafka only: the topic
 * @param createdAt    RFC 3339 time
 * @param deletedAt    RFC 3339 time when closed, else null
 * @param deleteReason {@code unsubscribed} or {@code idle} when closed, else null
 */
public record Subscription(String id, String userId, String userName, String streamKey, String transport,
                           String endpoint, String topic, String createdAt, String deletedAt, String deleteReason) {

    /** True while the server consumes it. */
    public boolean isLive() {
        return deletedAt == null;
    }
}
