package dev.lazydit.core;

/** Called after every step, on the thread that runs the scheduler. */
public interface StepListener {
    /**
     * @param index the step's index
     * @param variant the variant that ran
     * @param millis the graph's wall time
     * @param latent the latent after the step; valid only during the call (the buffer is reused)
     */
    void onStep(int index, String variant, double millis, TensorBuffer latent);
}
