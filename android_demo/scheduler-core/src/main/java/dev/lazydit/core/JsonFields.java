package dev.lazydit.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.File;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed reads from a parsed JSON document whose errors name the file and the JSON path
 * ({@code steps/3/coef}), the way the Python runtime reports schema violations.
 */
final class JsonFields {
    private final File file;
    private final String what;

    /** {@code what} names the document in messages, e.g. "invalid manifest". */
    JsonFields(File file, String what) {
        this.file = file;
        this.what = what;
    }

    BundleException error(String path, String message) {
        String where = path.isEmpty() ? "(top level)" : path;
        return new BundleException(file + ": " + what + " at " + where + ": " + message);
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "/" + key;
    }

    JsonElement required(JsonObject o, String path, String key) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            throw error(path, "'" + key + "' is a required property");
        }
        return e;
    }

    JsonObject object(JsonObject o, String path, String key) {
        JsonElement e = required(o, path, key);
        if (!e.isJsonObject()) {
            throw error(join(path, key), "expected an object");
        }
        return e.getAsJsonObject();
    }

    JsonArray array(JsonObject o, String path, String key) {
        JsonElement e = required(o, path, key);
        if (!e.isJsonArray()) {
            throw error(join(path, key), "expected an array");
        }
        return e.getAsJsonArray();
    }

    String string(JsonObject o, String path, String key) {
        return asString(required(o, path, key), join(path, key));
    }

    String optionalString(JsonObject o, String key, String fallback) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : fallback;
    }

    String asString(JsonElement e, String path) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw error(path, "expected a string");
        }
        return e.getAsString();
    }

    double number(JsonObject o, String path, String key) {
        return asNumber(required(o, path, key), join(path, key));
    }

    double asNumber(JsonElement e, String path) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(path, "expected a number");
        }
        return e.getAsDouble();
    }

    int integer(JsonObject o, String path, String key, int minimum) {
        return asInteger(required(o, path, key), join(path, key), minimum);
    }

    int asInteger(JsonElement e, String path, int minimum) {
        double v = asNumber(e, path);
        if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
            throw error(path, e + " is not an integer");
        }
        if (v < minimum) {
            throw error(path, e + " is less than the minimum of " + minimum);
        }
        return (int) v;
    }

    long wholeNumber(JsonObject o, String path, String key) {
        double v = number(o, path, key);
        if (v != Math.rint(v) || v < 0) {
            throw error(join(path, key), v + " is not a byte count");
        }
        return (long) v;
    }

    int optionalInteger(JsonObject o, String path, String key, int minimum, int fallback) {
        JsonElement e = o.get(key);
        return e == null || e.isJsonNull() ? fallback : asInteger(e, join(path, key), minimum);
    }

    boolean bool(JsonObject o, String path, String key) {
        JsonElement e = required(o, path, key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw error(join(path, key), "expected a boolean");
        }
        return e.getAsBoolean();
    }

    List<String> strings(JsonObject o, String path, String key) {
        JsonArray a = array(o, path, key);
        List<String> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(asString(a.get(i), join(path, key) + "/" + i));
        }
        return out;
    }

    double[] numbers(JsonObject o, String path, String key) {
        JsonArray a = array(o, path, key);
        double[] out = new double[a.size()];
        for (int i = 0; i < a.size(); i++) {
            out[i] = asNumber(a.get(i), join(path, key) + "/" + i);
        }
        return out;
    }

    int[] integers(JsonObject o, String path, String key, int minimum) {
        JsonArray a = array(o, path, key);
        int[] out = new int[a.size()];
        for (int i = 0; i < a.size(); i++) {
            out[i] = asInteger(a.get(i), join(path, key) + "/" + i, minimum);
        }
        return out;
    }

    /** The JSON text of a scalar as Python's repr would show it, for messages about bad values. */
    static String show(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "None";
        }
        if (e.isJsonPrimitive()) {
            JsonPrimitive p = e.getAsJsonPrimitive();
            return p.isString() ? "'" + p.getAsString() + "'" : p.toString();
        }
        return e.toString();
    }
}
