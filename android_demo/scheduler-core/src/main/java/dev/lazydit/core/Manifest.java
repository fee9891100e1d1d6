package dev.lazydit.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parts of manifest.json that a scheduler needs, already checked by {@link ManifestParser} and
 * {@link ManifestChecks}. Instances are immutable.
 */
public final class Manifest {
    /** One entry of the manifest's {@code files} table. */
    public static final class FileEntry {
        private final String sha256;
        private final long bytes;

        FileEntry(String sha256, long bytes) {
            this.sha256 = sha256;
            this.bytes = bytes;
        }

        public String sha256() {
            return sha256;
        }

        public long bytes() {
            return bytes;
        }
    }

    /** The model config fields the shape checks and the lazy-step fractions use. */
    public static final class ModelConfig {
        final int inputSize;
        final int patchSize;
        final int inChannels;
        final int hiddenSize;
        final int depth;

        ModelConfig(int inputSize, int patchSize, int inChannels, int hiddenSize, int depth) {
            this.inputSize = inputSize;
            this.patchSize = patchSize;
            this.inChannels = inChannels;
            this.hiddenSize = hiddenSize;
            this.depth = depth;
        }

        public int depth() {
            return depth;
        }
    }

    final int schemaVersion;
    final String name;
    final ModelConfig config;
    final String fingerprint;
    final int imageChannels;
    final int imageHeight;
    final int imageWidth;
    final double[] valueRange;
    final int classCount;
    final List<String> classNames;
    final int batch;
    final double guidanceScale;
    final String dtype;
    final String scheduleSource;
    final double laziness;
    final Map<String, TensorSpec> tensors;
    final List<String> slots;
    final Map<String, Variant> variants;
    final List<Step> steps;
    final Map<String, List<String>> targetFiles;
    final String executorchFile;
    final Map<String, String> executorchMethods;
    final Map<String, FileEntry> files;
    final String exporterExecutorch;
    /** The schedule's own files (schedule.file, and schedule.heatmap when present). */
    final List<String> scheduleFiles;
    /** Per target that keeps one graph per variant: the variant names it has a method/graph/function for. */
    final Map<String, Set<String>> targetGraphs;
    /** Whether the manifest declares a latent decoder, and which targets carry its graph. */
    final boolean hasDecoder;
    final Set<String> targetsWithDecoder;
    /** The decoder section's {@code name} and {@code latent_scale} (NaN when absent); null name without one. */
    final String decoderName;
    final double latentScale;
    /** The decoder's ExecuTorch method (targets.executorch.decoder), or {@code null}. */
    final String executorchDecoder;

    Manifest(int schemaVersion, String name, ModelConfig config, String fingerprint, int imageChannels,
             int imageHeight, int imageWidth, double[] valueRange, int classCount, List<String> classNames,
             int batch, double guidanceScale, String dtype, String scheduleSource, double laziness,
             Map<String, TensorSpec> tensors, List<String> slots, Map<String, Variant> variants, List<Step> steps,
             Map<String, List<String>> targetFiles, String executorchFile, Map<String, String> executorchMethods,
             Map<String, FileEntry> files, String exporterExecutorch, List<String> scheduleFiles,
             Map<String, Set<String>> targetGraphs, boolean hasDecoder, Set<String> targetsWithDecoder,
             String decoderName, double latentScale, String executorchDecoder) {
        this.schemaVersion = schemaVersion;
        this.name = name;
        this.config = config;
        this.fingerprint = fingerprint;
        this.imageChannels = imageChannels;
        this.imageHeight = imageHeight;
        this.imageWidth = imageWidth;
        this.valueRange = valueRange.clone();
        this.classCount = classCount;
        this.classNames = Collections.unmodifiableList(classNames);
        this.batch = batch;
        this.guidanceScale = guidanceScale;
        this.dtype = dtype;
        this.scheduleSource = scheduleSource;
        this.laziness = laziness;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.slots = Collections.unmodifiableList(slots);
        this.variants = Collections.unmodifiableMap(new LinkedHashMap<>(variants));
        this.steps = Collections.unmodifiableList(steps);
        this.targetFiles = Collections.unmodifiableMap(new LinkedHashMap<>(targetFiles));
        this.executorchFile = executorchFile;
        this.executorchMethods = executorchMethods == null ? null
                : Collections.unmodifiableMap(new LinkedHashMap<>(executorchMethods));
        this.files = Collections.unmodifiableMap(new LinkedHashMap<>(files));
        this.exporterExecutorch = exporterExecutorch;
        this.scheduleFiles = Collections.unmodifiableList(new ArrayList<>(scheduleFiles));
        this.targetGraphs = Collections.unmodifiableMap(new LinkedHashMap<>(targetGraphs));
        this.hasDecoder = hasDecoder;
        this.targetsWithDecoder = Collections.unmodifiableSet(new LinkedHashSet<>(targetsWithDecoder));
        this.decoderName = decoderName;
        this.latentScale = latentScale;
        this.executorchDecoder = executorchDecoder;
    }

