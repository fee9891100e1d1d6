package dev.lazydit.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns manifest.json into a {@link Manifest}, enforcing the parts of runtime/manifest.schema.json
 * that a scheduler depends on: required fields, types, integer minimums, tensor dtypes, name
 * patterns. Consistency between fields is {@link ManifestChecks}' job.
 */
final class ManifestParser {
    /**
     * Schema versions this port reads; keep in step with the Python runtime's list. Version 2 feeds a
     * forecasting graph its ratios per step (variants' {@code ratio_slots}, steps' {@code ratio});
     * version 1 baked them into the graphs.
     */
    static final int[] SUPPORTED_SCHEMA_VERSIONS = {1, 2};

    private static final String[] REQUIRED = {
        "schema_version", "format", "model", "image", "classes", "batch", "guidance_scale", "dtype",
        "schedule", "tensors", "slots", "variants", "steps", "targets", "files", "exporter",
    };
    private static final String[] REQUIRED_TENSORS = {"x", "t", "y", "coef", "x_next", "cache"};
    private static final Pattern SLOT = Pattern.compile("cache_[0-9]+_(attn|mlp)(_delta)?");
    private static final Pattern RATIO_SLOT = Pattern.compile("cache_[0-9]+_(attn|mlp)_delta");
    private static final Pattern VARIANT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** Where a target keeps one graph per variant (runtime/bundle.py's {@code _TARGET_GRAPHS}). */
    static final Map<String, String> GRAPH_KEYS = new LinkedHashMap<>();
    /** What one such graph is called in an error: "variant v1 has no executorch method". */
    static final Map<String, String> GRAPH_WORDS = new LinkedHashMap<>();

    static {
        String[][] table = {{"executorch", "methods", "method"}, {"onnx", "graphs", "graph"},
            {"coreml", "functions", "function"}};
        for (String[] row : table) {
            GRAPH_KEYS.put(row[0], row[1]);
            GRAPH_WORDS.put(row[0], row[2]);
        }
    }

    private final File path;
    private final JsonFields f;

    ManifestParser(File manifestPath) {
        this.path = manifestPath;
        this.f = new JsonFields(manifestPath, "invalid manifest");
    }

    /** Refuses unknown versions before anything else is read, so old runtimes fail with a clear reason. */
    void checkSchemaVersion(JsonElement root) {
        JsonElement version = root.isJsonObject() ? root.getAsJsonObject().get("schema_version") : null;
        for (int supported : SUPPORTED_SCHEMA_VERSIONS) {
            if (version != null && version.isJsonPrimitive() && version.getAsJsonPrimitive().isNumber()
                    && version.getAsDouble() == supported) {
                return;
            }
        }
        StringBuilder known = new StringBuilder();
        for (int v : SUPPORTED_SCHEMA_VERSIONS) {
            known.append(known.length() == 0 ? "" : ", ").append(v);
        }
        throw new BundleException(path + ": unknown schema_version " + JsonFields.show(version)
                + " (this runtime reads " + known + "); upgrade the app or re-export the bundle");
    }

    Manifest parse(JsonObject m, String fallbackName) {
        for (String key : REQUIRED) {
            f.required(m, "", key);
        }
        if (!"lazydit-bundle".equals(f.string(m, "", "format"))) {
            throw f.error("format", "expected 'lazydit-bundle'");
        }
        JsonObject model = f.object(m, "", "model");
        JsonObject cfg = f.object(model, "model", "config");
        Manifest.ModelConfig config = new Manifest.ModelConfig(
                f.integer(cfg, "model/config", "input_size", 1), f.integer(cfg, "model/config", "patch_size", 1),
                f.integer(cfg, "model/config", "in_channels", 1), f.integer(cfg, "model/config", "hidden_size", 1),
                f.integer(cfg, "model/config", "depth", 1));
        JsonObject image = f.object(m, "", "image");
        double[] range = image.has("value_range") ? f.numbers(image, "image", "value_range") : new double[] {-1, 1};
        if (range.length != 2) {
            throw f.error("image/value_range", "expected 2 numbers");
        }
        JsonObject classes = f.object(m, "", "classes");
        String dtype = f.string(m, "", "dtype");
        if (!dtype.equals("float32") && !dtype.equals("float16")) {
            throw f.error("dtype", "'" + dtype + "' is not one of ['float32', 'float16']");
        }
        JsonObject schedule = f.object(m, "", "schedule");
        double laziness = f.number(schedule, "schedule", "laziness");
        if (laziness < 0 || laziness > 1) {
            throw f.error("schedule/laziness", laziness + " is outside [0, 1]");
        }
        JsonObject targets = f.object(m, "", "targets");
        if (targets.size() == 0) {
            throw f.error("targets", "expected at least one target");
        }
        Map<String, List<String>> targetFiles = new LinkedHashMap<>();
        Map<String, Set<String>> targetGraphs = new LinkedHashMap<>();
        Set<String> withDecoder = new LinkedHashSet<>();
        for (String target : targets.keySet()) {
            JsonObject t = f.object(targets, "targets", target);
            targetFiles.put(target, targetFiles(t, target));
            String key = GRAPH_KEYS.get(target);
            if (key != null) {
                // Absent counts as empty, as in runtime/bundle.py: every variant then lacks its graph.
                targetGraphs.put(target, t.has(key)
                        ? new LinkedHashSet<>(f.object(t, "targets/" + target, key).keySet())
                        : Collections.<String>emptySet());
            }
            if (t.has("decoder")) {
                withDecoder.add(target);
            }
        }
        List<String> scheduleFiles = new ArrayList<>();
        scheduleFiles.add(f.string(schedule, "schedule", "file"));
        if (schedule.has("heatmap")) {
            scheduleFiles.add(f.string(schedule, "schedule", "heatmap"));
        }
        String etFile = null;
        Map<String, String> etMethods = null;
        String etDecoder = null;
        if (targets.has("executorch")) {
            JsonObject et = targets.getAsJsonObject("executorch");
            etFile = f.string(et, "targets/executorch", "file");
            etMethods = stringMap(f.object(et, "targets/executorch", "methods"), "targets/executorch/methods");
            if (et.has("decoder")) {
                etDecoder = f.string(et, "targets/executorch", "decoder");
            }
        }
        String decoderName = null;
        double latentScale = Double.NaN;
        if (m.has("decoder")) {
            // runtime/manifest.schema.json's decoder: a name, and the fixed input and output names.
            JsonObject d = f.object(m, "", "decoder");
            decoderName = f.string(d, "decoder", "name");
            if (!f.strings(d, "decoder", "inputs").equals(Collections.singletonList("latent"))) {
                throw f.error("decoder/inputs", "expected ['latent']");
            }
            if (!f.strings(d, "decoder", "outputs").equals(Collections.singletonList("image"))) {
                throw f.error("decoder/outputs", "expected ['image']");
            }
            if (d.has("latent_scale")) {
                latentScale = f.number(d, "decoder", "latent_scale");
            }
        }
        JsonObject exporter = f.object(m, "", "exporter");
        int schemaVersion = f.integer(m, "", "schema_version", 1);
        return new Manifest(
                schemaVersion,
                f.optionalString(m, "name", fallbackName),
                config,
                f.string(model, "model", "fingerprint"),
                f.integer(image, "image", "channels", 1), f.integer(image, "image", "height", 1),
                f.integer(image, "image", "width", 1), range,
                f.integer(classes, "classes", "count", 1), f.strings(classes, "classes", "names"),
                f.integer(m, "", "batch", 1), f.number(m, "", "guidance_scale"), dtype,
                f.string(schedule, "schedule", "source"), laziness,
                tensors(f.object(m, "", "tensors")), slots(m), variants(m, schemaVersion), steps(m),
                targetFiles, etFile, etMethods, files(f.object(m, "", "files")),
                f.optionalString(exporter, "executorch", null), scheduleFiles, targetGraphs,
                m.has("decoder"), withDecoder, decoderName, latentScale, etDecoder);
    }

    /** Where each target keeps its graphs (mirrors runtime/bundle.py's {@code _target_files}). */
    private List<String> targetFiles(JsonObject t, String target) {
        String where = "targets/" + target;
        List<String> out = new ArrayList<>();
        switch (target) {
            case "executorch":
                out.add(f.string(t, where, "file"));
                break;
            case "onnx":
                out.addAll(stringMap(f.object(t, where, "graphs"), where + "/graphs").values());
                out.add(f.string(t, where, "weights"));
                addDecoder(t, where, out);
                break;
            case "coreml":
                out.add(f.string(t, where, "package"));
                break;
            case "torch":
                out.add(f.string(t, where, "weights"));
                addDecoder(t, where, out);
                break;
            default:
                // Targets added after this port was written carry no files it knows how to check.
                break;
        }
        return out;
    }

    private void addDecoder(JsonObject t, String where, List<String> out) {
        if (t.has("decoder")) {
            out.add(f.string(t, where, "decoder"));
        }
    }

    private Map<String, String> stringMap(JsonObject o, String path) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            out.put(e.getKey(), f.asString(e.getValue(), path + "/" + e.getKey()));
        }
        return out;
    }

    private Map<String, TensorSpec> tensors(JsonObject t) {
        for (String name : REQUIRED_TENSORS) {
            f.object(t, "tensors", name);
        }
        Map<String, TensorSpec> out = new LinkedHashMap<>();
        for (String name : t.keySet()) {
            JsonObject spec = f.object(t, "tensors", name);
            String where = "tensors/" + name;
            int[] shape = f.integers(spec, where, "shape", 1);
            if (shape.length == 0) {
                throw f.error(where + "/shape", "[] should be non-empty");
            }
            String dt = f.string(spec, where, "dtype");
            DType dtype = DType.fromManifestName(dt);
            if (dtype == null) {
                throw f.error(where + "/dtype", "'" + dt + "' is not one of ['float32', 'float16', 'int32']");
            }
            out.put(name, new TensorSpec(shape, dtype));
        }
        return out;
    }

    private List<String> slots(JsonObject m) {
        List<String> slots = f.strings(m, "", "slots");
        for (int i = 0; i < slots.size(); i++) {
            if (!SLOT.matcher(slots.get(i)).matches()) {
                throw f.error("slots/" + i, "'" + slots.get(i) + "' does not match '^cache_[0-9]+_(attn|mlp)(_delta)?$'");
            }
            if (slots.indexOf(slots.get(i)) != i) {
                throw f.error("slots", "has non-unique elements");
            }
        }
        return slots;
    }

    private Map<String, Variant> variants(JsonObject m, int schemaVersion) {
        JsonArray arr = f.array(m, "", "variants");
        if (arr.size() == 0) {
            throw f.error("variants", "[] should be non-empty");
        }
        Map<String, Variant> out = new LinkedHashMap<>();
        for (int i = 0; i < arr.size(); i++) {
            String where = "variants/" + i;
            if (!arr.get(i).isJsonObject()) {
                throw f.error(where, "expected an object");
            }
            JsonObject v = arr.get(i).getAsJsonObject();
            String name = f.string(v, where, "name");
            if (!VARIANT.matcher(name).matches()) {
                throw f.error(where + "/name", "'" + name + "' does not match '^[A-Za-z_][A-Za-z0-9_]*$'");
            }
            if (v.has("forecast")) {
                JsonObject table = f.object(v, where, "forecast");
                if (schemaVersion >= 2) {
                    // A schema-2 graph takes its ratios as an input; a table here means an exporter mixed the two.
                    throw new BundleException(path + ": variant " + name + " has a schema-1 forecast table; schema 2"
                            + " feeds ratios per step (ratio_slots); re-export the bundle");
                }
                for (Map.Entry<String, JsonElement> r : table.entrySet()) {
                    // The ratio scales a cache delta on every lazy step; NaN there would reach every pixel.
                    f.asNumber(r.getValue(), where + "/forecast/" + r.getKey());
                }
            }
            List<String> ratioSlots = v.has("ratio_slots") ? ratioSlots(v, where, name, schemaVersion)
                    : Collections.<String>emptyList();
            List<String> reads = f.strings(v, where, "reads");
            // Older bundles may lack skipped_modules; every skipped module reads exactly one slot.
            int skipped = f.optionalInteger(v, where, "skipped_modules", 0, reads.size());
            out.put(name, new Variant(name, f.strings(v, where, "inputs"), f.strings(v, where, "outputs"), reads,
                    f.strings(v, where, "writes"), skipped, ratioSlots));
        }
        return out;
    }

    /**
     * A variant's {@code ratio_slots}: a non-empty list of delta slot names, only in schema 2 (a schema-1
     * runtime would not feed the ratio input, so the graph would run on the wrong tensors).
     */
    private List<String> ratioSlots(JsonObject v, String where, String name, int schemaVersion) {
        List<String> slots = f.strings(v, where, "ratio_slots");
        if (slots.isEmpty()) {
            throw f.error(where + "/ratio_slots", "[] should be non-empty");
        }
        for (int k = 0; k < slots.size(); k++) {
            if (!RATIO_SLOT.matcher(slots.get(k)).matches()) {
                throw f.error(where + "/ratio_slots/" + k,
                        "'" + slots.get(k) + "' does not match '^cache_[0-9]+_(attn|mlp)_delta$'");
            }
        }
        if (schemaVersion < 2) {
            throw new BundleException(path + ": variant " + name + " has ratio_slots, which need schema_version 2");
        }
        return slots;
    }

    /**
     * A step's {@code ratio} list. Each value scales a cache delta on its step, so a non-finite one is
     * refused with the step's index, as runtime/bundle.py words it, rather than with a JSON path.
     */
    private double[] ratio(JsonObject s, String where, int index) {
        JsonArray a = f.array(s, where, "ratio");
        double[] out = new double[a.size()];
        for (int k = 0; k < a.size(); k++) {
            JsonElement e = a.get(k);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw f.error(where + "/ratio/" + k, "expected a number");
            }
            out[k] = e.getAsDouble();
            if (Double.isNaN(out[k]) || Double.isInfinite(out[k])) {
                throw new BundleException(path + ": step " + index + " ratio is " + out[k]
                        + ", not a finite number; the manifest is damaged, re-export it");
            }
        }
        return out;
    }

    private List<Step> steps(JsonObject m) {
        JsonArray arr = f.array(m, "", "steps");
        if (arr.size() == 0) {
            throw f.error("steps", "[] should be non-empty");
        }
        List<Step> out = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            String where = "steps/" + i;
            if (!arr.get(i).isJsonObject()) {
                throw f.error(where, "expected an object");
            }
            JsonObject s = arr.get(i).getAsJsonObject();
            double[] coef = f.numbers(s, where, "coef");
            if (coef.length != 4) {
                throw f.error(where + "/coef", Arrays.toString(coef) + " should have exactly 4 numbers");
            }
            int index = f.integer(s, where, "index", 0);
            double[] ratio = s.has("ratio") ? ratio(s, where, index) : null;
            out.add(new Step(index, f.integer(s, where, "timestep", 0), f.string(s, where, "variant"), coef,
                    f.strings(s, where, "reads"), f.strings(s, where, "writes"), ratio));
        }
        return out;
    }

    private Map<String, Manifest.FileEntry> files(JsonObject files) {
        Map<String, Manifest.FileEntry> out = new LinkedHashMap<>();
        for (String rel : files.keySet()) {
            JsonObject e = f.object(files, "files", rel);
            String where = "files/" + rel;
            String sha = f.string(e, where, "sha256");
            if (!SHA256.matcher(sha).matches()) {
                throw f.error(where + "/sha256", "'" + sha + "' is not a lowercase hex sha256");
            }
            out.put(rel, new Manifest.FileEntry(sha, f.wholeNumber(e, where, "bytes")));
        }
        return out;
    }
}
