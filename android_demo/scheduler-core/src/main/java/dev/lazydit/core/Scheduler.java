package dev.lazydit.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The step loop of runtime/scheduler.py: for each step, feed the step's graph the latent, timestep,
 * labels, coefficients, (forecasting, schema 2) the step's forecast ratios and the cache slots it
 * reads; keep the slots it writes. All math is in the graphs; this class only moves tensors. A latent
 * bundle's decoder graph then turns the last step's latent into the image.
 *
 * <p>Every buffer is allocated once, in the constructor. The latent alternates between two buffers
 * (step i reads one and the graph writes the next latent into the other), so no step copies or
 * allocates a tensor, and each step's input and output lists are built once up front. A forecasting
 * step's ratios never change between runs, so each such step gets its own {@code ratio} buffer, filled
 * in the coef dtype here once, rather than one buffer rewritten (and converted again) every step. The
 * decoder reads the latent buffer the last step wrote and writes an image buffer allocated once too.
 *
 * <p>Cache slots start as zeros: a forecasting full step's first delta is taken against them, and the
 * next skip multiplies it by a ratio of 0. The slots a step reads before any step wrote them are zeroed
 * again at the start of every run, so every run feeds the graphs what the golden run fed them.
 */
public final class Scheduler {
    private final Manifest manifest;
    private final GraphRunner runner;
    private final StepPlan plan;
    private final SlotBuffers slots;
    private final TensorBuffer[] latents = new TensorBuffer[2];
    private final TensorBuffer t;
    private final TensorBuffer y;
    private final TensorBuffer coef;
    private final List<List<TensorBuffer>> inputs = new ArrayList<>();
    private final List<List<TensorBuffer>> outputs = new ArrayList<>();
    /** The decoder's output, or {@code null} for a bundle without a decoder. */
    private final TensorBuffer image;
    private final List<TensorBuffer> zeroAtStart = new ArrayList<>();

    public Scheduler(Manifest manifest, GraphRunner runner) {
        this.manifest = manifest;
        this.runner = runner;
        this.plan = StepPlan.of(manifest);
        this.slots = new SlotBuffers(manifest);
        latents[0] = TensorBuffer.allocate("x", manifest.tensor("x"));
        latents[1] = TensorBuffer.allocate("x", manifest.tensor("x"));
        t = TensorBuffer.allocate("t", manifest.tensor("t"));
        y = TensorBuffer.allocate("y", manifest.tensor("y"));
        coef = TensorBuffer.allocate("coef", manifest.tensor("coef"));
        for (StepPlan.Entry e : plan.entries()) {
            int i = e.index();
            List<TensorBuffer> in = new ArrayList<>();
            in.add(latents[i % 2]);
            in.add(t);
            in.add(y);
            in.add(coef);
            TensorSpec ratioSpec = manifest.ratioSpec(e.variant());
            if (ratioSpec != null) {
                in.add(ratioBuffer(ratioSpec, e.ratio()));
            }
            for (String s : e.reads()) {
                in.add(slots.get(s));
            }
            List<TensorBuffer> out = new ArrayList<>();
            out.add(latents[(i + 1) % 2]);
            for (String s : e.writes()) {
                out.add(slots.get(s));
            }
            inputs.add(Collections.unmodifiableList(in));
            outputs.add(Collections.unmodifiableList(out));
        }
        image = manifest.hasDecoder() ? TensorBuffer.allocate("image", manifest.tensor("image")) : null;
        Set<String> written = new HashSet<>();
        for (StepPlan.Entry e : plan.entries()) {
            for (String r : e.reads()) {
                if (!written.contains(r) && !zeroAtStart.contains(slots.get(r))) {
                    zeroAtStart.add(slots.get(r));
                }
            }
            written.addAll(e.writes());
        }
    }

    /** A step's {@code ratio} input, its values converted to the coef dtype (through float, as coef's are). */
    private static TensorBuffer ratioBuffer(TensorSpec spec, double[] values) {
        TensorBuffer b = TensorBuffer.allocate("ratio", spec);
        for (int k = 0; k < values.length; k++) {
            b.setFloat(k, (float) values[k]);
        }
        return b;
    }

    public StepPlan plan() {
        return plan;
    }

    public SlotBuffers slots() {
        return slots;
    }

    /** The labels for one run: a single class repeated over the batch. */
    public int[] labels(int cls) {
        int[] out = new int[manifest.batch()];
        Arrays.fill(out, cls);
        return out;
    }

    /** Generates one batch from {@code seed}'s noise (see {@link Noise} for how it relates to the host). */
    public RunResult run(int[] classes, long seed, StepListener listener) {
        return run(classes, Noise.gaussian(seed, manifest.tensor("x").numel()), listener);
    }

    /**
     * Generates one batch from the given initial latent.
     *
     * @param classes one label per image of the batch, each in 0..classCount-1
     * @param noise the initial latent, C order, {@code numel(x)} values
     * @param listener called after every step, or {@code null}
     */
    public RunResult run(int[] classes, float[] noise, StepListener listener) {
        if (classes.length != manifest.batch()) {
            throw new IllegalArgumentException("this bundle generates " + manifest.batch()
                    + " image(s) per run; got " + classes.length + " class labels");
        }
        for (int c : classes) {
            if (c < 0 || c >= manifest.classCount()) {
                throw new IllegalArgumentException("class " + c + " out of range 0.." + (manifest.classCount() - 1));
            }
        }
        if (noise.length != latents[0].numel()) {
            throw new IllegalArgumentException("noise has " + noise.length + " values, the bundle needs "
                    + latents[0].numel() + " " + latents[0].spec());
        }
        latents[0].setFloats(noise);
        for (TensorBuffer slot : zeroAtStart) {
            slot.clear();
        }
        for (int i = 0; i < classes.length; i++) {
            y.setInt(i, classes[i]);
        }
        int n = plan.size();
        double[] stepMs = new double[n];
        List<String> names = new ArrayList<>(n);
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            StepPlan.Entry e = plan.get(i);
            t.setFloat(0, e.timestep());
            double[] c = e.coef();
            for (int k = 0; k < c.length; k++) {
                coef.setFloat(k, (float) c[k]);
            }
            String variant = e.variant().name();
            long t0 = System.nanoTime();
            runner.run(variant, inputs.get(i), outputs.get(i));
            stepMs[i] = (System.nanoTime() - t0) / 1e6;
            names.add(variant);
            if (listener != null) {
                listener.onStep(i, variant, stepMs[i], outputs.get(i).get(0));
            }
        }
        TensorBuffer last = latents[n % 2];
        double decodeMs = 0;
        if (image != null) {
            long t0 = System.nanoTime();
            runner.decode(last, image);
            decodeMs = (System.nanoTime() - t0) / 1e6;
        }
        double totalMs = (System.nanoTime() - start) / 1e6;
        float[] latent = last.toFloatArray();
        // Without a decoder the latent is the image; RunResult hands out copies, so one array serves both.
        return new RunResult(image != null ? image.toFloatArray() : latent, latent, stepMs, names, totalMs, decodeMs,
                image != null);
    }
}
