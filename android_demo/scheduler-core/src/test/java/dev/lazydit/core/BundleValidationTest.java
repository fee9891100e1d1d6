package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
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
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The checks of runtime/bundle.py, on the real tiny bundle and on corrupted copies of it, schema 2's
 * forecast ratios on copies rewritten to forecast ({@link ForecastManifest}).
 */
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
        assertEquals(2, m.schemaVersion());
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
        TestData.editManifest(bundle, m -> m.addProperty("schema_version", 3));
        String msg = refused(bundle, new File(bundle, "manifest.json"));
        assertThat(msg, containsString("unknown schema_version 3 (this runtime reads 1, 2)"));
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

    /** A copy of the tiny bundle rewritten by {@link ForecastManifest#schema2}, then by {@code edit}. */
    private File forecasting(Consumer<JsonObject> edit) throws IOException {
        File bundle = TestData.copyOfBundle(tmp.newFolder());
        TestData.editManifest(bundle, m -> {
            ForecastManifest.schema2(m);
            edit.accept(m);
        });
        return bundle;
    }

    private String refusedForecasting(Consumer<JsonObject> edit) throws IOException {
        File bundle = forecasting(edit);
        return refused(bundle, new File(bundle, "manifest.json"));
    }

    private static JsonObject step(JsonObject m, int i) {
        return m.getAsJsonArray("steps").get(i).getAsJsonObject();
    }

    @Test
    public void opensASchema2ForecastingBundle() throws IOException {
        Manifest m = Bundle.open(forecasting(x -> { })).manifest();
        assertEquals(2, m.schemaVersion());
        Variant v0 = m.variant("v0");
        Variant v1 = m.variant("v1");
        assertFalse(v0.takesRatio());
        assertEquals(Collections.emptyList(), v0.ratioSlots());
        assertEquals(ForecastManifest.deltas(), v1.ratioSlots());
        assertNull(m.ratioSpec(v0));
        assertEquals(new TensorSpec(new int[] {4}, DType.FLOAT32), m.ratioSpec(v1));
        // Step 0 reads the slots before any step wrote them: it writes their deltas (against the zeros).
        assertEquals(ForecastManifest.SLOTS, m.steps().get(0).reads());
        for (Step s : m.steps()) {
            boolean lazy = s.index() % 2 == 1;
            assertEquals("step " + s.index(), lazy, s.hasRatio());
            double[] want = new double[lazy ? 4 : 0];
            for (int k = 0; k < want.length; k++) {
                want[k] = ForecastManifest.ratio(s.index(), k);
            }
            assertArrayEquals("step " + s.index(), want, s.ratio(), 0);
        }
        assertArrayEquals(new double[] {0, 0, 0, 0}, m.steps().get(1).ratio(), 0);
        assertArrayEquals(m.steps().get(3).ratio(), StepPlan.of(m).get(3).ratio(), 0);
    }

    @Test
    public void opensSchema1BundlesAsBefore() throws IOException {
        File bundle = TestData.copyOfBundle(tmp.newFolder());
        TestData.editManifest(bundle, m -> m.addProperty("schema_version", 1));
        assertEquals(1, Bundle.open(bundle).manifest().schemaVersion());
        // A schema-1 forecasting bundle baked its ratios into the graphs: the forecast table is informational.
        File baked = TestData.copyOfBundle(tmp.newFolder());
        TestData.editManifest(baked, ForecastManifest::schema1);
        Manifest m = Bundle.open(baked).manifest();
        assertEquals(1, m.schemaVersion());
        assertFalse(m.variant("v1").takesRatio());
        assertNull(m.ratioSpec(m.variant("v1")));
        for (Step s : m.steps()) {
            assertFalse("step " + s.index(), s.hasRatio());
        }
    }

    @Test
    public void refusesAStepWithTheWrongNumberOfRatios() throws IOException {
        assertThat(refusedForecasting(m -> step(m, 3).getAsJsonArray("ratio").remove(0)),
                containsString("step 3 has 3 forecast ratios, variant v1 takes 4; re-export the bundle"));
        assertThat(refusedForecasting(m -> step(m, 5).remove("ratio")),
                containsString("step 5 has 0 forecast ratios, variant v1 takes 4; re-export the bundle"));
        assertThat(refusedForecasting(m -> step(m, 1).getAsJsonArray("ratio").add(0.0)),
                containsString("step 1 has 5 forecast ratios, variant v1 takes 4"));
    }

    @Test
    public void refusesRatiosOnAStepWhoseVariantTakesNone() throws IOException {
        assertThat(refusedForecasting(m -> step(m, 2).add("ratio", new JsonArray())),
                containsString("step 2 has 0 forecast ratios, variant v0 takes 0; re-export the bundle"));
        File bundle = TestData.copyOfBundle(tmp.newFolder());
        TestData.editManifest(bundle, m -> {
            JsonArray r = new JsonArray();
            r.add(0.5);
            step(m, 1).add("ratio", r);
        });
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("step 1 has 1 forecast ratios, variant v1 takes 0; re-export the bundle"));
    }

    @Test
    public void refusesARatioThatIsNotFinite() throws IOException {
        File bundle = forecasting(m -> step(m, 3).getAsJsonArray("ratio").set(2, new JsonPrimitive("MARKER")));
        putLiteral(bundle, "MARKER", "-1e400");
        assertThat(refused(bundle, new File(bundle, "manifest.json")),
                containsString("step 3 ratio is -Infinity, not a finite number; the manifest is damaged, re-export it"));
    }

    @Test
    public void refusesASchema1ForecastTableInSchema2() throws IOException {
        String msg = refusedForecasting(m -> {
            JsonObject table = new JsonObject();
            table.addProperty("cache_0_attn_delta", 0.5);
            ForecastManifest.variant(m, 1, "v1").add("forecast", table);
        });
        assertThat(msg, containsString("variant v1 has a schema-1 forecast table"));
        assertThat(msg, containsString("re-export the bundle"));
    }

    @Test
    public void refusesRatioSlotsInSchema1() throws IOException {
        assertThat(refusedForecasting(m -> m.addProperty("schema_version", 1)),
                containsString("variant v1 has ratio_slots, which need schema_version 2"));
    }

    @Test
    public void refusesInputsThatDoNotMatchTheRatioSlots() throws IOException {
        // A forecasting graph without its ratio input, and a holding graph with one.
        assertThat(refusedForecasting(m -> {
            JsonArray in = ForecastManifest.variant(m, 1, "v1").getAsJsonArray("inputs");
            in.remove(4);
        }), containsString("variant v1 inputs must be x, t, y, coef, ratio, then its reads"));
        assertThat(refusedForecasting(m -> {
            JsonObject v0 = ForecastManifest.variant(m, 0, "v0");
            List<String> in = ForecastManifest.strings(v0.getAsJsonArray("inputs"));
            in.add(4, "ratio");
            v0.add("inputs", ForecastManifest.array(in));
        }), containsString("variant v0 inputs must be x, t, y, coef, then its reads"));
    }

    @Test
    public void refusesRatioSlotsThatAreNotDeltasTheVariantReads() throws IOException {
        assertThat(refusedForecasting(m -> ForecastManifest.variant(m, 1, "v1").getAsJsonArray("ratio_slots")
                .set(3, new JsonPrimitive("cache_7_mlp_delta"))),
                containsString("variant v1 ratio slot cache_7_mlp_delta is not a delta slot it reads"));
        assertThat(refusedForecasting(m -> ForecastManifest.variant(m, 1, "v1").getAsJsonArray("ratio_slots")
                .set(0, new JsonPrimitive("cache_0_attn"))),
                containsString("invalid manifest at variants/1/ratio_slots/0: 'cache_0_attn' does not match"));
        assertThat(refusedForecasting(m -> ForecastManifest.variant(m, 1, "v1").add("ratio_slots", new JsonArray())),
                containsString("invalid manifest at variants/1/ratio_slots: [] should be non-empty"));
    }

    @Test
    public void stillRefusesAReadOfASlotWhoseDeltaTheStepDoesNotWrite() throws IOException {
        // v0 stops writing cache_0_attn's delta: its read of cache_0_attn on step 0 has no excuse left.
        String msg = refusedForecasting(m -> {
            JsonObject v0 = ForecastManifest.variant(m, 0, "v0");
            List<String> writes = ForecastManifest.strings(v0.getAsJsonArray("writes"));
            List<String> outputs = ForecastManifest.strings(v0.getAsJsonArray("outputs"));
            writes.remove("cache_0_attn_delta");
            outputs.remove("new_cache_0_attn_delta");
            v0.add("writes", ForecastManifest.array(writes));
            v0.add("outputs", ForecastManifest.array(outputs));
            for (int i = 0; i < m.getAsJsonArray("steps").size(); i += 2) {
                step(m, i).add("writes", ForecastManifest.array(writes));
            }
        });
        assertThat(msg, containsString("step 0 reads cache_0_attn before any step writes it"));
    }
}
