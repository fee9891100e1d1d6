package dev.lazydit.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * A bundle's golden/trace.json (format {@code lazydit-golden/1}, written by runtime/golden.py): what a
 * correct scheduler does at every step. A port matches it when it runs the same variant at every
 * step and every latent checksum agrees within {@code tolerance} relative to max(1, |value|). The trace
 * of a bundle with a decoder also records the decoded image ({@code image}, {@code image_shape},
 * {@code image_checksums}), checked the same way.
 */
public final class GoldenTrace {
    public static final String FORMAT = "lazydit-golden/1";

    /** One step of the trace. */
    public static final class TraceStep {
        private final int index;
        private final String variant;
        private final List<String> reads;
        private final List<String> writes;
        private final Checksums latent;

        TraceStep(int index, String variant, List<String> reads, List<String> writes, Checksums latent) {
            this.index = index;
            this.variant = variant;
            this.reads = Collections.unmodifiableList(reads);
            this.writes = Collections.unmodifiableList(writes);
            this.latent = latent;
        }

        public int index() {
            return index;
        }

        public String variant() {
            return variant;
        }

        public List<String> reads() {
            return reads;
        }

        public List<String> writes() {
            return writes;
        }

        public Checksums latent() {
            return latent;
        }
    }

    private final File dir;
    private final long seed;
    private final int[] classes;
    private final int[] shape;
    private final String noiseFile;
    private final String finalFile;
    private final double tolerance;
    private final List<TraceStep> steps;
    private final Checksums finalChecksums;
    /** The decoded image's file, shape and checksums; all null for a trace without one. */
    private final String imageFile;
    private final int[] imageShape;
    private final Checksums imageChecksums;

    private GoldenTrace(File dir, long seed, int[] classes, int[] shape, String noiseFile, String finalFile,
                        double tolerance, List<TraceStep> steps, Checksums finalChecksums, String imageFile,
                        int[] imageShape, Checksums imageChecksums) {
        this.dir = dir;
        this.seed = seed;
        this.classes = classes;
        this.shape = shape;
        this.noiseFile = noiseFile;
        this.finalFile = finalFile;
        this.tolerance = tolerance;
        this.steps = Collections.unmodifiableList(steps);
        this.finalChecksums = finalChecksums;
        this.imageFile = imageFile;
        this.imageShape = imageShape;
        this.imageChecksums = imageChecksums;
    }

    /**
     * Whether {@code bundle} carries a golden trace; a golden folder or trace that leads out of the
     * bundle is refused (BundleException), not reported as absent.
     */
    public static boolean exists(Bundle bundle) {
        return bundle.file("golden/trace.json").isFile();
    }

    /** Loads {@code golden/trace.json} of a bundle. */
    public static GoldenTrace load(Bundle bundle) {
        File path = bundle.file("golden/trace.json");
        GoldenTrace trace = load(bundle.file("golden"));
        Manifest m = bundle.manifest();
        if (trace.hasImage() && !m.hasDecoder()) {
            throw new BundleException(path + ": trace records a decoded image but the manifest has no decoder;"
                    + " re-export the bundle");
        }
        if (trace.hasImage() && !Arrays.equals(trace.imageShape, m.tensor("image").shape())) {
            throw new BundleException(path + ": trace's image_shape differs from the manifest's tensors/image;"
                    + " re-export the bundle");
        }
        return trace;
    }

