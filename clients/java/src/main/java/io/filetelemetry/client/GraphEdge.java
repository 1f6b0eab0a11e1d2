package io.filetelemetry.client;

/**
 * A {@code FLOWS_TO} edge: {@code source} became {@code target} by {@code op}.
 *
 * @param source input node key
 * @param target output node key
 * @param op     operation name (parse, enrich, write...), may be null
 */
public record GraphEdge(String source, String target, String op) {
}
