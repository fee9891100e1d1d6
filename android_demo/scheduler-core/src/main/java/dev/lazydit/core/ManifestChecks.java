package dev.lazydit.core;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Consistency between manifest fields, ported from runtime/bundle.py's {@code _validate_consistency}:
 * tensor shapes against the model config, slot names, variant input/output order, forecast ratios
 * that match their variant, and a step plan that never reads a cache slot before some earlier step
 * wrote it (but the old value of a slot whose delta the same step writes, which starts as zeros).
 */
final class ManifestChecks {
    private static final String DELTA = "_delta";

    private ManifestChecks() {
    }

    static void check(Manifest m, File path) {
        checkShapes(m, path);
        checkVariants(m, path);
        checkSteps(m, path);
    }

    private static void checkShapes(Manifest m, File path) {
        Manifest.ModelConfig c = m.config;
        int tokens = (c.inputSize / c.patchSize) * (c.inputSize / c.patchSize);
        // Classifier-free guidance runs the conditional and unconditional halves in one batch.
        int cacheBatch = m.batch * (m.guidanceScale != 1.0 ? 2 : 1);
        Object[][] expected = {
            {"x", new int[] {m.batch, c.inChannels, c.inputSize, c.inputSize}},
            {"x_next", new int[] {m.batch, c.inChannels, c.inputSize, c.inputSize}},
            {"t", new int[] {1}},
            {"y", new int[] {m.batch}},
            {"coef", new int[] {4}},
            {"cache", new int[] {cacheBatch, tokens, c.hiddenSize}},
        };
        for (Object[] e : expected) {
            String name = (String) e[0];
            int[] want = (int[]) e[1];
            int[] got = m.tensors.get(name).shape();
            if (!Arrays.equals(got, want)) {
                throw new BundleException(path + ": tensor " + name + " has shape " + Arrays.toString(got)
                        + ", the model config needs " + Arrays.toString(want));
            }
        }
        // The Python scheduler always feeds t as float32 and y as int32; a port must agree.
        requireDType(m, path, "t", DType.FLOAT32);
        requireDType(m, path, "y", DType.INT32);
        if (m.tensors.get("x").dtype() == DType.INT32 || m.tensors.get("cache").dtype() == DType.INT32) {
            throw new BundleException(path + ": tensors x and cache must be floating point; re-export the bundle");
        }
    }

    /**
     * The decoder's output: tensors.image, the image section's (batch, channels, height, width), since the
     * app draws the decoded image with the image section's size; floating point, as the steps' tensors.
     */
    private static void checkImage(Manifest m, File path) {
        TensorSpec image = m.tensors.get("image");
        if (image == null) {
            throw new BundleException(path + ": the bundle has a decoder but no tensors/image (the decoded image's"
                    + " shape); re-export the bundle");
        }
        int[] want = {m.batch, m.imageChannels, m.imageHeight, m.imageWidth};
        if (!Arrays.equals(image.shape(), want)) {
            throw new BundleException(path + ": tensor image has shape " + Arrays.toString(image.shape())
                    + ", the image section needs " + Arrays.toString(want) + "; re-export the bundle");
        }
        if (image.dtype() == DType.INT32) {
            throw new BundleException(path + ": tensor image must be floating point; re-export the bundle");
        }
    }

    private static void requireDType(Manifest m, File path, String name, DType want) {
        DType got = m.tensors.get(name).dtype();
        if (got != want) {
            throw new BundleException(path + ": tensor " + name + " has dtype " + got.manifestName()
                    + ", the scheduler feeds " + want.manifestName() + "; re-export the bundle");
        }
    }

    private static void checkVariants(Manifest m, File path) {
        Set<String> slots = new HashSet<>(m.slots);
        for (Variant v : m.variants.values()) {
            for (List<String> names : Arrays.asList(v.reads(), v.writes())) {
                for (String s : names) {
                    if (!slots.contains(s)) {
                        throw new BundleException(path + ": variant " + v.name() + " uses undeclared cache slot " + s);
                    }
                }
            }
            // The scheduler feeds exactly this order, so any other is a graph it would run on the wrong tensors.
            List<String> want = new ArrayList<>(Arrays.asList("x", "t", "y", "coef"));
            if (v.takesRatio()) {
                want.add("ratio");
            }
            want.addAll(v.reads());
            if (!v.inputs().equals(want)) {
                throw new BundleException(path + ": variant " + v.name() + " inputs must be x, t, y, coef, "
                        + (v.takesRatio() ? "ratio, " : "") + "then its reads");
            }
            for (String s : v.ratioSlots()) {
                if (!s.endsWith(DELTA) || !v.reads().contains(s)) {
                    throw new BundleException(path + ": variant " + v.name() + " ratio slot " + s
                            + " is not a delta slot it reads");
                }
            }
            // The scheduler copies outputs[1:] into the written slots in order, so the order is part of the contract.
            List<String> out = v.outputs();
            boolean ordered = out.size() == 1 + v.writes().size() && out.get(0).equals("x_next");
            for (int i = 0; ordered && i < v.writes().size(); i++) {
                ordered = out.get(i + 1).equals("new_" + v.writes().get(i));
            }
            if (!ordered) {
                throw new BundleException(path + ": variant " + v.name()
                        + " outputs must be x_next, then new_<slot> for each slot it writes");
            }
        }
    }

    private static void checkSteps(Manifest m, File path) {
        Set<String> written = new HashSet<>();
        for (Step s : m.steps) {
            Variant v = m.variants.get(s.variant());
            if (v == null) {
                throw new BundleException(path + ": step " + s.index() + " uses unknown variant " + s.variant());
            }
            if (!s.reads().equals(v.reads()) || !s.writes().equals(v.writes())) {
                throw new BundleException(path + ": step " + s.index() + " slots disagree with variant " + v.name());
            }
            int ratios = v.ratioSlots().size();
            if (s.ratio().length != ratios || s.hasRatio() != (ratios > 0)) {
                throw new BundleException(path + ": step " + s.index() + " has " + s.ratio().length
                        + " forecast ratios, variant " + v.name() + " takes " + ratios + "; re-export the bundle");
            }
            // A module that writes a delta reads its old output, which is the slot's initial zeros the first time.
            Set<String> olds = new HashSet<>();
            for (String w : s.writes()) {
                if (w.endsWith(DELTA)) {
                    olds.add(w.substring(0, w.length() - DELTA.length()));
                }
            }
            for (String r : s.reads()) {
                if (!written.contains(r) && !olds.contains(r)) {
                    throw new BundleException(path + ": step " + s.index() + " reads " + r + " before any step writes it");
                }
            }
            written.addAll(s.writes());
        }
        for (int i = 0; i < m.steps.size(); i++) {
            if (m.steps.get(i).index() != i) {
                throw new BundleException(path + ": steps must be listed in order 0..N-1");
            }
        }
        for (Map.Entry<String, Set<String>> t : m.targetGraphs.entrySet()) {
            for (String v : m.variants.keySet()) {
                if (!t.getValue().contains(v)) {
                    throw new BundleException(path + ": variant " + v + " has no " + t.getKey() + " "
                            + ManifestParser.GRAPH_WORDS.get(t.getKey()) + "; re-export the bundle");
                }
            }
        }
        if (m.hasDecoder) {
            for (String target : m.targetFiles.keySet()) {
                if (!m.targetsWithDecoder.contains(target)) {
                    throw new BundleException(path + ": the bundle has a decoder but its " + target
                            + " target has no decoder graph");
                }
            }
            checkImage(m, path);
        }
    }
}
