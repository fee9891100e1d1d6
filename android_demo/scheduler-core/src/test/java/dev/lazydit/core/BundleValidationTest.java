package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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

    @Test
    public void refusesAFolderThatIsNotABundle() throws IOException {
        File empty = tmp.newFolder("empty");
        assertThat(refused(empty, new File(empty, "manifest.json")), containsString("not a lazydit bundle"));
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(new File(empty, "nope")));
        assertThat(e.getMessage(), containsString("bundle folder not found"));
    }
}
