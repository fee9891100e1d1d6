package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/** One generation: the final latent and where the time went. */
public final class RunResult {
    private final float[] image;
    private final double[] stepMs;
    private final List<String> variants;
    private final double totalMs;

    RunResult(float[] image, double[] stepMs, List<String> variants, double totalMs) {
        this.image = image;
        this.stepMs = stepMs;
        this.variants = Collections.unmodifiableList(variants);
        this.totalMs = totalMs;
    }

    /** The final latent (B, C, H, W) in C order, in the bundle's value range. */
    public float[] image() {
        return image.clone();
    }

    /** Wall time of each step's graph, in step order. */
    public double[] stepMs() {
        return stepMs.clone();
    }

    /** The variant each step ran. */
    public List<String> variants() {
        return variants;
    }

    /** Wall time of the whole step loop. */
    public double totalMs() {
        return totalMs;
    }
}
