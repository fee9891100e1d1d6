package dev.lazydit.core;

import java.util.Arrays;

/** Shape and dtype of one tensor of the step graphs, as declared in the manifest. */
public final class TensorSpec {
    private final int[] shape;
    private final DType dtype;

    public TensorSpec(int[] shape, DType dtype) {
        this.shape = shape.clone();
        this.dtype = dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    /** The shape as {@code long[]}, the form ExecuTorch's {@code Tensor.fromBlob} takes. */
    public long[] longShape() {
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            s[i] = shape[i];
        }
        return s;
    }

    public DType dtype() {
        return dtype;
    }

    public int numel() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n > Integer.MAX_VALUE / dtype.byteSize()) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large");
        }
        return (int) n;
    }

    public int byteSize() {
        return numel() * dtype.byteSize();
    }

    public boolean hasShape(int... expected) {
        return Arrays.equals(shape, expected);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec && ((TensorSpec) o).dtype == dtype && Arrays.equals(((TensorSpec) o).shape, shape);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + dtype.hashCode();
    }

    @Override
    public String toString() {
        return dtype.manifestName() + Arrays.toString(shape);
    }
}