    /**
     * Loads {@code dir/trace.json}; errors are one line naming the file. The trace names its noise and
     * final latents; like a manifest's paths they must stay inside {@code dir}.
     */
    public static GoldenTrace load(File dir) {
        File path = Containment.resolve(dir, "trace.json", new File(dir, "trace.json"));
        JsonElement root = JsonFields.readStrict(path, "; re-export the bundle");
        JsonFields f = new JsonFields(path, "invalid golden trace");
        if (!root.isJsonObject()) {
            throw f.error("", "expected an object");
        }
        JsonObject o = root.getAsJsonObject();
        String format = f.string(o, "", "format");
        if (!FORMAT.equals(format)) {
            throw new BundleException(path + ": unknown golden format '" + format + "' (this runtime reads "
                    + FORMAT + "); upgrade the app or re-export the bundle");
        }
        JsonArray arr = f.array(o, "", "steps");
        List<TraceStep> steps = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            String where = "steps/" + i;
            JsonObject s = arr.get(i).getAsJsonObject();
            steps.add(new TraceStep(f.integer(s, where, "index", 0), f.string(s, where, "variant"),
                    f.strings(s, where, "reads"), f.strings(s, where, "writes"),
                    checksums(f, f.object(s, where, "latent"), where + "/latent")));
        }
        String noise = f.string(o, "", "noise");
        String last = f.string(o, "", "final");
        Containment.resolve(dir, noise, path);
        Containment.resolve(dir, last, path);
        String image = null;
        int[] imageShape = null;
        Checksums imageChecksums = null;
        if (o.has("image_checksums")) {
            image = f.string(o, "", "image");
            Containment.resolve(dir, image, path);
            imageShape = f.integers(o, "", "image_shape", 1);
            imageChecksums = checksums(f, f.object(o, "", "image_checksums"), "image_checksums");
        }
        return new GoldenTrace(dir, (long) f.number(o, "", "seed"), f.integers(o, "", "classes", 0),
                f.integers(o, "", "shape", 1), noise, last,
                f.number(o, "", "tolerance"), steps,
                checksums(f, f.object(o, "", "final_checksums"), "final_checksums"), image, imageShape, imageChecksums);
    }

    private static Checksums checksums(JsonFields f, JsonObject c, String where) {
        return new Checksums(f.number(c, where, "sum"), f.number(c, where, "abs_sum"), f.number(c, where, "sum_sq"),
                f.numbers(c, where, "first"));
    }

    public long seed() {
        return seed;
    }

    public int[] classes() {
        return classes.clone();
    }

    public double tolerance() {
        return tolerance;
    }

    public List<TraceStep> steps() {
        return steps;
    }

    public Checksums finalChecksums() {
        return finalChecksums;
    }

    /** Whether the trace records a decoded image (traces of bundles with a decoder). */
    public boolean hasImage() {
        return imageChecksums != null;
    }

    /** The decoded image's checksums, or {@code null} when the trace has none. */
    public Checksums imageChecksums() {
        return imageChecksums;
    }

    /** The decoded image's shape, or {@code null} when the trace has none. */
    public int[] imageShape() {
        return imageShape == null ? null : imageShape.clone();
    }

    public int numel() {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** The run's initial latent (golden/noise.bin). */
    public float[] readNoise() throws IOException {
        return BinFiles.readFloat32(Containment.resolve(dir, noiseFile, new File(dir, "trace.json")), numel());
    }

    /** The run's final latent (golden/final.bin). */
    public float[] readFinal() throws IOException {
        return BinFiles.readFloat32(Containment.resolve(dir, finalFile, new File(dir, "trace.json")), numel());
    }

    /** The decoded image (golden/image.bin); the trace must have one ({@link #hasImage()}). */
    public float[] readImage() throws IOException {
        if (imageFile == null) {
            throw new IllegalStateException(new File(dir, "trace.json") + " records no decoded image");
        }
        int n = 1;
        for (int d : imageShape) {
            n *= d;
        }
        return BinFiles.readFloat32(Containment.resolve(dir, imageFile, new File(dir, "trace.json")), n);
    }

    /**
     * Differences between a run (the variant of each step, the latent checksums after each step) and
     * this trace; empty when they match. Same rules and messages as runtime/golden.py.
     */
    public List<String> compare(List<String> variants, List<Checksums> latents) {
        List<String> problems = new ArrayList<>();
        if (variants.size() != steps.size() || latents.size() != steps.size()) {
            problems.add(variants.size() + " steps run, trace has " + steps.size());
            return problems;
        }
        for (int i = 0; i < steps.size(); i++) {
            TraceStep ref = steps.get(i);
            if (!variants.get(i).equals(ref.variant)) {
                problems.add("step " + i + ": variant " + variants.get(i) + ", trace says " + ref.variant);
            }
            compareChecksums("step " + i + ": latent", latents.get(i), ref.latent, problems);
        }
        return problems;
    }

    /**
     * Runs {@code scheduler} once on this trace's noise and classes and returns every difference from
     * the trace (per-step variants and latents, the final latent, then the decoded image); empty when the
     * port matches. A trace written before traces recorded the decoded image checks the steps only.
     */
    public List<String> check(Scheduler scheduler) throws IOException {
        List<Checksums> latents = new ArrayList<>();
        RunResult run = scheduler.run(classes, readNoise(), (i, variant, ms, latent) -> latents.add(Checksums.of(latent)));
        List<String> problems = compare(run.variants(), latents);
        problems.addAll(compareFinal(Checksums.of(run.latent())));
        if (run.decoded() && hasImage()) {
            problems.addAll(compareImage(Checksums.of(run.image())));
        } else if (hasImage()) {
            problems.add("decoder: the trace records a decoded image, the run produced none");
        }
        return problems;
    }

    /** Differences between a decoded image's checksums and the trace's; empty when they match. */
    public List<String> compareImage(Checksums got) {
        List<String> problems = new ArrayList<>();
        if (imageChecksums == null) {
            problems.add("decoder: the trace records no decoded image");
            return problems;
        }
        // The words of the native runner's golden check: "decoder: image sum 1.5 vs 1.2".
        compareChecksums("decoder: image", got, imageChecksums, problems);
        return problems;
    }

    /** Differences between a final latent's checksums and the trace's; empty when they match. */
    public List<String> compareFinal(Checksums got) {
        List<String> problems = new ArrayList<>();
        compareChecksums("final latent", got, finalChecksums, problems);
        return problems;
    }

    private void compareChecksums(String what, Checksums got, Checksums ref, List<String> problems) {
        check(what + " sum", got.sum(), ref.sum(), problems);
        check(what + " abs_sum", got.absSum(), ref.absSum(), problems);
        check(what + " sum_sq", got.sumSq(), ref.sumSq(), problems);
        double[] a = got.first();
        double[] b = ref.first();
        for (int j = 0; j < Math.min(a.length, b.length); j++) {
            check(what + "[" + j + "]", a[j], b[j], problems);
        }
    }

    private void check(String what, double got, double ref, List<String> problems) {
        if (!(Math.abs(got - ref) <= tolerance * Math.max(1.0, Math.abs(ref)))) {
            problems.add(String.format(Locale.ROOT, "%s %.6g vs %.6g", what, got, ref));
        }
    }
}
