package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/**
 * One step graph: which cache slots it reads (the modules it skips) and which it writes (the modules
 * it computes). Its inputs are x, t, y, coef, then the read slots; its outputs x_next, then one new
 * value per written slot.
 *
 * <p>A forecasting graph of schema 2 also takes a {@code ratio} input right after coef: one forecast
 * ratio per entry of {@link #ratioSlots()}, fed per step, because the ratios differ from step to step
 * and a graph that baked them in would be needed once per step instead of once per skip pattern.
 */
public final class Variant {
    private final String name;
    private final List<String> inputs;
    private final List<String> outputs;
    private final List<String> reads;
    private final List<String> writes;
    private final int skippedModules;
    private final List<String> ratioSlots;

    /** A variant that takes no ratio input (every schema-1 variant, and every holding one). */
    public Variant(String name, List<String> inputs, List<String> outputs, List<String> reads,
                   List<String> writes, int skippedModules) {
        this(name, inputs, outputs, reads, writes, skippedModules, Collections.<String>emptyList());
    }

    public Variant(String name, List<String> inputs, List<String> outputs, List<String> reads,
                   List<String> writes, int skippedModules, List<String> ratioSlots) {
        this.name = name;
        this.inputs = Collections.unmodifiableList(inputs);
        this.outputs = Collections.unmodifiableList(outputs);
        this.reads = Collections.unmodifiableList(reads);
        this.writes = Collections.unmodifiableList(writes);
        this.skippedModules = skippedModules;
        this.ratioSlots = Collections.unmodifiableList(ratioSlots);
    }

    public String name() {
        return name;
    }

    public List<String> inputs() {
        return inputs;
    }

    public List<String> outputs() {
        return outputs;
    }

    public List<String> reads() {
        return reads;
    }

    public List<String> writes() {
        return writes;
    }

    /** Attention/MLP modules this graph skips (replays from the cache). */
    public int skippedModules() {
        return skippedModules;
    }

    /**
     * The delta slot each element of the {@code ratio} input scales, in order (the manifest's
     * {@code ratio_slots}); empty for a variant that takes no ratio input.
     */
    public List<String> ratioSlots() {
        return ratioSlots;
    }

    /** Whether the graph takes a {@code ratio} input (input index 4). */
    public boolean takesRatio() {
        return !ratioSlots.isEmpty();
    }
}
