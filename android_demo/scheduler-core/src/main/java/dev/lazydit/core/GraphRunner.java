package dev.lazydit.core;

import java.util.List;

/**
 * Runs one step graph of a bundle, and a latent bundle's decoder graph. The Android app implements it
 * over ExecuTorch's {@code Module}; tests implement it by replaying outputs recorded from the Python
 * scheduler.
 *
 * <p>The scheduler allocates its buffers once and passes the same {@link TensorBuffer} objects on
 * every step and run, so an implementation may wrap each buffer once (keyed by identity) and reuse it.
 */
public interface GraphRunner {
    /**
     * Runs {@code variant}'s graph.
     *
     * @param variant the variant's name (the runner maps it to a method, function or file)
     * @param inputs the variant's inputs in manifest order: x, t, y, coef, then (a variant with
     *     {@code ratio_slots}) the step's ratio, then the slots it reads. A step's ratio buffer is its own
     *     and holds the same values on every run
     * @param outputs where the results go, in the variant's output order: the next latent, then each
     *     slot it writes; every one must be filled completely. Read all inputs before writing any
     *     output: an output can be an input of the same step (a forecasting step reads a slot's old
     *     value to write its delta, and writes the new value into the same slot).
     */
    void run(String variant, List<TensorBuffer> inputs, List<TensorBuffer> outputs);

    /**
     * Runs the bundle's decoder graph (the manifest's {@code decoder}; the runner maps it to its target's
     * {@code decoder} entry). Called once per run, after the last step, only for a bundle with a decoder.
     *
     * @param latent the last step's x_next (the scheduler's buffer named {@code x}), the graph's {@code latent}
     * @param image where the decoded image goes ({@code tensors.image}, buffer named {@code image}); fill it completely
     */
    void decode(TensorBuffer latent, TensorBuffer image);
}
