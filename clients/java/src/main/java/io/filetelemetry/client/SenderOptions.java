package io.filetelemetry.client;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of an {@link AsyncSender}: buffer size, batching by count and time, retries. Defaults: buffer
 * 10,000 events, batches of up to 500 events or 200 ms, 6 attempts with backoff 200 ms doubling to 10 s.
 */
public final class SenderOptions {
    final int bufferCapacity;
    final int maxBatchSize;
    final Duration linger;
    final int maxAttempts;
    final Duration initialBackoff;
    final Duration maxBackoff;
    final Duration enqueueTimeout;
    final SendListener listener;

    private SenderOptions(Builder b) {
        this.bufferCapacity = b.bufferCapacity;
        this.maxBatchSize = b.maxBatchSize;
        this.linger = b.linger;
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.enqueueTimeout = b.enqueueTimeout;
        this.listener = b.listener;
    }

    /** All defaults, no listener. */
    public static SenderOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public int bufferCapacity() {
        return bufferCapacity;
    }

    public int maxBatchSize() {
        return maxBatchSize;
    }

    public Duration linger() {
        return linger;
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    public Duration initialBackoff() {
        return initialBackoff;
    }

    public Duration maxBackoff() {
        return maxBackoff;
    }

    public Duration enqueueTimeout() {
        return enqueueTimeout;
    }

    public SendListener listener() {
        return listener;
    }

    /** Builder of {@link SenderOptions}. */
    public static final class Builder {
        private int bufferCapacity = 10_000;
        private int maxBatchSize = 500;
        private Duration linger = Duration.ofMillis(200);
        private int maxAttempts = 6;
        private Duration initialBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(10);
        private Duration enqueueTimeout = Duration.ofSeconds(10);
        private SendListener listener = new SendListener() { };

        private Builder() {
        }

        /** Events held at most; {@link AsyncSender#send} waits for room up to {@link #enqueueTimeout}. */
        public Builder bufferCapacity(int events) {
            this.bufferCapacity = positive(events, "bufferCapacity");
            return this;
        }

        /** A batch is sent once it holds this many events (server limit: 10,000 per request by default). */
        public Builder maxBatchSize(int events) {
            this.maxBatchSize = positive(events, "maxBatchSize");
            return this;
        }

        /** ... or once its first event waited this long. */
        public Builder linger(Duration linger) {
            this.linger = Objects.requireNonNull(linger, "linger");
            return this;
        }

        /** Attempts per batch on 5xx and network errors (1 = no retry). */
        public Builder maxAttempts(int attempts) {
            this.maxAttempts = positive(attempts, "maxAttempts");
            return this;
        }

        /** First retry delay (doubled per attempt, with jitter) and its cap. */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = Objects.requireNonNull(initial, "initial");
            this.maxBackoff = Objects.requireNonNull(max, "max");
            return this;
        }

        /** How long {@link AsyncSender#send} waits for room in a full buffer before throwing. */
        public Builder enqueueTimeout(Duration timeout) {
            this.enqueueTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Told about rejections and failures. */
        public Builder listener(SendListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        public SenderOptions build() {
            return new SenderOptions(this);
        }

        private static int positive(int v, String name) {
            if (v <= 0) {
                throw new IllegalArgumentException(name + " must be positive");
            }
            return v;
        }
    }
}
