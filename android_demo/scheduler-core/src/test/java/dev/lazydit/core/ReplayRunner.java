package dev.lazydit.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link GraphRunner} that replays a run of the Python scheduler on the ExecuTorch backend, recorded
 * by tests/test_android_core.py (recording.json plus one little-endian .bin per step input and output).
 *
 * <p>It fails the test unless every call asks for the recorded variant with exactly the recorded
 * inputs, bit for bit, in the recorded order; then it writes the recorded outputs into the output
 * buffers. A latent bundle's recording also holds the decoder call (recording.json's {@code decoder}),
 * which must come after the last step, with the last step's latent. It also remembers which buffer
 * objects it was handed, so tests can check reuse.
 */
final class ReplayRunner implements GraphRunner {
    /** One recorded tensor: its manifest name and its little-endian bytes. */
    static final class Recorded {
        final String name;
        final byte[] bytes;

        Recorded(String name, byte[] bytes) {
            this.name = name;
            this.bytes = bytes;
        }
    }

    /** One recorded graph call. */
    static final class Call {
        final String variant;
        final List<Recorded> inputs;
        final List<Recorded> outputs;

        Call(String variant, List<Recorded> inputs, List<Recorded> outputs) {
            this.variant = variant;
            this.inputs = inputs;
            this.outputs = outputs;
        }
    }

    private final List<Call> calls = new ArrayList<>();
    private final Map<String, Set<TensorBuffer>> buffersByName = new HashMap<>();
    /** The recorded decoder call, or {@code null} for a bundle without a decoder. */
    private final Call decoder;
    private int next;
    private int decodes;

    ReplayRunner(File dir) {
        try {
            JsonObject rec = JsonParser.parseString(new String(
                    Files.readAllBytes(new File(dir, "recording.json").toPath()), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            assertEquals("lazydit-recording/1", rec.get("format").getAsString());
            for (JsonElement e : rec.getAsJsonArray("steps")) {
                JsonObject s = e.getAsJsonObject();
                calls.add(new Call(s.get("variant").getAsString(), read(dir, s.getAsJsonArray("inputs")),
                        read(dir, s.getAsJsonArray("outputs"))));
            }
            JsonObject d = rec.has("decoder") ? rec.getAsJsonObject("decoder") : null;
            decoder = d == null ? null : new Call(d.get("name").getAsString(), read(dir, d.getAsJsonArray("inputs")),
                    read(dir, d.getAsJsonArray("outputs")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Recorded> read(File dir, JsonArray entries) throws IOException {
        List<Recorded> out = new ArrayList<>();
        for (JsonElement e : entries) {
            JsonObject o = e.getAsJsonObject();
            out.add(new Recorded(o.get("name").getAsString(),
                    Files.readAllBytes(new File(dir, o.get("file").getAsString()).toPath())));
        }
        return out;
    }

    List<Call> calls() {
        return Collections.unmodifiableList(calls);
    }

    /** Calls served since the last {@link #rewind()}. */
    int served() {
        return next;
    }

    /** The recorded decoder call, or {@code null}. */
    Call decoderCall() {
        return decoder;
    }

    /** Decoder calls served since the last {@link #rewind()}. */
    int decodes() {
        return decodes;
    }

    /** Starts the replay over, for a second run of the same scheduler. */
    void rewind() {
        next = 0;
        decodes = 0;
    }

    /** Distinct buffer objects handed over under {@code name} (x, t, y, coef or a slot) so far. */
    int distinctBuffers(String name) {
        Set<TensorBuffer> seen = buffersByName.get(name);
        return seen == null ? 0 : seen.size();
    }

    @Override
    public void run(String variant, List<TensorBuffer> inputs, List<TensorBuffer> outputs) {
        assertTrue("more graph calls than the recorded run made", next < calls.size());
        Call call = calls.get(next);
        String where = "step " + next + " (" + variant + ")";
        assertEquals(where + ": variant", call.variant, variant);
        assertEquals(where + ": number of inputs", call.inputs.size(), inputs.size());
        for (int k = 0; k < inputs.size(); k++) {
            Recorded want = call.inputs.get(k);
            TensorBuffer got = inputs.get(k);
            assertEquals(where + ": input " + k, want.name, got.name());
            assertArrayEquals(where + ": input " + want.name + " differs from the recorded run",
                    want.bytes, got.toLittleEndianBytes());
            remember(got);
        }
        assertEquals(where + ": number of outputs", call.outputs.size(), outputs.size());
        for (int k = 0; k < outputs.size(); k++) {
            Recorded want = call.outputs.get(k);
            TensorBuffer dst = outputs.get(k);
            // Output names are x_next and new_<slot>; the scheduler's buffers are named x and <slot>.
            String expected = k == 0 ? "x" : want.name.substring("new_".length());
            assertEquals(where + ": output " + k + " (" + want.name + ") goes to", expected, dst.name());
            dst.readLittleEndian(want.bytes);
            remember(dst);
        }
        next++;
    }

    @Override
    public void decode(TensorBuffer latent, TensorBuffer image) {
        assertTrue("a decoder call, but the recorded run had no decoder", decoder != null);
        assertEquals("the decoder ran before the last step", calls.size(), next);
        assertEquals("the decoder ran twice in one run", 0, decodes);
        // The graph's input is named latent and its output image; the scheduler's buffers are x and image.
        assertEquals("decoder: input latent comes from", "x", latent.name());
        assertArrayEquals("decoder: input latent differs from the recorded run", decoder.inputs.get(0).bytes,
                latent.toLittleEndianBytes());
        assertEquals("decoder: output image goes to", "image", image.name());
        image.readLittleEndian(decoder.outputs.get(0).bytes);
        remember(latent);
        remember(image);
        decodes++;
    }

    private void remember(TensorBuffer b) {
        buffersByName.computeIfAbsent(b.name(), k -> Collections.newSetFromMap(new IdentityHashMap<>())).add(b);
    }
}
