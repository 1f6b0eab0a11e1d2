package io.filetelemetry.client;

import java.security.SecureRandom;
import java.util.UUID;

/** Trace and node keys: generation (UUIDv7 text, like the server) and the server's validity rules. */
public final class Keys {
    /** Longest key the server accepts. */
    public static final int MAX_LENGTH = 512;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static long lastMillis;
    private static long sequence;

    private Keys() {
    }

    /** A new key for a trace or node when the caller has none: a UUIDv7, time-ordered. */
    public static String newKey() {
        return newUuidV7().toString();
    }

    /** A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 12-bit counter, variant, 62 random bits. */
    public static UUID newUuidV7() {
        long millis;
        long seq;
        synchronized (Keys.class) {
            millis = System.currentTimeMillis();
            if (millis <= lastMillis) {
                millis = lastMillis;
                sequence++;
                if (sequence > 0xFFF) { // counter exhausted in this millisecond: borrow the next one
                    millis = ++lastMillis;
                    sequence = 0;
                }
            } else {
                lastMillis = millis;
                sequence = RANDOM.nextInt(0x800); // random start keeps room for the counter
            }
            seq = sequence;
        }
        long msb = (millis << 16) | 0x7000L | seq;
        long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(msb, lsb);
    }

    /** Throws {@link IllegalArgumentException} for a key the server would refuse (empty, too long, control chars). */
    public static String check(String key, String what) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty");
        }
        if (key.length() > MAX_LENGTH) {
            throw new IllegalArgumentException(what + " longer than " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < key.length(); i++) {
            if (Character.isISOControl(key.charAt(i))) {
                throw new IllegalArgumentException(what + " contains a control character");
            }
        }
        return key;
    }
}
