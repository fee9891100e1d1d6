package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/** One sampling step of the manifest: its timestep, DDIM coefficients and the variant that runs it. */
public final class Step {
    private final int index;
    private final int timestep;
    private final String variant;
    private final double[] coef;
    private final List<String> reads;
    private final List<String> writes;

    public Step(int index, int timestep, String variant, double[] coef, List<String> reads, List<String> writes) {
        this.index = index;
        this.timestep = timestep;
        this.variant = variant;
        this.coef = coef.clone();
        this.reads = Collections.unmodifiableList(reads);
        this.writes = Collections.unmodifiableList(writes);
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
}
