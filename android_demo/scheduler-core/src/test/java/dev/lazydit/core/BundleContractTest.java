package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.Before;
import org.junit.Test;

/**
 * The shared bundle contract (tests/contract/bundle_cases.json), which the Python runtime, the native
 * runner and the Swift core run too: every bundle to refuse throws a one-line BundleException with one
 * of the case's words, every bundle to accept opens with every checksum verified.
 *
 * <p>Each case prints one {@code CONTRACT} line, so that tests/test_android_core.py can check that
 * every case of the index ran here. Disagreements are collected and reported together: one run shows
 * every case this port gets wrong, not only the first.
 */
public class BundleContractTest {
    private final List<JsonObject> refuse = new ArrayList<>();
    private final List<JsonObject> accept = new ArrayList<>();

    @Before
    public void readIndex() throws IOException {
        File index = TestData.contractIndex();
        JsonObject root = JsonParser.parseString(new String(Files.readAllBytes(index.toPath()), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals("lazydit-bundle-contract-index/1", root.get("format").getAsString());
        for (JsonElement e : root.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            String expect = c.get("expect").getAsString();
            if (expect.equals("refuse")) {
                refuse.add(c);
            } else if (expect.equals("accept")) {
                accept.add(c);
            } else {
                fail("case " + c.get("name") + ": unknown expect " + expect);
            }
        }
        // An empty side would let every loop below pass without checking anything.
        assertTrue("the index has no cases to refuse", !refuse.isEmpty());
        assertTrue("the index has no cases to accept", !accept.isEmpty());
    }

    private static String name(JsonObject c) {
        return c.get("name").getAsString();
    }

    private static File folder(JsonObject c) {
        return new File(c.get("bundle").getAsString());
    }

    private static void report(JsonObject c, boolean ok, String detail) {
        System.out.println("CONTRACT " + c.get("expect").getAsString() + " " + name(c) + " "
                + c.get("class").getAsString() + " " + (ok ? "ok" : "FAIL") + " " + detail);
    }

    /** The words the case asks for (any one of them, case-insensitive), or null when the message has one. */
    private static String missingWords(JsonObject c, String message) {
        JsonArray words = c.getAsJsonArray("error_any");
        String low = message.toLowerCase(Locale.ROOT);
        for (JsonElement w : words) {
            if (low.contains(w.getAsString().toLowerCase(Locale.ROOT))) {
                return null;
            }
        }
        return words.toString();
    }

    @Test
    public void everyBundleToRefuseIsRefusedInOneLineWithTheCasesWords() {
        List<String> wrong = new ArrayList<>();
        Map<String, Integer> perClass = new TreeMap<>();
        for (JsonObject c : refuse) {
            String problem;
            String message = "";
            try {
                Bundle.open(folder(c));
                problem = "was accepted";
            } catch (BundleException e) {
                message = e.getMessage();
                String words = missingWords(c, message);
                if (message.indexOf('\n') >= 0 || message.indexOf('\r') >= 0) {
                    problem = "message spans lines";
                } else if (words != null) {
                    problem = "message has none of " + words;
                } else {
                    problem = null;
                }
            } catch (RuntimeException | Error e) {
                // Anything but a BundleException would reach the app as a crash or a stack trace.
                problem = "threw " + e.getClass().getName() + " instead of BundleException";
                message = String.valueOf(e.getMessage());
            }
            report(c, problem == null, message);
            if (problem != null) {
                wrong.add(name(c) + ": " + problem + " (" + message + ")");
            } else {
                perClass.merge(c.get("class").getAsString(), 1, Integer::sum);
            }
        }
        System.out.println("CONTRACT-REFUSED " + perClass);
        assertTrue(wrong.size() + " of " + refuse.size() + " bundles to refuse:\n" + String.join("\n", wrong),
                wrong.isEmpty());
    }

    @Test
    public void everyBundleToAcceptOpensWithItsChecksums() {
        List<String> wrong = new ArrayList<>();
        for (JsonObject c : accept) {
            String problem = null;
            try {
                Bundle b = Bundle.open(folder(c), true);
                // Every file the manifest lists must also be reachable through the checked path the app uses.
                for (String rel : b.manifest().files().keySet()) {
                    if (!b.file(rel).isFile()) {
                        problem = rel + " is not reachable through Bundle.file";
                    }
                }
                if (problem == null && !b.executorchProgram().isFile()) {
                    problem = "its executorch program is not a file";
                }
            } catch (RuntimeException | Error e) {
                problem = "threw " + e.getClass().getName() + ": " + e.getMessage();
            }
            report(c, problem == null, problem == null ? "" : problem);
            if (problem != null) {
                wrong.add(name(c) + ": " + problem);
            }
        }
        assertTrue(wrong.size() + " of " + accept.size() + " bundles to accept:\n" + String.join("\n", wrong),
                wrong.isEmpty());
    }
}
