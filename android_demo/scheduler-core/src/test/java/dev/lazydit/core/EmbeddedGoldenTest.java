package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.Before;
import org.junit.Test;

/**
 * The step loop on the embedded model's bundle (what the app ships: 20 steps, 50% lazy, forecasting:
 * 16 cache slots and their 16 delta slots, the ratios fed per step as schema 2 does), against the
 * golden trace the Python and native tests check too. Runs when
 * {@code lazydit.embedded.bundle} and {@code lazydit.embedded.recording} are set
 * (tests/test_android_core.py sets them).
 */
public class EmbeddedGoldenTest {
    private Bundle bundle;
    private GoldenTrace golden;
    private ReplayRunner runner;

    @Before
    public void load() {
        String b = System.getProperty("lazydit.embedded.bundle");
        String r = System.getProperty("lazydit.embedded.recording");
        assumeTrue("embedded bundle not given", b != null && r != null);
        bundle = Bundle.open(new File(b));
        golden = GoldenTrace.load(bundle);
        runner = new ReplayRunner(new File(r));
    }

    @Test
    public void replayedRunMatchesTheGoldenTraceStepByStep() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        List<Checksums> latents = new ArrayList<>();
        RunResult result = scheduler.run(golden.classes(), golden.readNoise(),
                (i, variant, ms, latent) -> latents.add(Checksums.of(latent)));
        assertEquals(20, result.stepMs().length);
        assertEquals(runner.calls().size(), runner.served());
        assertEquals("", String.join("; ", golden.compare(result.variants(), latents)));
        assertEquals("", String.join("; ", golden.compareFinal(Checksums.of(result.image()))));
    }

    @Test
    public void cacheSlotsAreAllocatedOnceForTheWholeRun() throws IOException {
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        scheduler.run(golden.classes(), golden.readNoise(), null);
        assertEquals(32, bundle.manifest().slots().size());
        for (String slot : bundle.manifest().slots()) {
            assertEquals("buffers used for " + slot, 1, runner.distinctBuffers(slot));
        }
        assertEquals(2, runner.distinctBuffers("x"));
        // Schema 2 feeds each forecasting step its own ratio buffer, built with the scheduler.
        int forecasting = 0;
        for (Step s : bundle.manifest().steps()) {
            forecasting += s.hasRatio() ? 1 : 0;
        }
        assertEquals(2, bundle.manifest().schemaVersion());
        assertEquals(10, forecasting);
        assertEquals(forecasting, runner.distinctBuffers("ratio"));
    }
}
