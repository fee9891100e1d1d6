package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The checks of runtime/bundle.py, on the real tiny bundle and on corrupted copies of it. */
public class BundleValidationTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** Opens the bundle expecting refusal; asserts the message is one line naming {@code file}. */
    private static String refused(File bundle, File file) {
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(bundle));
        assertThat(e.getMessage(), containsString(file.getPath() + ":"));
        assertThat(e.getMessage(), not(containsString("\n")));
        return e.getMessage();
    }

    @Test
    public void opensTheRealBundle() {
        Bundle b = Bundle.open(TestData.bundleDir());
        Manifest m = b.manifest();
        assertEquals(1, m.schemaVersion());
        assertEquals(10, m.steps().size());
        assertEquals(4, m.slots().size());
        assertEquals(2, m.config().depth());
        assertEquals(0.5, m.laziness(), 0);
        assertTrue(b.executorchProgram().isFile());
        assertEquals(m.variants().keySet(), m.executorchMethods().keySet());
        assertTrue(m.tensor("cache_1_mlp").hasShape(2, 16, 32));
    }

    @Test
    public void refusesAnEditedByteOfTheProgram() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File pte = new File(bundle, "executorch/model.pte");
        try (RandomAccessFile f = new RandomAccessFile(pte, "rw")) {
            long at = f.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x01);
        }
        assertThat(refused(bundle, pte), containsString("sha256 does not match the manifest"));
    }

    @Test
    public void refusesAnUnknownSchemaVersion() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> m.addProperty("schema_version", 2));
        String msg = refused(bundle, new File(bundle, "manifest.json"));
        assertThat(msg, containsString("unknown schema_version 2 (this runtime reads 1)"));
    }

    @Test
    public void refusesAMissingSchemaVersion() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> m.remove("schema_version"));
        assertThat(refused(bundle, new File(bundle, "manifest.json")), containsString("unknown schema_version None"));
    }

    @Test
    public void refusesAMissingGraph() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File pte = new File(bundle, "executorch/model.pte");
        assertTrue(pte.delete());
        assertThat(refused(bundle, pte), containsString("listed in the manifest but missing"));
    }

    @Test
    public void refusesATruncatedFile() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File heat = new File(bundle, "schedule.json");
        byte[] bytes = Files.readAllBytes(heat.toPath());
        Files.write(heat.toPath(), Arrays.copyOf(bytes, bytes.length - 1));
        assertThat(refused(bundle, heat), containsString("the bundle is damaged"));
    }

    @Test
    public void refusesAWrongCacheShape() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> {
            JsonArray shape = new JsonArray();
            shape.add(2);
            shape.add(16);
            shape.add(64);
            m.getAsJsonObject("tensors").getAsJsonObject("cache").add("shape", shape);
        });
        String msg = refused(bundle, new File(bundle, "manifest.json"));
        assertThat(msg, containsString("tensor cache has shape [2, 16, 64], the model config needs [2, 16, 32]"));
    }

    @Test
    public void refusesAStepThatReadsBeforeAnyWrite() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> {
            // Step 0 becomes the lazy variant: it would read caches no step has written yet.
            JsonArray steps = m.getAsJsonArray("steps");
            JsonObject lazy = steps.get(1).getAsJsonObject();
            JsonObject first = steps.get(0).getAsJsonObject();
            first.add("variant", lazy.get("variant"));
            first.add("reads", lazy.get("reads"));
            first.add("writes", lazy.get("writes"));
        });
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("step 0 reads cache_0_attn before any step writes it"));
    }

    @Test
    public void refusesACoefficientListOfTheWrongLength() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> m.getAsJsonArray("steps").get(3).getAsJsonObject()
                .getAsJsonArray("coef").remove(0));
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("invalid manifest at steps/3/coef"));
    }

    @Test
    public void refusesVariantOutputsOutOfOrder() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> {
            JsonArray outs = m.getAsJsonArray("variants").get(0).getAsJsonObject().getAsJsonArray("outputs");
            outs.set(1, outs.set(2, outs.get(1)));
        });
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("outputs must be x_next, then new_<slot> for each slot it writes"));
    }

    @Test
    public void refusesInvalidJson() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File manifest = new File(bundle, "manifest.json");
        Files.write(manifest.toPath(), "{\"schema_version\": 1,".getBytes(StandardCharsets.UTF_8));
        assertThat(refused(bundle, manifest), containsString("not valid JSON"));
    }

    /** Replaces the JSON string {@code "marker"} in the manifest's text with {@code literal}, verbatim. */
    private static void putLiteral(File bundle, String marker, String literal) throws IOException {
        File manifest = new File(bundle, "manifest.json");
        String text = new String(Files.readAllBytes(manifest.toPath()), StandardCharsets.UTF_8);
        assertTrue(text.contains("\"" + marker + "\""));
        Files.write(manifest.toPath(), text.replace("\"" + marker + "\"", literal).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    public void opensTheRealBundleThroughASymlinkedFolder() throws IOException {
        // adb push and asset copies can leave a bundle reachable only through a link (e.g. /sdcard -> /storage/...).
        Path link = tmp.getRoot().toPath().resolve("linked-bundle");
        Files.createSymbolicLink(link, TestData.bundleDir().toPath().toAbsolutePath());
        Bundle b = Bundle.open(link.toFile(), true);
        assertEquals(10, b.manifest().steps().size());
        assertEquals(new File(link.toFile(), "executorch/model.pte"), b.executorchProgram());
        assertTrue(b.executorchProgram().isFile());
        assertTrue(GoldenTrace.exists(b));
        GoldenTrace golden = GoldenTrace.load(b);
        assertEquals(b.manifest().steps().size(), golden.steps().size());
        assertEquals(golden.numel(), golden.readNoise().length);
    }

    @Test
    public void refusesNaNAndInfinityLiteralsAsInvalidJson() throws IOException {
        for (String literal : new String[] {"NaN", "Infinity", "-Infinity"}) {
            File bundle = TestData.copyOfBundle(tmp.newFolder());
            TestData.editManifest(bundle, m -> m.addProperty("guidance_scale", "MARKER"));
            putLiteral(bundle, "MARKER", literal);
            String msg = refused(bundle, new File(bundle, "manifest.json"));
            assertThat(msg, containsString("not valid JSON"));
            assertThat(msg, containsString("guidance_scale"));
            assertThat(msg, not(containsString("Use JsonReader")));
        }
    }

    @Test
    public void refusesANumberTooLargeForADoubleAsNotFinite() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        TestData.editManifest(bundle, m -> m.getAsJsonArray("steps").get(2).getAsJsonObject()
                .getAsJsonArray("coef").set(0, new JsonPrimitive("MARKER")));
        putLiteral(bundle, "MARKER", "1e400");
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("invalid manifest at steps/2/coef/0: 1e400 is Infinity, not a finite number"));
    }

    @Test
    public void refusesJsonThatOnlyALenientParserReads() throws IOException {
        // Gson's JsonParser would read these; Python's json module (and so the exporter's own checks) would not.
        String[] lenient = {"// a comment\n", "{'schema_version': 1}", "{schema_version: 1}"};
        for (String text : lenient) {
            File bundle = TestData.copyOfBundle(tmp.newFolder());
            File manifest = new File(bundle, "manifest.json");
            byte[] original = Files.readAllBytes(manifest.toPath());
            byte[] bytes = text.startsWith("//")
                    ? (text + new String(original, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8)
                    : text.getBytes(StandardCharsets.UTF_8);
            Files.write(manifest.toPath(), bytes);
            assertThat(text, refused(bundle, manifest), containsString("not valid JSON"));
        }
    }

    @Test
    public void refusesAManifestThatIsNotUtf8() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File manifest = new File(bundle, "manifest.json");
        Files.write(manifest.toPath(), new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'});
        assertThat(refused(bundle, manifest), containsString("not valid JSON (not UTF-8 text)"));
    }

    @Test
    public void refusesAManifestLinkedFromOutsideTheBundle() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File manifest = new File(bundle, "manifest.json");
        File elsewhere = new File(tmp.getRoot(), "elsewhere.json");
        Files.move(manifest.toPath(), elsewhere.toPath());
        Files.createSymbolicLink(manifest.toPath(), elsewhere.toPath());
        assertThat(refused(bundle, manifest), containsString(Containment.INSIDE));
    }

    @Test
    public void refusesAGoldenTraceThatNamesAFileOutsideTheBundle() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.getRoot());
        File trace = new File(bundle, "golden/trace.json");
        JsonObject t = JsonParser.parseString(new String(Files.readAllBytes(trace.toPath()), StandardCharsets.UTF_8))
                .getAsJsonObject();
        t.addProperty("noise", "../../outside/noise.bin");
        Files.write(trace.toPath(), t.toString().getBytes(StandardCharsets.UTF_8));
        // The folder is loaded on its own: through Bundle.open the edited trace would fail its sha256 first.
        BundleException e = assertThrows(BundleException.class, () -> GoldenTrace.load(trace.getParentFile()));
        assertThat(e.getMessage(), containsString(trace.getPath() + ": path '../../outside/noise.bin' has a '..'"));
        assertThat(e.getMessage(), containsString(Containment.INSIDE));
    }

    @Test
    public void refusesAFileTheAppAsksForOutsideTheBundle() {
        Bundle b = Bundle.open(TestData.bundleDir(), false);
        BundleException e = assertThrows(BundleException.class, () -> b.file("../manifest.json"));
        assertThat(e.getMessage(), containsString(Containment.INSIDE));
    }

    @Test
    public void refusesAFolderThatIsNotABundle() throws IOException {
        File empty = tmp.newFolder("empty");
        assertThat(refused(empty, new File(empty, "manifest.json")), containsString("not a lazydit bundle"));
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(new File(empty, "nope")));
        assertThat(e.getMessage(), containsString("bundle folder not found"));
    }
}