    /**
     * Every path the manifest names (runtime/bundle.py's {@code manifest_paths}): the listed files,
     * each target's graphs and weights, the schedule file and its heat map. {@link Bundle#open} checks
     * each one with {@link Containment} before it opens any file of the bundle.
     */
    public List<String> paths() {
        List<String> out = new ArrayList<>(files.keySet());
        for (List<String> t : targetFiles.values()) {
            out.addAll(t);
        }
        out.addAll(scheduleFiles);
        return out;
    }

    public int schemaVersion() {
        return schemaVersion;
    }

    /** The bundle's name (the manifest's {@code name}, or its folder name when absent). */
    public String name() {
        return name;
    }

    public ModelConfig config() {
        return config;
    }

    public String fingerprint() {
        return fingerprint;
    }

    public int imageChannels() {
        return imageChannels;
    }

    public int imageHeight() {
        return imageHeight;
    }

    public int imageWidth() {
        return imageWidth;
    }

    /**
     * The value range of the image a run produces ({@link RunResult#image()}): the decoded image of a
     * latent model with a decoder, else the final latent; {@code [-1, 1]} for both kinds the exporter writes.
     */
    public double[] valueRange() {
        return valueRange.clone();
    }

    public int classCount() {
        return classCount;
    }

    public List<String> classNames() {
        return classNames;
    }

    /** Images generated per run. */
    public int batch() {
        return batch;
    }

    public double guidanceScale() {
        return guidanceScale;
    }

    public String dtype() {
        return dtype;
    }

    /** How the schedule was made, e.g. {@code interval:2}, {@code dense} or a calibration. */
    public String scheduleSource() {
        return scheduleSource;
    }

    /** Fraction of module evaluations the schedule skips (0 for dense DDIM). */
    public double laziness() {
        return laziness;
    }

    /** Spec of a tensor by manifest name; {@code cache_*} slot names map to the shared cache spec. */
    public TensorSpec tensor(String name) {
        TensorSpec spec = tensors.get(name.startsWith("cache_") ? "cache" : name);
        if (spec == null) {
            throw new IllegalArgumentException("no tensor named " + name);
        }
        return spec;
    }

    /**
     * Spec of a variant's {@code ratio} input (runtime/bundle.py's {@code ratio_spec}), or {@code null}
     * when it takes none: one value per {@code ratio_slots} entry, in the dtype of {@code coef}, since
     * the manifest declares no tensor of its own for it (its length differs from variant to variant).
     */
    public TensorSpec ratioSpec(Variant v) {
        return v.takesRatio() ? new TensorSpec(new int[] {v.ratioSlots().size()}, tensor("coef").dtype()) : null;
    }

    public List<String> slots() {
        return slots;
    }

    public Map<String, Variant> variants() {
        return variants;
    }

    public Variant variant(String name) {
        Variant v = variants.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no variant named " + name);
        }
        return v;
    }

    public List<Step> steps() {
        return steps;
    }

    /** Target names (executorch, onnx, coreml, torch) this bundle was exported for. */
    public List<String> targets() {
        return Collections.unmodifiableList(new ArrayList<>(targetFiles.keySet()));
    }

    public boolean hasTarget(String target) {
        return targetFiles.containsKey(target);
    }

    /** Relative paths (files or folders) that hold a target's graphs and weights. */
    public List<String> targetFiles(String target) {
        List<String> files = targetFiles.get(target);
        return files == null ? Collections.<String>emptyList() : files;
    }

    /** Relative path of the ExecuTorch program, or {@code null} without an executorch target. */
    public String executorchFile() {
        return executorchFile;
    }

    /** Variant name to ExecuTorch method name, or {@code null} without an executorch target. */
    public Map<String, String> executorchMethods() {
        return executorchMethods;
    }

    public Map<String, FileEntry> files() {
        return files;
    }

    /**
     * Whether the bundle is a latent model with a decoder graph: the scheduler then decodes the last
     * step's latent into {@code tensors.image}, of shape (batch, imageChannels, imageHeight, imageWidth).
     */
    public boolean hasDecoder() {
        return hasDecoder;
    }

    /** The decoder's graph name (the manifest's {@code decoder.name}, e.g. {@code decode}), or {@code null}. */
    public String decoderName() {
        return decoderName;
    }

    /** The VAE latent scale the decoder graph divides by (informational; the graph applies it), or NaN. */
    public double latentScale() {
        return latentScale;
    }

    /** The decoder's ExecuTorch method name, or {@code null} without a decoder or an executorch target. */
    public String executorchDecoder() {
        return executorchDecoder;
    }

    /** The executorch version that exported the bundle, or {@code null} when not recorded. */
    public String exporterExecutorch() {
        return exporterExecutorch;
    }
}
