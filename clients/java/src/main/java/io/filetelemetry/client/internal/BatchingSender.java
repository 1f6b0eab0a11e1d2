package io.filetelemetry.client.internal;

import io.filetelemetry.client.AsyncSender;
import io.filetelemetry.client.Event;
import io.filetelemetry.client.FileTelemetryException;
import io.filetelemetry.client.IngestResult;
import io.filetelemetry.client.PayloadTooLargeException;
import io.filetelemetry.client.SendListener;
import io.filetelemetry.client.SenderOptions;
import io.filetelemetry.client.ServerException;
import io.filetelemetry.client.TransportException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** {@link AsyncSender} on one daemon thread: gather a batch (count or linger), send it, retry, report. */
public final class BatchingSender implements AsyncSender {
    private static final long POLL_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final SenderOptions options;
    private final SendListener listener;
    private final Function<List<Event>, IngestResult> sendBatch;
    private final Runnable onClose;
    private final BlockingQueue<Event> queue;
    private final Thread worker;
    private final Object lock = new Object();
    private long pending; // queued + in flight, guarded by lock
    private int flushers; // threads waiting in flush(), guarded by lock
    private volatile boolean closed;
    private volatile boolean stopping;

    public BatchingSender(SenderOptions options, Function<List<Event>, IngestResult> sendBatch, Runnable onClose) {
        this.options = options;
        this.listener = options.listener();
        this.sendBatch = sendBatch;
        this.onClose = onClose;
        this.queue = new ArrayBlockingQueue<>(options.bufferCapacity());
        this.worker = new Thread(this::run, "ftel-async-sender");
        this.worker.setDaemon(true);
        this.worker.start();
    }

    @Override
    public void send(Event event) {
        if (closed) {
            throw new IllegalStateException("the sender is closed");
        }
        synchronized (lock) {
            pending++;
        }
        boolean queued;
        try {
            queued = queue.offer(event, options.enqueueTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            queued = false;
        }
        if (!queued) {
            done(1);
            throw new FileTelemetryException(0, "buffer_full", "the send buffer (" + options.bufferCapacity()
                    + " events) stayed full for " + options.enqueueTimeout(), null, null);
        }
    }

    @Override
    public boolean flush(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            flushers++;
            try {
                while (pending > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                }
                return true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } finally {
                flushers--;
            }
        }
    }

    @Override
    public long pending() {
        synchronized (lock) {
            return pending;
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        flush(Duration.ofSeconds(60));
        stopping = true;
        worker.interrupt();
        try {
            worker.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Event> left = new ArrayList<>();
        queue.drainTo(left);
        if (!left.isEmpty()) {
            done(left.size());
            safely(() -> listener.onFailed(left, new FileTelemetryException("sender closed before these were sent", null)));
        }
        onClose.run();
    }

    private boolean flushWanted() {
        synchronized (lock) {
            return flushers > 0 || closed;
        }
    }

    private void done(int n) {
        synchronized (lock) {
            pending -= n;
            lock.notifyAll();
        }
    }

    private void run() {
        List<Event> batch = new ArrayList<>();
        while (!stopping) {
            try {
                Event first = queue.poll(POLL_SLICE_NANOS * 5, TimeUnit.NANOSECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                long deadline = System.nanoTime() + options.linger().toNanos();
                while (batch.size() < options.maxBatchSize()) {
                    queue.drainTo(batch, options.maxBatchSize() - batch.size());
                    long left = deadline - System.nanoTime();
                    if (batch.size() >= options.maxBatchSize() || left <= 0 || (flushWanted() && queue.isEmpty())) {
                        break;
                    }
                    Event next = queue.poll(Math.min(left, POLL_SLICE_NANOS), TimeUnit.NANOSECONDS);
                    if (next != null) {
                        batch.add(next);
                    }
                }
            } catch (InterruptedException e) {
                if (stopping) {
                    break;
                }
                continue;
            }
            List<Event> toSend = List.copyOf(batch);
            batch.clear();
            try {
                deliver(toSend);
            } finally {
                done(toSend.size());
            }
        }
        if (!batch.isEmpty()) {
            List<Event> left = List.copyOf(batch);
            done(left.size());
            safely(() -> listener.onFailed(left, new FileTelemetryException("sender closed before these were sent", null)));
        }
    }

    /** One batch with retries; a 413 splits it in halves. */
    private void deliver(List<Event> batch) {
        long backoff = options.initialBackoff().toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                IngestResult result = sendBatch.apply(batch);
                safely(() -> listener.onSent(batch, result));
                for (IngestResult.Rejection r : result.rejected()) {
                    if (r.index() >= 0 && r.index() < batch.size()) {
                        safely(() -> listener.onRejected(batch.get(r.index()), r.error()));
                    }
                }
                return;
            } catch (PayloadTooLargeException e) {
                if (batch.size() > 1) {
                    int half = batch.size() / 2;
                    deliver(batch.subList(0, half));
                    deliver(batch.subList(half, batch.size()));
                } else {
                    safely(() -> listener.onFailed(batch, e));
                }
                return;
            } catch (ServerException | TransportException e) {
                if (attempt >= options.maxAttempts() || stopping) {
                    safely(() -> listener.onFailed(batch, e));
                    return;
                }
                long sleep = Math.min(backoff, options.maxBackoff().toMillis());
                sleep = sleep / 2 + ThreadLocalRandom.current().nextLong(sleep / 2 + 1);
                backoff = Math.min(backoff * 2, options.maxBackoff().toMillis());
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException ie) {
                    if (stopping) {
                        safely(() -> listener.onFailed(batch, e));
                        return;
                    }
                }
            } catch (FileTelemetryException e) {
                safely(() -> listener.onFailed(batch, e));
                return;
            } catch (RuntimeException e) {
                safely(() -> listener.onFailed(batch, new FileTelemetryException("sending failed: " + e, e)));
                return;
            }
        }
    }

    private static void safely(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException ignored) {
            // a listener's failure must not stop the sender
        }
    }
}
