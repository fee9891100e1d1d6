package dev.lazydit.core;

import static org.junit.Assert.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Rewrites the tiny bundle's manifest (interval:2, holding: v0 computes and writes the four slots, v1
 * reads them) into the interval:2 forecasting manifest of schema 2: v0 also reads the old slots and
 * writes their deltas (against the initial zeros on step 0), v1 takes the ratio input and reads slots
 * and deltas. Only the manifest changes, the graphs stay the holding ones: these tests exercise the
 * Java core's validation and the inputs its scheduler hands a runner, without a second export.
 *
 * <p>The ratios differ per step and per slot (step 1's are all 0, as the exporter writes them), and
 * every one is exact in float16, so a test can tell which step's values a graph was fed.
 */
final class ForecastManifest {
    static final List<String> SLOTS = Arrays.asList("cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp");

    private ForecastManifest() {
    }

    static List<String> deltas() {
        List<String> out = new ArrayList<>();
        for (String s : SLOTS) {
            out.add(s + "_delta");
        }
        return out;
    }

    /** The k-th forecast ratio of step {@code step} (an odd step, which runs v1). */
    static double ratio(int step, int k) {
        return step == 1 ? 0.0 : step / 16.0 + k / 64.0;
    }

    /** The schema-2 forecasting manifest. */
    static void schema2(JsonObject m) {
        assertEquals(SLOTS, strings(m.getAsJsonArray("slots")));
        List<String> deltas = deltas();
        List<String> all = new ArrayList<>(SLOTS);
        all.addAll(deltas);
        m.add("slots", array(all));
        JsonObject v0 = variant(m, 0, "v0");
        set(v0, SLOTS, all, false);
        JsonObject v1 = variant(m, 1, "v1");
        set(v1, all, new ArrayList<String>(), true);
        v1.add("ratio_slots", array(deltas));
        JsonArray steps = m.getAsJsonArray("steps");
        for (int i = 0; i < steps.size(); i++) {
            JsonObject s = steps.get(i).getAsJsonObject();
            JsonObject v = s.get("variant").getAsString().equals("v0") ? v0 : v1;
            s.add("reads", v.get("reads").deepCopy());
            s.add("writes", v.get("writes").deepCopy());
            if (v == v1) {
                JsonArray r = new JsonArray();
                for (int k = 0; k < deltas.size(); k++) {
                    r.add(ratio(i, k));
                }
                s.add("ratio", r);
            }
        }
        m.addProperty("schema_version", 2);
    }

    /**
     * The same schedule as a schema-1 exporter wrote it: the ratio baked into v1's graph, recorded in its
     * {@code forecast} table, no ratio input and no per-step ratios.
     */
    static void schema1(JsonObject m) {
        schema2(m);
        JsonObject v1 = variant(m, 1, "v1");
        v1.remove("ratio_slots");
        JsonObject table = new JsonObject();
        for (String d : deltas()) {
            table.addProperty(d, 0.5);
        }
        v1.add("forecast", table);
        List<String> inputs = strings(v1.getAsJsonArray("inputs"));
        inputs.remove("ratio");
        v1.add("inputs", array(inputs));
        for (int i = 0; i < m.getAsJsonArray("steps").size(); i++) {
            m.getAsJsonArray("steps").get(i).getAsJsonObject().remove("ratio");
        }
        m.addProperty("schema_version", 1);
    }

    static JsonObject variant(JsonObject m, int i, String name) {
        JsonObject v = m.getAsJsonArray("variants").get(i).getAsJsonObject();
        assertEquals(name, v.get("name").getAsString());
        return v;
    }

    /** Sets a variant's reads and writes, with the inputs and outputs they imply. */
    private static void set(JsonObject v, List<String> reads, List<String> writes, boolean ratio) {
        List<String> inputs = new ArrayList<>(Arrays.asList("x", "t", "y", "coef"));
        if (ratio) {
            inputs.add("ratio");
        }
        inputs.addAll(reads);
        List<String> outputs = new ArrayList<>();
        outputs.add("x_next");
        for (String w : writes) {
            outputs.add("new_" + w);
        }
        v.add("reads", array(reads));
        v.add("writes", array(writes));
        v.add("inputs", array(inputs));
        v.add("outputs", array(outputs));
    }

    static JsonArray array(List<String> names) {
        JsonArray a = new JsonArray();
        for (String n : names) {
            a.add(n);
        }
        return a;
    }

    static List<String> strings(JsonArray a) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            out.add(a.get(i).getAsString());
        }
        return out;
    }
}
