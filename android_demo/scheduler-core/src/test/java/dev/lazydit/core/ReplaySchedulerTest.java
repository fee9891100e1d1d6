package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.Before;
import org.junit.Test;

/**
 * The Java step loop against a real recorded run: same inputs bit for bit at every step, buffers
 * allocated once and reused, and a trajectory that matches the bundle's golden trace.
 */
public class ReplaySchedulerTest {
    private Bundle bundle;
    private GoldenTrace golden;
    private ReplayRunner runner;

    @Before
    public void load() {
        bundle = Bundle.open(TestData.bundleDir());
        golden = GoldenTrace.load(bundle);
        runner = new ReplayRunner(TestData.recordingDir());
    }

    @Test
    public void feedsEveryGraphTheRecordedInputsAndMatchesTheGoldenTrace() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        List<Checksums> latents = new ArrayList<>();
        RunResult result = scheduler.run(golden.classes(), golden.readNoise(),
                (i, variant, ms, latent) -> latents.add(Checksums.of(latent)));

        assertEquals(runner.calls().size(), runner.served());
        assertEquals(golden.steps().size(), result.stepMs().length);
        assertEquals("", String.join("; ", golden.compare(result.variants(), latents)));
        assertEquals("", String.join("; ", golden.compareFinal(Checksums.of(result.image()))));

        // The final latent is the last graph's x_next, untouched by the scheduler.
        List<ReplayRunner.Recorded> last = runner.calls().get(runner.calls().size() - 1).outputs;
        float[] want = new float[result.image().length];
        ByteBuffer.wrap(last.get(0).bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(want);
        assertArrayEquals(want, result.image(), 0f);

        float[] fin = golden.readFinal();
        float[] got = result.image();
        for (int i = 0; i < fin.length; i++) {
            assertEquals("final latent[" + i + "]", fin[i], got[i], golden.tolerance() * Math.max(1, Math.abs(fin[i])));
        }
    }

    @Test
    public void aPixelBundleDoesNotDecodeAndItsImageIsTheLatent() throws IOException {
        assertFalse(bundle.manifest().hasDecoder());
        assertFalse(golden.hasImage());
        RunResult result = new Scheduler(bundle.manifest(), runner).run(golden.classes(), golden.readNoise(), null);
        assertFalse(result.decoded());
        assertEquals(0.0, result.decodeMs(), 0);
        assertEquals(0, runner.decodes());
        assertArrayEquals(result.latent(), result.image(), 0f);
    }

    @Test
    public void goldenCheckOfTheReplayedSchedulerPasses() throws IOException {
        assertEquals("", String.join("; ", golden.check(new Scheduler(bundle.manifest(), runner))));
        assertEquals(golden.steps().size(), runner.served());
    }

    @Test
    public void allocatesEveryBufferOnceAndReusesItAcrossStepsAndRuns() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        float[] noise = golden.readNoise();
        RunResult first = scheduler.run(golden.classes(), noise, null);
        runner.rewind();
        RunResult second = scheduler.run(golden.classes(), noise, null);

        assertArrayEquals(first.image(), second.image(), 0f);
        for (String slot : bundle.manifest().slots()) {
            assertEquals("buffers used for " + slot, 1, runner.distinctBuffers(slot));
        }
        for (String name : new String[] {"t", "y", "coef"}) {
            assertEquals("buffers used for " + name, 1, runner.distinctBuffers(name));
        }
        // A holding bundle's graphs take no ratio input.
        assertEquals(0, runner.distinctBuffers("ratio"));
        // The latent ping-pongs between two buffers: a graph never writes the buffer it reads.
        assertEquals(2, runner.distinctBuffers("x"));
        assertEquals(4L * 2 * 16 * 32 * bundle.manifest().slots().size(), scheduler.slots().totalBytes());
    }

    @Test
    public void theReplayCatchesAOneUlpChangeOfAnInput() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        float[] noise = golden.readNoise();
        noise[7] = Math.nextUp(noise[7]);
        AssertionError e = assertThrows(AssertionError.class, () -> scheduler.run(golden.classes(), noise, null));
        assertThat(e.getMessage(), containsString("step 0 (v0): input x differs from the recorded run"));
    }

    @Test
    public void refusesLabelsThatDoNotFitTheBundle() {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        float[] noise = new float[bundle.manifest().tensor("x").numel()];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> scheduler.run(new int[] {4}, noise, null));
        assertThat(e.getMessage(), containsString("class 4 out of range 0..3"));
        e = assertThrows(IllegalArgumentException.class, () -> scheduler.run(new int[] {0, 1}, noise, null));
        assertThat(e.getMessage(), containsString("generates 1 image(s) per run; got 2"));
        assertEquals(0, runner.served());
    }
}
