package io.filetelemetry.client;

/**
 * A file kept by the server ({@code POST /files} answer, {@code GET /files/{key}}).
 *
 * @param key        file key, also its node key in the lineage
 * @param group      storage group (downloadable as one archive)
 * @param trace      trace the file belongs to
 * @param size       original size in bytes
 * @param storedSize compressed size in bytes
 * @param codec      {@code zstd} or {@code gzip}
 * @param sha256     hex sha256 of the original bytes
 * @param filename   file name given at upload
 * @param storedAt   RFC 3339 upload time
 * @param state      {@code stored}, or {@code expired} after retention
 */
public record StoredFile(String key, String group, String trace, long size, long storedSize, String codec,
                         String sha256, String filename, String storedAt, String state) {
}
