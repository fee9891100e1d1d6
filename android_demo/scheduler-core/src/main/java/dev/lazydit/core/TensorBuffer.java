package dev.lazydit.core;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;

/**
 * One tensor's storage, allocated once: a direct, native-order buffer, which ExecuTorch's
 * {@code Tensor.fromBlob(FloatBuffer/ShortBuffer/IntBuffer, shape)} wraps without copying, so a
 * graph input built once keeps seeing the values the scheduler writes here step after step.
 */
public final class TensorBuffer {
    private final String name;
    private final TensorSpec spec;
    private final ByteBuffer bytes;
    private final FloatBuffer floats;
    private final ShortBuffer halves;
    private final IntBuffer ints;

    private TensorBuffer(String name, TensorSpec spec) {
        this.name = name;
        this.spec = spec;
        this.bytes = ByteBuffer.allocateDirect(spec.byteSize()).order(ByteOrder.nativeOrder());
        this.floats = spec.dtype() == DType.FLOAT32 ? bytes.asFloatBuffer() : null;
        this.halves = spec.dtype() == DType.FLOAT16 ? bytes.asShortBuffer() : null;
        this.ints = spec.dtype() == DType.INT32 ? bytes.asIntBuffer() : null;
    }

    /** A zero-filled buffer for the tensor {@code name} of {@code spec}. */
    public static TensorBuffer allocate(String name, TensorSpec spec) {
        return new TensorBuffer(name, spec);
    }

    /** Sets every element to zero. */
    public void clear() {
        for (int i = 0; i < bytes.capacity(); i++) {
            bytes.put(i, (byte) 0);
        }
    }

    /** The manifest name this buffer holds (x, t, y, coef or a cache slot). */
    public String name() {
        return name;
    }

    public TensorSpec spec() {
        return spec;
    }

    public int numel() {
        return spec.numel();
    }

    public float getFloat(int i) {
        switch (spec.dtype()) {
            case FLOAT32:
                return floats.get(i);
            case FLOAT16:
                return Half.toFloat(halves.get(i));
            default:
                return ints.get(i);
        }
    }

    /** Stores {@code v} converted to the buffer's dtype (float16 rounds to nearest even, like numpy). */
    public void setFloat(int i, float v) {
        switch (spec.dtype()) {
            case FLOAT32:
                floats.put(i, v);
                break;
            case FLOAT16:
                halves.put(i, Half.fromFloat(v));
                break;
            default:
                throw new IllegalStateException(name + " is " + spec + ", not floating point");
        }
    }

    public int getInt(int i) {
        return ints().get(i);
    }

    public void setInt(int i, int v) {
        ints().put(i, v);
    }

    /** Overwrites every element; {@code values.length} must equal {@link #numel()}. */
    public void setFloats(float[] values) {
        requireLength(values.length);
        if (floats != null) {
            floatView().put(values);
        } else {
            for (int i = 0; i < values.length; i++) {
                setFloat(i, values[i]);
            }
        }
    }

    /** The values widened to float, in C order. */
    public float[] toFloatArray() {
        float[] out = new float[numel()];
        if (floats != null) {
            floatView().get(out);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    /** Copies {@code src}'s bytes in place; both must have the same spec. */
    public void copyFrom(TensorBuffer src) {
        if (!src.spec.equals(spec)) {
            throw new IllegalArgumentException("cannot copy " + src.spec + " into " + name + " " + spec);
        }
        byteView().put(src.byteView());
    }

    /** The float32 storage positioned at 0, for zero-copy wrapping or bulk copies. */
    public FloatBuffer floatView() {
        if (floats == null) {
            throw new IllegalStateException(name + " is " + spec + ", not float32");
        }
        return rewound(floats);
    }

    /** The float16 storage (raw half bits) positioned at 0. */
    public ShortBuffer halfView() {
        if (halves == null) {
            throw new IllegalStateException(name + " is " + spec + ", not float16");
        }
        return rewound(halves);
    }

    /** The int32 storage positioned at 0. */
    public IntBuffer intView() {
        return rewound(ints());
    }

    /** The raw bytes (native order) positioned at 0. */
    public ByteBuffer byteView() {
        return rewound(bytes);
    }

    /** The contents as little-endian bytes, the layout of the bundle's .bin files. */
    public byte[] toLittleEndianBytes() {
        byte[] out = new byte[spec.byteSize()];
        ByteBuffer le = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        int n = numel();
        for (int i = 0; i < n; i++) {
            switch (spec.dtype()) {
                case FLOAT32:
                    le.putInt(Float.floatToRawIntBits(floats.get(i)));
                    break;
                case FLOAT16:
                    le.putShort(halves.get(i));
                    break;
                default:
                    le.putInt(ints.get(i));
            }
        }
        return out;
    }

    /** Overwrites the contents from little-endian bytes of exactly this tensor's size. */
    public void readLittleEndian(byte[] data) {
        if (data.length != spec.byteSize()) {
            throw new IllegalArgumentException(name + " needs " + spec.byteSize() + " bytes, got " + data.length);
        }
        ByteBuffer le = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int n = numel();
        for (int i = 0; i < n; i++) {
            switch (spec.dtype()) {
                case FLOAT32:
                    floats.put(i, Float.intBitsToFloat(le.getInt()));
                    break;
                case FLOAT16:
                    halves.put(i, le.getShort());
                    break;
                default:
                    ints.put(i, le.getInt());
            }
        }
    }

    private IntBuffer ints() {
        if (ints == null) {
            throw new IllegalStateException(name + " is " + spec + ", not int32");
        }
        return ints;
    }

    private void requireLength(int n) {
        if (n != numel()) {
            throw new IllegalArgumentException(name + " holds " + numel() + " values, got " + n);
        }
    }

    /**
     * Resets the position through {@link Buffer}: the covariant {@code FloatBuffer.clear()} of Java 9+
     * is missing on older Android releases and would fail there at run time.
     */
    private static <B extends Buffer> B rewound(B buffer) {
        ((Buffer) buffer).clear();
        return buffer;
    }

    @Override
    public String toString() {
        return name + " " + spec;
    }
}
