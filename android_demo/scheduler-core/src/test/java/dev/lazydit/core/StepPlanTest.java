package dev.lazydit.core;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** The step plan of the real bundle against its golden trace and its schedule. */
public class StepPlanTest {
    @Test
    public void planFollowsTheGoldenTrace() {
        Bundle bundle = Bundle.open(TestData.bundleDir());
        StepPlan plan = StepPlan.of(bundle.manifest());
        GoldenTrace golden = GoldenTrace.load(bundle);
        assertEquals(golden.steps().size(), plan.size());
        List<String> traceVariants = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            GoldenTrace.TraceStep ref = golden.steps().get(i);
            StepPlan.Entry e = plan.get(i);
            traceVariants.add(ref.variant());
            assertEquals(ref.reads(), e.reads());
            assertEquals(ref.writes(), e.writes());
        }
        assertEquals(traceVariants, plan.variantNames());
    }

    @Test
    public void lazyFractionsFollowTheIntervalSchedule() {
        Manifest m = Bundle.open(TestData.bundleDir()).manifest();
        StepPlan plan = StepPlan.of(m);
        // interval:2 computes every module on even steps and replays all four caches on odd ones.
        for (int i = 0; i < plan.size(); i++) {
            assertEquals("step " + i, i % 2 == 0 ? 0.0 : 1.0, plan.get(i).lazyFraction(), 0);
        }
        assertEquals(5, plan.lazySteps());
        assertEquals(m.laziness(), plan.laziness(), 1e-12);
    }
}
