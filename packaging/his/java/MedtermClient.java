// A desktop HIS calling the medterm agent on the same PC, in Java 17 with
// the JDK's own HTTP client and Gson for JSON: settle a bill for the card
// in the desk's reader or by ID number, retry a lost answer under the same
// idempotency key, and print the receipt. Build and run:
//
//   javac -cp /usr/share/java/gson.jar MedtermClient.java
//   java -cp /usr/share/java/gson.jar:. MedtermClient http://127.0.0.1:8961 /var/lib/medterm/api.token <ID number>
//
// Exit status: 0 settled, 1 not settled (the state is printed), 2 refused
// (the error code and what to tell the patient are printed).

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

public final class MedtermClient {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final Gson gson = new Gson();
    private final String base;
    private final String token;

    MedtermClient(String base, String token) {
        this.base = base;
        this.token = token;
    }

    /** A refusal of the agent: its stable code and what to tell the patient. */
    static final class Refused extends Exception {
        final String code;
        final String messageZh;

        Refused(String code, String messageZh, String messageEn) {
            super(code + ": " + messageEn);
            this.code = code;
            this.messageZh = messageZh;
        }
    }

    private JsonObject call(String method, String path, Object body, String key)
            throws IOException, InterruptedException, Refused {
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofMinutes(3)) // the agent decides a lost platform answer, not this timeout
                .header("Authorization", "Bearer " + token);
        if (key != null) {
            req.header("Idempotency-Key", key);
        }
        if (body != null) {
            req.header("Content-Type", "application/json; charset=utf-8")
                    .method(method, HttpRequest.BodyPublishers.ofString(gson.toJson(body), StandardCharsets.UTF_8));
        } else {
            req.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        JsonObject json = JsonParser.parseString(resp.body()).getAsJsonObject();
        if (resp.statusCode() >= 400) {
            JsonObject e = json.getAsJsonObject("error");
            throw new Refused(e.get("code").getAsString(), e.get("message_zh").getAsString(), e.get("message_en").getAsString());
        }
        return json;
    }

    /**
     * Settles a bill. A lost answer (a timeout, the agent restarting) is
     * retried under the same key: it is the same settlement, never a
     * second charge.
     */
    JsonObject settle(String key, Map<String, Object> bill) throws InterruptedException, Refused, IOException {
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                return call("POST", "/v1/settlements", bill, key);
            } catch (IOException e) {
                last = e;
                Thread.sleep(1000L << attempt);
            }
        }
        throw last;
    }

    String receipt(String id) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/settlements/" + id + "/receipt?format=text"))
                .header("Authorization", "Bearer " + token).build();
        return http.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: MedtermClient AGENT-URL TOKEN-FILE ID-NUMBER|card");
            System.exit(64);
        }
        String token = Files.readString(Path.of(args[1])).trim();
        MedtermClient c = new MedtermClient(args[0], token);
        Map<String, Object> identity = args[2].equals("card")
                ? Map.of("card_reader", "desk")
                : Map.of("cert_type", "02", "cert_no", args[2]);
        String visit = "MZ" + System.currentTimeMillis();
        Map<String, Object> bill = Map.of(
                "identity", identity,
                "operator", Map.of("id", "D017", "type", "1"),
                "bill", Map.of("visit_no", visit, "dept_code", "A03", "doctor_id", "D017",
                        "items", List.of(Map.of("code", "110200001", "class", "01", "quantity", 1,
                                "unit_price_fen", 5000, "amount_fen", 5000))));
        try {
            JsonObject st = c.settle("HIS-JAVA-" + visit, bill);
            String state = st.get("state").getAsString();
            System.out.println("settlement " + st.get("id").getAsString() + " " + state);
            if (!state.equals("settled")) {
                System.exit(1);
            }
            System.out.print(c.receipt(st.get("id").getAsString()));
        } catch (Refused r) {
            System.out.println("refused " + r.code + ": " + r.messageZh);
            System.exit(2);
        }
    }
}
