package io.filetelemetry.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * Result of a read-only Cypher query ({@code POST /graph/query}).
 *
 * @param columns  column names
 * @param rows     rows, each a JSON array in column order
 * @param truncated the server's row limit cut the result
 * @param rowLimit that limit
 */
public record QueryResult(List<String> columns, List<JsonNode> rows, boolean truncated, int rowLimit) {

    public QueryResult {
        columns = columns == null ? List.of() : List.copyOf(columns);
        rows = rows == null ? List.of() : List.copyOf(rows);
    }
}
