package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * A latent bundle (tiny DiT on 8x8x4 latents, a tiny VAE decoder giving 16x16 RGB images): the scheduler
 * runs the decoder graph after the last step, and the replayed run matches the golden trace's steps and
 * decoded image. The recording (tests/test_android_core.py) holds the Python scheduler's decode call too.
 */
public class LatentReplayTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Bundle bundle;
    private GoldenTrace golden;
    private ReplayRunner runner;

    @Before
    public void load() {
        bundle = Bundle.open(TestData.latentBundleDir());
        golden = GoldenTrace.load(bundle);
        runner = new ReplayRunner(TestData.latentRecordingDir());
    }

    private static float[] floats(byte[] littleEndian) {
        float[] out = new float[littleEndian.length / 4];
        ByteBuffer.wrap(littleEndian).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    @Test
    public void parsesTheDecoderSection() {
        Manifest m = bundle.manifest();
        assertTrue(m.hasDecoder());
        assertEquals("decode", m.decoderName());
        assertEquals("decode", m.executorchDecoder());
        assertEquals(0.18215, m.latentScale(), 1e-12);
        assertArrayEquals(new int[] {1, 3, 16, 16}, m.tensor("image").shape());
        assertArrayEquals(new int[] {1, 4, 8, 8}, m.tensor("x").shape());
        assertEquals(3, m.imageChannels());
        assertTrue(golden.hasImage());
        assertArrayEquals(new int[] {1, 3, 16, 16}, golden.imageShape());
    }

    @Test
    public void decodesAfterTheLastStepAndMatchesTheGoldenTraceIncludingTheImage() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        List<Checksums> latents = new ArrayList<>();
        RunResult result = scheduler.run(golden.classes(), golden.readNoise(),
                (i, variant, ms, latent) -> latents.add(Checksums.of(latent)));

        assertEquals(runner.calls().size(), runner.served());
        assertEquals(1, runner.decodes());
        assertTrue(result.decoded());
        assertEquals("", String.join("; ", golden.compare(result.variants(), latents)));
        assertEquals("", String.join("; ", golden.compareFinal(Checksums.of(result.latent()))));
        assertEquals("", String.join("; ", golden.compareImage(Checksums.of(result.image()))));

        // The image is the decoder's output as recorded, the latent the last step's, both untouched.
        assertArrayEquals(floats(runner.decoderCall().outputs.get(0).bytes), result.image(), 0f);
        List<ReplayRunner.Recorded> last = runner.calls().get(runner.calls().size() - 1).outputs;
        assertArrayEquals(floats(last.get(0).bytes), result.latent(), 0f);
        float[] want = golden.readImage();
        float[] got = result.image();
        assertEquals(3 * 16 * 16, got.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals("image[" + i + "]", want[i], got[i], golden.tolerance() * Math.max(1, Math.abs(want[i])));
            assertTrue("image values lie in [-1, 1]", got[i] >= -1f && got[i] <= 1f);
        }

        double steps = 0;
        for (double ms : result.stepMs()) {
            steps += ms;
        }
        assertTrue(result.decodeMs() > 0);
        assertTrue("the total covers the steps and the decoder", result.totalMs() >= steps + result.decodeMs());
    }

    @Test
    public void goldenCheckCoversTheDecodedImage() throws IOException {
        assertEquals("", String.join("; ", golden.check(new Scheduler(bundle.manifest(), runner))));
        assertEquals(1, runner.decodes());

        // The same run against a trace whose image sum is off: the check names the decoder's image.
        File dir = tmp.newFolder("golden");
        for (File f : new File(TestData.latentBundleDir(), "golden").listFiles()) {
            Files.copy(f.toPath(), new File(dir, f.getName()).toPath());
        }
        File tracePath = new File(dir, "trace.json");
        JsonObject trace = JsonParser.parseString(new String(Files.readAllBytes(tracePath.toPath()),
                StandardCharsets.UTF_8)).getAsJsonObject();
        JsonObject sums = trace.getAsJsonObject("image_checksums");
        sums.addProperty("sum", sums.get("sum").getAsDouble() + 10);
        Files.write(tracePath.toPath(), trace.toString().getBytes(StandardCharsets.UTF_8));
        runner.rewind();
        List<String> problems = GoldenTrace.load(dir).check(new Scheduler(bundle.manifest(), runner));
        assertEquals(1, problems.size());
        assertThat(problems.get(0), containsString("decoder: image sum "));
    }

    @Test
    public void allocatesTheImageOnceAndDecodesTheBufferTheLastStepWrote() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        float[] noise = golden.readNoise();
        RunResult first = scheduler.run(golden.classes(), noise, null);
        runner.rewind();
        RunResult second = scheduler.run(golden.classes(), noise, null);
        assertArrayEquals(first.image(), second.image(), 0f);
        assertEquals(1, runner.distinctBuffers("image"));
        // The decoder reads one of the two latent buffers in place: no third latent buffer.
        assertEquals(2, runner.distinctBuffers("x"));
    }

    @Test
    public void theReplayCatchesADecoderFedAnotherLatent() throws IOException {
        float[] noise = golden.readNoise();
        // The real replay behind a runner that nudges the latent by one ulp on its way to the decoder.
        GraphRunner wrong = new GraphRunner() {
            @Override
            public void run(String variant, List<TensorBuffer> inputs, List<TensorBuffer> outputs) {
                runner.run(variant, inputs, outputs);
            }

            @Override
            public void decode(TensorBuffer latent, TensorBuffer image) {
                latent.setFloat(0, Math.nextUp(latent.getFloat(0)));
                runner.decode(latent, image);
            }
        };
        Scheduler scheduler = new Scheduler(bundle.manifest(), wrong);
        AssertionError e = assertThrows(AssertionError.class, () -> scheduler.run(golden.classes(), noise, null));
        assertThat(e.getMessage(), containsString("decoder: input latent differs from the recorded run"));
    }

    @Test
    public void reportsDecodeTimeBesideStepTime() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        Map<String, Double> methods = new LinkedHashMap<>();
        methods.put("v0", 1.5);
        methods.put("v1", 0.5);
        LatencyReport report = new LatencyReport("host-replay", "executorch", "1.5.1").bundle(bundle)
                .loadMs(2.0, methods, 3.0).golden(golden.check(scheduler));
        for (int r = 0; r < 3; r++) {
            runner.rewind();
            report.addRun(scheduler.run(golden.classes(), golden.readNoise(), null));
        }
        File out = TestData.outDir() != null ? TestData.outDir() : tmp.getRoot();
        File file = new File(out, "latency-latent.json");
        report.write(file);

        JsonObject o = JsonParser.parseString(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals("decode", o.getAsJsonObject("bundle").get("decoder").getAsString());
        assertEquals(3.0, o.getAsJsonObject("load_ms").get("decoder").getAsDouble(), 0);
        assertEquals(7.0, o.getAsJsonObject("load_ms").get("total").getAsDouble(), 0);
        JsonArray runs = o.getAsJsonArray("runs");
        assertEquals(3, runs.size());
        for (int r = 0; r < runs.size(); r++) {
            JsonObject run = runs.get(r).getAsJsonObject();
            assertTrue(run.get("decode_ms").getAsDouble() > 0);
            assertEquals(10, run.getAsJsonArray("steps").size());
        }
        assertEquals(3, o.getAsJsonObject("decode_ms").get("count").getAsInt());
        assertTrue(o.getAsJsonObject("golden").get("ok").getAsBoolean());
    }

    @Test
    public void refusesADecoderWithoutItsImageTensor() throws IOException {
        File copy = TestData.copyOf(TestData.latentBundleDir(), tmp.getRoot());
        TestData.editManifest(copy, m -> m.getAsJsonObject("tensors").remove("image"));
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(copy));
        assertThat(e.getMessage(), containsString("manifest.json: the bundle has a decoder but no tensors/image"));
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    public void refusesAnImageTensorOtherThanTheImageSection() throws IOException {
        File copy = TestData.copyOf(TestData.latentBundleDir(), tmp.getRoot());
        TestData.editManifest(copy, m -> {
            JsonArray shape = new JsonArray();
            for (int d : new int[] {1, 3, 32, 32}) {
                shape.add(d);
            }
            m.getAsJsonObject("tensors").getAsJsonObject("image").add("shape", shape);
        });
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(copy));
        assertThat(e.getMessage(), containsString(
                "tensor image has shape [1, 3, 32, 32], the image section needs [1, 3, 16, 16]"));
    }

    @Test
    public void refusesADecoderMissingFromTheExecutorchTarget() throws IOException {
        File copy = TestData.copyOf(TestData.latentBundleDir(), tmp.getRoot());
        TestData.editManifest(copy, m -> m.getAsJsonObject("targets").getAsJsonObject("executorch").remove("decoder"));
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(copy));
        assertThat(e.getMessage(), containsString(
                "the bundle has a decoder but its executorch target has no decoder graph"));
    }

    @Test
    public void refusesADecoderWithOtherInputs() throws IOException {
        File copy = TestData.copyOf(TestData.latentBundleDir(), tmp.getRoot());
        TestData.editManifest(copy, m -> {
            JsonArray in = new JsonArray();
            in.add("x");
            m.getAsJsonObject("decoder").add("inputs", in);
        });
        BundleException e = assertThrows(BundleException.class, () -> Bundle.open(copy));
        assertThat(e.getMessage(), containsString("invalid manifest at decoder/inputs: expected ['latent']"));
    }
}
