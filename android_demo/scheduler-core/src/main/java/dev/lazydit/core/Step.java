package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/**
 * One sampling step of the manifest: its timestep, DDIM coefficients, the variant that runs it and,
 * for a forecasting variant of schema 2, the forecast ratios that variant's {@code ratio} input gets.
 */
public final class Step {
    private final int index;
    private final int timestep;
    private final String variant;
    private final double[] coef;
    private final List<String> reads;
    private final List<String> writes;
    /** The manifest's {@code ratio}, or {@code null} when the step has none (kept apart from an empty list). */
    private final double[] ratio;

    /** A step without forecast ratios. */
    public Step(int index, int timestep, String variant, double[] coef, List<String> reads, List<String> writes) {
        this(index, timestep, variant, coef, reads, writes, null);
    }

    /** @param ratio the step's {@code ratio} list, or {@code null} when the manifest gives it none */
    public Step(int index, int timestep, String variant, double[] coef, List<String> reads, List<String> writes,
                double[] ratio) {
        this.index = index;
        this.timestep = timestep;
        this.variant = variant;
        this.coef = coef.clone();
        this.reads = Collections.unmodifiableList(reads);
        this.writes = Collections.unmodifiableList(writes);
        this.ratio = ratio == null ? null : ratio.clone();
    }

    public int index() {
        return index;
    }

    public int timestep() {
        return timestep;
    }

    public String variant() {
        return variant;
    }

    public double[] coef() {
        return coef.clone();
    }

    public List<String> reads() {
        return reads;
    }

    public List<String> writes() {
        return writes;
    }

    /**
     * Whether the manifest gives this step a {@code ratio} list. Its absence and an empty list differ:
     * a step whose variant takes no ratios must not carry the key at all, as runtime/bundle.py checks.
     */
    public boolean hasRatio() {
        return ratio != null;
    }

    /** The forecast ratios, one per entry of the variant's {@code ratio_slots}; empty when there are none. */
    public double[] ratio() {
        return ratio == null ? new double[0] : ratio.clone();
    }
}
