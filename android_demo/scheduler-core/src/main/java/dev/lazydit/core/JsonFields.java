package dev.lazydit.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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

    private static final TypeAdapter<JsonElement> ELEMENT = new Gson().getAdapter(JsonElement.class);

    /**
     * Parses {@code path} as strict JSON (RFC 8259), the way Python's json module reads it, except that
     * the NaN and Infinity literals are refused here. Gson's own entry points ({@code JsonParser},
     * {@code Gson.fromJson}) parse leniently: comments, single quotes, unquoted keys and values, so a
     * manifest the Python runtime refuses would load on the phone.
     *
     * @param hint appended to a "cannot be read" message, e.g. "; re-export the bundle"
     */
    static JsonElement readStrict(File path, String hint) {
        try (Reader r = new InputStreamReader(new FileInputStream(path), StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT))) {
            JsonReader reader = new JsonReader(r);
            reader.setLenient(false);
            JsonElement e = ELEMENT.read(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new MalformedJsonException("text after the JSON value");
            }
            return e;
        } catch (MalformedJsonException | EOFException | JsonParseException | IllegalStateException
                 | NumberFormatException e) {
            // JsonReader reports a document cut short as EOFException, an IOException like a failed read.
            throw new BundleException(path + ": not valid JSON (" + jsonProblem(e) + ")" + hint);
        } catch (CharacterCodingException e) {
            throw new BundleException(path + ": not valid JSON (not UTF-8 text)" + hint);
        } catch (IOException e) {
            throw new BundleException(path + ": cannot be read (" + e.getMessage() + ")" + hint);
        }
    }

    /**
     * Gson's message without its advice to the programmer ("Use JsonReader.setLenient(true) to
     * accept ...") and without the troubleshooting URL it puts on a second line.
     */
    private static String jsonProblem(Exception e) {
        String msg = String.valueOf(e.getMessage());
        int see = msg.indexOf("See https://");
        msg = see > 0 ? msg.substring(0, see) : msg;
        msg = msg.replaceFirst("^Use JsonReader\\.set\\w+\\([^)]*\\) to accept ", "");
        return BundleException.oneLine(msg);
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

    /**
     * A finite number. Strict parsing already refuses the NaN and Infinity literals, but a literal
     * too large for a double (1e400) still parses, as Infinity; a scheduler fed that would produce
     * an all-NaN image instead of an error.
     */
    double asNumber(JsonElement e, String path) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(path, "expected a number");
        }
        double v = e.getAsDouble();
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            throw error(path, e + " is " + v + ", not a finite number");
        }
        return v;
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
