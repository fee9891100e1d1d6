package dev.lazydit.core;

import java.util.Collections;
import java.util.List;

/** One generation: the image, the final latent, and where the time went. */
public final class RunResult {
    private final float[] image;
    private final float[] latent;
    private final double[] stepMs;
    private final List<String> variants;
    private final double totalMs;
    private final double decodeMs;
    private final boolean decoded;

    RunResult(float[] image, float[] latent, double[] stepMs, List<String> variants, double totalMs, double decodeMs,
              boolean decoded) {
        this.image = image;
        this.latent = latent;
        this.stepMs = stepMs;
        this.variants = Collections.unmodifiableList(variants);
        this.totalMs = totalMs;
        this.decodeMs = decodeMs;
        this.decoded = decoded;
    }

    /**
     * The image (B, C, H, W) in C order, in the manifest's value range: a latent bundle's decoded image
     * ({@code tensors.image}), else the final latent, which is a pixel-space model's image.
     */
    public float[] image() {
        return image.clone();
    }

    /** The last step's latent (x_next), before a decoder; the same values as {@link #image()} without one. */
    public float[] latent() {
        return latent.clone();
    }

    /** Whether the run decoded the latent (the bundle has a decoder). */
    public boolean decoded() {
        return decoded;
    }

    /** Wall time of each step's graph, in step order. */
    public double[] stepMs() {
        return stepMs.clone();
    }

    /** Wall time of the decoder graph; 0 for a run that did not decode. */
    public double decodeMs() {
        return decodeMs;
    }

    /** The variant each step ran. */
    public List<String> variants() {
        return variants;
    }

    /** Wall time of the whole run: the step loop and the decoder, as runtime/scheduler.py's total. */
    public double totalMs() {
        return totalMs;
    }
}
