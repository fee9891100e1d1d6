package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * What the scheduler feeds a forecasting graph of schema 2: the step's own ratios, at input index 4,
 * in the dtype of coef, from a buffer built once (the replay of the embedded bundle checks the bits
 * against the Python scheduler; these tests pin the rules on a manifest made to forecast).
 */
public class RatioInputTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** Keeps every call's input buffers, and input 4's values as they were when the graph ran. */
    private static final class Recorder implements GraphRunner {
        final List<List<TensorBuffer>> inputs = new ArrayList<>();
        final List<float[]> fourth = new ArrayList<>();

        @Override
        public void run(String variant, List<TensorBuffer> in, List<TensorBuffer> out) {
            inputs.add(new ArrayList<>(in));
            fourth.add(in.size() > 4 ? in.get(4).toFloatArray() : null);
        }

        @Override
        public void decode(TensorBuffer latent, TensorBuffer image) {
            fail("a pixel bundle has no decoder");
        }
    }

    private Manifest open(Consumer<JsonObject> edit) throws IOException {
        File bundle = TestData.copyOfBundle(tmp.newFolder());
        TestData.editManifest(bundle, edit);
        return Bundle.open(bundle).manifest();
    }

    private static List<String> names(List<TensorBuffer> buffers) {
        List<String> out = new ArrayList<>();
        for (TensorBuffer b : buffers) {
            out.add(b.name());
        }
        return out;
    }

    /** One run from zero noise; the recorder fills no outputs, so only what goes in is of interest. */
    private static void run(Scheduler scheduler, Manifest m) {
        scheduler.run(new int[] {1}, new float[m.tensor("x").numel()], null);
    }

    /** Writes ones into every slot a step writes; keeps step 0's slot inputs of every run. */
    private static final class Filling implements GraphRunner {
        final List<float[]> firstStepSlots = new ArrayList<>();
        private final int steps;
        private int call;

        Filling(int steps) {
            this.steps = steps;
        }

        @Override
        public void run(String variant, List<TensorBuffer> in, List<TensorBuffer> out) {
            if (call++ % steps == 0) {
                for (TensorBuffer b : in.subList(4, in.size())) {
                    firstStepSlots.add(b.toFloatArray());
                }
            }
            for (TensorBuffer b : out.subList(1, out.size())) {
                float[] ones = new float[b.numel()];
                Arrays.fill(ones, 1f);
                b.setFloats(ones);
            }
        }

        @Override
        public void decode(TensorBuffer latent, TensorBuffer image) {
            fail("a pixel bundle has no decoder");
        }
    }

    @Test
    public void everyRunStartsFromZeroedOldSlots() throws IOException {
        Manifest m = open(ForecastManifest::schema2);
        Filling runner = new Filling(m.steps().size());
        Scheduler scheduler = new Scheduler(m, runner);
        run(scheduler, m);
        run(scheduler, m);
        // Step 0 reads the old outputs it takes deltas of: the second run must see zeros again, not the ones
        // the first run left in those slots.
        assertEquals(2 * ForecastManifest.SLOTS.size(), runner.firstStepSlots.size());
        for (float[] slot : runner.firstStepSlots) {
            for (float v : slot) {
                assertEquals(0f, v, 0f);
            }
        }
        for (String s : ForecastManifest.SLOTS) {
            assertEquals(1f, scheduler.slots().get(s).getFloat(0), 0f);
        }
    }

    @Test
    public void feedsEachForecastingStepItsOwnRatiosAtInputFour() throws IOException {
        Manifest m = open(ForecastManifest::schema2);
        Recorder rec = new Recorder();
        run(new Scheduler(m, rec), m);
        assertEquals(10, rec.inputs.size());
        for (int i = 0; i < rec.inputs.size(); i++) {
            Variant v = m.variant(m.steps().get(i).variant());
            List<TensorBuffer> in = rec.inputs.get(i);
            // The buffers come in the variant's input order: x, t, y, coef, [ratio], then its reads.
            assertEquals("step " + i, v.inputs(), names(in));
            if (i % 2 == 0) {
                assertEquals("step " + i, Arrays.asList("x", "t", "y", "coef"), names(in).subList(0, 4));
                assertEquals("step " + i, ForecastManifest.SLOTS, names(in).subList(4, in.size()));
                continue;
            }
            assertEquals("step " + i, "ratio", in.get(4).name());
            assertEquals("step " + i, new TensorSpec(new int[] {4}, DType.FLOAT32), in.get(4).spec());
            float[] want = new float[4];
            for (int k = 0; k < 4; k++) {
                want[k] = (float) ForecastManifest.ratio(i, k);
            }
            assertEquals("step " + i, Arrays.toString(want), Arrays.toString(rec.fourth.get(i)));
        }
        assertEquals("[0.0, 0.0, 0.0, 0.0]", Arrays.toString(rec.fourth.get(1)));
    }

    @Test
    public void ratioBuffersAreBuiltOncePerStepAndKeptAcrossRuns() throws IOException {
        Manifest m = open(ForecastManifest::schema2);
        Recorder both = new Recorder();
        Scheduler scheduler = new Scheduler(m, both);
        run(scheduler, m);
        run(scheduler, m);
        assertEquals(20, both.inputs.size());
        for (int i = 1; i < 10; i += 2) {
            TensorBuffer ratio = both.inputs.get(i).get(4);
            assertSame("step " + i + " on the second run", ratio, both.inputs.get(10 + i).get(4));
            assertEquals("step " + i, Arrays.toString(both.fourth.get(i)), Arrays.toString(both.fourth.get(10 + i)));
            if (i > 1) {
                assertNotSame("steps " + (i - 2) + " and " + i, both.inputs.get(i - 2).get(4), ratio);
            }
        }
        // The other inputs are shared between steps as before: one coef buffer, one buffer per slot.
        assertSame(both.inputs.get(1).get(3), both.inputs.get(2).get(3));
        assertSame(both.inputs.get(1).get(5), both.inputs.get(2).get(4));
    }

    @Test
    public void ratiosTakeTheDtypeOfCoef() throws IOException {
        Manifest m = open(j -> {
            ForecastManifest.schema2(j);
            j.getAsJsonObject("tensors").getAsJsonObject("coef").addProperty("dtype", "float16");
        });
        assertEquals(new TensorSpec(new int[] {4}, DType.FLOAT16), m.ratioSpec(m.variant("v1")));
        Recorder rec = new Recorder();
        run(new Scheduler(m, rec), m);
        TensorBuffer ratio = rec.inputs.get(5).get(4);
        assertEquals(new TensorSpec(new int[] {4}, DType.FLOAT16), ratio.spec());
        short[] bits = new short[4];
        ratio.halfView().get(bits);
        for (int k = 0; k < 4; k++) {
            assertEquals("ratio " + k, Half.fromFloat((float) ForecastManifest.ratio(5, k)), bits[k]);
        }
    }

    @Test
    public void aSchema1ForecastingBundleIsFedNoRatio() throws IOException {
        Manifest m = open(ForecastManifest::schema1);
        Recorder rec = new Recorder();
        run(new Scheduler(m, rec), m);
        for (int i = 0; i < rec.inputs.size(); i++) {
            List<String> got = names(rec.inputs.get(i));
            assertEquals("step " + i, m.variant(m.steps().get(i).variant()).inputs(), got);
            assertEquals("step " + i, -1, got.indexOf("ratio"));
        }
        // v1's graph bakes its ratio in; it reads the four slots and their four deltas after coef.
        assertEquals(4 + 8, rec.inputs.get(1).size());
    }
}
