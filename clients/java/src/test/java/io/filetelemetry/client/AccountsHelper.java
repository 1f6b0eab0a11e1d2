package io.filetelemetry.client;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

/** Admin calls the client does not offer (accounts), for tests only. */
final class AccountsHelper {
    private static final ObjectMapper JSON = new ObjectMapper();

    private AccountsHelper() {
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> createIngestAccount(String base, String adminId, String adminSecret) {
        try {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> token = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/auth/token"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(
                            Map.of("client_id", adminId, "client_secret", adminSecret)))).build(),
                    HttpResponse.BodyHandlers.ofString());
            String access = (String) JSON.readValue(token.body(), Map.class).get("access_token");
            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/accounts"))
                    .header("Content-Type", "application/json").header("Authorization", "Bearer " + access)
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(
                            Map.of("name", "java-it-ingest", "kind", "system", "roles", java.util.List.of("ingest")))))
                    .build(), HttpResponse.BodyHandlers.ofString());
            if (created.statusCode() != 201) {
                throw new IllegalStateException("creating an account: " + created.statusCode() + " " + created.body());
            }
            return JSON.readValue(created.body(), Map.class);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
