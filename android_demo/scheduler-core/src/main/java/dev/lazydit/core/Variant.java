package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/**
 * One step graph: which cache slots it reads (the modules it skips) and which it writes (the modules
 * it computes). Its inputs are x, t, y, coef, then the read slots; its outputs x_next, then one new
 * value per written slot.
 */
public final class Variant {
    private final String name;
    private final List<String> inputs;
    private final List<String> outputs;
    private final List<String> reads;
    private final List<String> writes;
    private final int skippedModules;

    public Variant(String name, List<String> inputs, List<String> outputs, List<String> reads,
                   List<String> writes, int skippedModules) {
        this.name = name;
        this.inputs = Collections.unmodifiableList(inputs);
        this.outputs = Collections.unmodifiableList(outputs);
        this.reads = Collections.unmodifiableList(reads);
        this.writes = Collections.unmodifiableList(writes);
        this.skippedModules = skippedModules;
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
}
