package io.filetelemetry.client;

/**
 * A stream channel opened for one user id (§8 of the design): write events to {@code streamKey} at {@code endpoint}.
 *
 * @param id           public id (for {@code unsubscribe})
 * @param userId       the app's user id (issued by the server when none was given)
 * @param userName     optional display name
 * @param streamKey    Redis: the stream to XADD into; Kafka: the message key
 * @param transport    {@code redis} or {@code kafka}
 * @param endpoint     a {@code redis://} URL or Kafka bootstrap servers; as returned by {@code subscribe}, the
 *                     Redis URL may carry the subscription's own user and password (shown by the server once)
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

    /** The fields, with any password in the endpoint left out (this text ends up in logs). */
    @Override
    public String toString() {
        String shown = endpoint == null ? null : endpoint.replaceFirst("^(\\w+://[^:/@]*):[^@/]*@", "$1:***@");
        return "Subscription[id=" + id + ", userId=" + userId + ", userName=" + userName + ", streamKey=" + streamKey
                + ", transport=" + transport + ", endpoint=" + shown + ", topic=" + topic + ", createdAt=" + createdAt
                + ", deletedAt=" + deletedAt + ", deleteReason=" + deleteReason + "]";
    }
}
