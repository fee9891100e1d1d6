package dev.lazydit.core;

import static org.junit.Assume.assumeTrue;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Where the real test data lives. tests/test_android_core.py exports the tiny bundle, records a
 * Python-scheduler run of it, and passes both folders as system properties; without them (a plain
 * {@code gradle test}) the data-driven tests are skipped.
 */
final class TestData {
    static final String BUNDLE = "lazydit.bundle";
    static final String RECORDING = "lazydit.recording";
    static final String OUT = "lazydit.out";
    /** The bundle contract corpus's index.json (tests/contract_cases.py builds it). */
    static final String CONTRACT = "lazydit.contract";
    /** The latent bundle (a decoder graph, golden trace with the decoded image) and its recorded run. */
    static final String LATENT_BUNDLE = "lazydit.latent.bundle";
    static final String LATENT_RECORDING = "lazydit.latent.recording";

    private TestData() {
    }

    static File bundleDir() {
        return dir(BUNDLE);
    }

    static File recordingDir() {
        return dir(RECORDING);
    }

    static File latentBundleDir() {
        return dir(LATENT_BUNDLE);
    }

    static File latentRecordingDir() {
        return dir(LATENT_RECORDING);
    }

    static File contractIndex() {
        return dir(CONTRACT);
    }

    /** Where tests leave files for the Python side to check, or {@code null}. */
    static File outDir() {
        String p = System.getProperty(OUT);
        return p == null ? null : new File(p);
    }

    private static File dir(String property) {
        String p = System.getProperty(property);
        assumeTrue("-D" + property + " not set (tests/test_android_core.py sets it)", p != null);
        return new File(p);
    }

    /** A writable copy of the real bundle, to corrupt. */
    static File copyOfBundle(File parent) throws IOException {
        return copyOf(bundleDir(), parent);
    }

    /** A writable copy of the bundle {@code bundle}, as {@code parent/bundle}. */
    static File copyOf(File bundle, File parent) throws IOException {
        Path src = bundle.toPath();
        Path dst = new File(parent, "bundle").toPath();
        try (Stream<Path> paths = Files.walk(src)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Files.copy(p, dst.resolve(src.relativize(p).toString()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        return dst.toFile();
    }

    /** Rewrites {@code bundle/manifest.json} after {@code edit} changed its JSON. */
    static void editManifest(File bundle, Consumer<JsonObject> edit) throws IOException {
        Path p = new File(bundle, "manifest.json").toPath();
        JsonObject m = JsonParser.parseString(new String(Files.readAllBytes(p), StandardCharsets.UTF_8))
                .getAsJsonObject();
        edit.accept(m);
        Files.write(p, new GsonBuilder().setPrettyPrinting().create().toJson(m).getBytes(StandardCharsets.UTF_8));
    }
}
