package dev.lazydit.core;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The timing report of a benchmark on the device ({@code lazydit-app-report/1}). Its layout follows the
 * native runner's {@code lazydit-native-report/1} (runner, device, bundle, options, load_ms, runs with
 * per-step variant and time, total_ms statistics, per_variant_step_ms, memory, golden), so the host
 * reads both with one parser; it adds {@code step_ms}, {@code per_step_median_ms} and {@code error}.
 * For a bundle with a decoder, as the runner's: {@code load_ms.decoder}, each run's {@code decode_ms}
 * and {@code decode_ms} statistics (a run's {@code total_ms} includes its decode).
 * android_demo/README.md documents every field.
 */
public final class LatencyReport {
    public static final String FORMAT = "lazydit-app-report/1";

    private final JsonObject runner = new JsonObject();
    private final JsonObject device = new JsonObject();
    private final JsonObject bundle = new JsonObject();
    private final JsonObject options = new JsonObject();
    private final Map<String, Double> methodLoadMs = new LinkedHashMap<>();
    private final List<RunResult> runs = new ArrayList<>();
    private Double programLoadMs;
    private Double decoderLoadMs;
    private Long peakRssKb;
    private JsonObject golden;
    private String error;

    /**
     * @param runnerName what produced the report, e.g. {@code lazydit-android-app}
     * @param backend the graph backend, e.g. {@code executorch}
     * @param backendVersion the backend's release, e.g. the executorch-android version, or null
     */
    public LatencyReport(String runnerName, String backend, String backendVersion) {
        runner.addProperty("name", runnerName);
        runner.addProperty("backend", backend);
        runner.add(backend, backendVersion == null ? JsonNull.INSTANCE : new JsonPrimitive(backendVersion));
    }

    /** Records which bundle ran: name, program, steps, variants, schedule, laziness, fingerprint. */
    public LatencyReport bundle(Bundle b) {
        Manifest m = b.manifest();
        StepPlan plan = StepPlan.of(m);
        bundle.addProperty("path", b.root().getPath());
        bundle.addProperty("name", m.name());
        bundle.addProperty("fingerprint", m.fingerprint());
        bundle.addProperty("program", m.executorchFile());
        bundle.addProperty("steps", plan.size());
        bundle.addProperty("variants", m.variants().size());
        bundle.addProperty("batch", m.batch());
        bundle.addProperty("dtype", m.tensor("x").dtype().manifestName());
        bundle.addProperty("schedule", m.scheduleSource());
        bundle.addProperty("laziness", m.laziness());
        bundle.addProperty("lazy_steps", plan.lazySteps());
        bundle.addProperty("exporter_executorch", m.exporterExecutorch());
        bundle.addProperty("decoder", m.hasDecoder() ? m.decoderName() : null);
        return this;
    }

    /** Adds a device fact (model, SoC, Android version, governor, thermal status...). */
    public LatencyReport device(String key, Object value) {
        device.add(key, toJson(value));
        return this;
    }

    /** Adds a benchmark option (warmup, repeat, threads, classes, seed, load_mode...). */
    public LatencyReport option(String key, Object value) {
        options.add(key, toJson(value));
        return this;
    }

    /** Load times: the program, then each method by variant name, in load order. */
    public LatencyReport loadMs(double program, Map<String, Double> methods) {
        return loadMs(program, methods, null);
    }

    /** Load times as above, and the decoder's method ({@code null} for a bundle without a decoder). */
    public LatencyReport loadMs(double program, Map<String, Double> methods, Double decoder) {
        programLoadMs = program;
        methodLoadMs.clear();
        methodLoadMs.putAll(methods);
        decoderLoadMs = decoder;
        return this;
    }

    /** The process's peak resident memory after the timed runs. */
    public LatencyReport peakRssKb(long kb) {
        peakRssKb = kb;
        return this;
    }

    /** Records the golden-trace check run before timing; an empty list means it matched. */
    public LatencyReport golden(List<String> problems) {
        golden = new JsonObject();
        golden.addProperty("checked", true);
        golden.addProperty("ok", problems.isEmpty());
        golden.add("problems", strings(problems));
        return this;
    }

    public LatencyReport addRun(RunResult run) {
        runs.add(run);
        return this;
    }

    /** Marks the benchmark as failed; the message should be one line naming the problem and the fix. */
    public LatencyReport error(String message) {
        this.error = message;
        return this;
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.add("runner", runner);
        o.add("device", device);
        o.add("bundle", bundle);
        o.add("options", options);
        o.add("load_ms", loadJson());
        JsonArray runArray = new JsonArray();
        for (RunResult r : runs) {
            JsonArray steps = new JsonArray();
            double[] ms = r.stepMs();
            for (int i = 0; i < ms.length; i++) {
                JsonObject s = new JsonObject();
                s.addProperty("index", i);
                s.addProperty("variant", r.variants().get(i));
                s.addProperty("ms", ms[i]);
                steps.add(s);
            }
            JsonObject ro = new JsonObject();
            ro.addProperty("total_ms", r.totalMs());
            ro.add("steps", steps);
            // Only for runs that decoded, so a pixel bundle's report reads as it did.
            if (r.decoded()) {
                ro.addProperty("decode_ms", r.decodeMs());
            }
            runArray.add(ro);
        }
        o.add("runs", runArray);
        addSummary(o);
        JsonObject memory = new JsonObject();
        memory.add("peak_rss_kb", peakRssKb == null ? JsonNull.INSTANCE : new JsonPrimitive(peakRssKb));
        o.add("memory", memory);
        if (golden == null) {
            JsonObject unchecked = new JsonObject();
            unchecked.addProperty("checked", false);
            unchecked.add("ok", JsonNull.INSTANCE);
            unchecked.add("problems", new JsonArray());
            o.add("golden", unchecked);
        } else {
            o.add("golden", golden);
        }
        o.add("error", error == null ? JsonNull.INSTANCE : new JsonPrimitive(error));
        return o;
    }

    /** Writes the report as UTF-8 JSON, replacing {@code file} atomically. */
    public void write(File file) throws IOException {
        File tmp = new File(file.getPath() + ".tmp");
        try (Writer w = new OutputStreamWriter(new FileOutputStream(tmp), StandardCharsets.UTF_8)) {
            new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create().toJson(toJson(), w);
            w.write('\n');
        }
        // A reader polling for the file (the host benchmark) must never see half a report.
        if (!tmp.renameTo(file)) {
            throw new IOException("cannot move " + tmp + " to " + file);
        }
    }

    private JsonElement loadJson() {
        if (programLoadMs == null) {
            return JsonNull.INSTANCE;
        }
        JsonObject methods = new JsonObject();
        double methodsTotal = 0;
        for (Map.Entry<String, Double> e : methodLoadMs.entrySet()) {
            methods.addProperty(e.getKey(), e.getValue());
            methodsTotal += e.getValue();
        }
        JsonObject load = new JsonObject();
        load.addProperty("program", programLoadMs);
        load.add("methods", methods);
        load.addProperty("methods_total", methodsTotal);
        // Its own key, not an entry of methods, whose keys are variant names (as the native runner's report).
        if (decoderLoadMs != null) {
            load.addProperty("decoder", decoderLoadMs);
        }
        load.addProperty("total", programLoadMs + methodsTotal + (decoderLoadMs == null ? 0 : decoderLoadMs));
        return load;
    }

    /** total_ms, step_ms, per_variant_step_ms and per_step_median_ms over the timed runs (null without runs). */
    private void addSummary(JsonObject o) {
        if (runs.isEmpty()) {
            for (String key : new String[] {"total_ms", "step_ms", "per_variant_step_ms", "per_step_median_ms"}) {
                o.add(key, JsonNull.INSTANCE);
            }
            return;
        }
        double[] totals = new double[runs.size()];
        List<Double> allSteps = new ArrayList<>();
        Map<String, List<Double>> perVariant = new LinkedHashMap<>();
        int nSteps = runs.get(0).stepMs().length;
        double[][] byStep = new double[nSteps][runs.size()];
        for (int r = 0; r < runs.size(); r++) {
            RunResult run = runs.get(r);
            totals[r] = run.totalMs();
            double[] ms = run.stepMs();
            for (int i = 0; i < ms.length; i++) {
                allSteps.add(ms[i]);
                perVariant.computeIfAbsent(run.variants().get(i), k -> new ArrayList<>()).add(ms[i]);
                if (i < nSteps) {
                    byStep[i][r] = ms[i];
                }
            }
        }
        o.add("total_ms", describe(totals));
        o.add("step_ms", describe(unbox(allSteps)));
        JsonObject pv = new JsonObject();
        for (Map.Entry<String, List<Double>> e : perVariant.entrySet()) {
            pv.add(e.getKey(), describe(unbox(e.getValue())));
        }
        o.add("per_variant_step_ms", pv);
        JsonArray stepMedians = new JsonArray();
        for (int i = 0; i < nSteps; i++) {
            stepMedians.add(Stats.median(byStep[i]));
        }
        o.add("per_step_median_ms", stepMedians);
        List<Double> decodes = new ArrayList<>();
        for (RunResult run : runs) {
            if (run.decoded()) {
                decodes.add(run.decodeMs());
            }
        }
        if (!decodes.isEmpty()) {
            o.add("decode_ms", describe(unbox(decodes)));
        }
    }

    private static JsonObject describe(double[] v) {
        JsonObject o = new JsonObject();
        o.addProperty("median", Stats.median(v));
        o.addProperty("p90", Stats.percentile(v, 90));
        o.addProperty("min", Stats.percentile(v, 0));
        o.addProperty("max", Stats.percentile(v, 100));
        o.addProperty("mean", Stats.mean(v));
        o.addProperty("count", v.length);
        return o;
    }

    private static double[] unbox(List<Double> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    private static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        for (String v : values) {
            a.add(v);
        }
        return a;
    }

    private static JsonElement toJson(Object value) {
        if (value == null) {
            return JsonNull.INSTANCE;
        }
        if (value instanceof Number) {
            return new JsonPrimitive((Number) value);
        }
        if (value instanceof Boolean) {
            return new JsonPrimitive((Boolean) value);
        }
        if (value instanceof int[]) {
            JsonArray a = new JsonArray();
            for (int v : (int[]) value) {
                a.add(v);
            }
            return a;
        }
        if (value instanceof List) {
            JsonArray a = new JsonArray();
            for (Object v : (List<?>) value) {
                a.add(toJson(v));
            }
            return a;
        }
        return new JsonPrimitive(String.valueOf(value));
    }
}
