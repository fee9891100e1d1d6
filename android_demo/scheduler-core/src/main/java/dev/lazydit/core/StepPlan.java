package dev.lazydit.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What runs at each step, in order: the variant, its timestep, coefficients and forecast ratios, the
 * slots it reads and writes, and how lazy the step is (the fraction of the DiT's attention and MLP
 * modules it skips), which the app draws as the lazy-step strip.
 */
public final class StepPlan {
    /** One step of the plan. */
    public static final class Entry {
        private final Step step;
        private final Variant variant;
        private final double lazyFraction;

        Entry(Step step, Variant variant, double lazyFraction) {
            this.step = step;
            this.variant = variant;
            this.lazyFraction = lazyFraction;
        }

        public int index() {
            return step.index();
        }

        public int timestep() {
            return step.timestep();
        }

        public double[] coef() {
            return step.coef();
        }

        /** The values of the variant's {@code ratio} input at this step; empty when it takes none. */
        public double[] ratio() {
            return step.ratio();
        }

        public Variant variant() {
            return variant;
        }

        public List<String> reads() {
            return step.reads();
        }

        public List<String> writes() {
            return step.writes();
        }

        /** Skipped modules over all modules (2 per block), in [0, 1]. */
        public double lazyFraction() {
            return lazyFraction;
        }
    }

    private final List<Entry> entries;

    private StepPlan(List<Entry> entries) {
        this.entries = Collections.unmodifiableList(entries);
    }

    public static StepPlan of(Manifest m) {
        int modules = 2 * m.config().depth();
        List<Entry> out = new ArrayList<>(m.steps().size());
        for (Step s : m.steps()) {
            Variant v = m.variant(s.variant());
            out.add(new Entry(s, v, Math.min(1.0, v.skippedModules() / (double) modules)));
        }
        return new StepPlan(out);
    }

    public List<Entry> entries() {
        return entries;
    }

    public int size() {
        return entries.size();
    }

    public Entry get(int i) {
        return entries.get(i);
    }

    /** Steps that skip at least one module. */
    public int lazySteps() {
        int n = 0;
        for (Entry e : entries) {
            if (e.lazyFraction > 0) {
                n++;
            }
        }
        return n;
    }

    /** Mean lazy fraction over the steps: the schedule's laziness. */
    public double laziness() {
        double sum = 0;
        for (Entry e : entries) {
            sum += e.lazyFraction;
        }
        return entries.isEmpty() ? 0 : sum / entries.size();
    }

    /** The variant name of every step, in order. */
    public List<String> variantNames() {
        List<String> names = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            names.add(e.variant.name());
        }
        return names;
    }
}
