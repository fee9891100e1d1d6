package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** The golden-trace comparison of runtime/golden.py, checked for what it accepts and what it catches. */
public class GoldenTraceTest {
    private static List<Checksums> traceChecksums(GoldenTrace g) {
        List<Checksums> out = new ArrayList<>();
        for (GoldenTrace.TraceStep s : g.steps()) {
            out.add(s.latent());
        }
        return out;
    }

    private static List<String> traceVariants(GoldenTrace g) {
        List<String> out = new ArrayList<>();
        for (GoldenTrace.TraceStep s : g.steps()) {
            out.add(s.variant());
        }
        return out;
    }

    @Test
    public void finalChecksumsOfFinalBinMatchTheTrace() throws IOException {
        GoldenTrace g = GoldenTrace.load(Bundle.open(TestData.bundleDir()));
        assertEquals(0, g.seed());
        assertEquals(256, g.numel());
        assertEquals("", String.join("; ", g.compareFinal(Checksums.of(g.readFinal()))));
    }

    @Test
    public void acceptsItsOwnStepsAndFlagsChanges() {
        GoldenTrace g = GoldenTrace.load(Bundle.open(TestData.bundleDir()));
        List<String> variants = traceVariants(g);
        List<Checksums> sums = traceChecksums(g);
        assertTrue(g.compare(variants, sums).isEmpty());

        variants.set(3, "v0");
        Checksums c = sums.get(5);
        sums.set(5, new Checksums(c.sum() + 1.0, c.absSum(), c.sumSq(), c.first()));
        List<String> problems = g.compare(variants, sums);
        assertEquals(2, problems.size());
        assertThat(problems.get(0), containsString("step 3: variant v0, trace says v1"));
        assertThat(problems.get(1), containsString("step 5: latent sum"));
        assertThat(g.compare(variants.subList(0, 9), sums.subList(0, 9)).get(0),
                containsString("9 steps run, trace has 10"));
    }

    @Test
    public void withinToleranceIsAMatch() {
        GoldenTrace g = GoldenTrace.load(Bundle.open(TestData.bundleDir()));
        List<Checksums> sums = traceChecksums(g);
        Checksums c = sums.get(0);
        double tol = g.tolerance() * Math.max(1, Math.abs(c.absSum()));
        sums.set(0, new Checksums(c.sum(), c.absSum() + 0.5 * tol, c.sumSq(), c.first()));
        assertTrue(g.compare(traceVariants(g), sums).isEmpty());
        sums.set(0, new Checksums(c.sum(), c.absSum() + 2 * tol, c.sumSq(), c.first()));
        assertEquals(1, g.compare(traceVariants(g), sums).size());
    }
}
