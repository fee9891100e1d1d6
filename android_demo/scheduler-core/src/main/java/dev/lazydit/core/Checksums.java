package dev.lazydit.core;

import java.util.Arrays;

/**
 * The golden trace's latent checksums (runtime/golden.py): float64 sums over the float32 values in
 * C order, and the first 8 values.
 */
public final class Checksums {
    public static final int FIRST = 8;

    private final double sum;
    private final double absSum;
    private final double sumSq;
    private final double[] first;

    public Checksums(double sum, double absSum, double sumSq, double[] first) {
        this.sum = sum;
        this.absSum = absSum;
        this.sumSq = sumSq;
        this.first = first.clone();
    }

    public static Checksums of(TensorBuffer x) {
        return of(x.toFloatArray());
    }

    public static Checksums of(float[] values) {
        double sum = 0;
        double absSum = 0;
        double sumSq = 0;
        for (float f : values) {
            double v = f;
            sum += v;
            absSum += Math.abs(v);
            sumSq += v * v;
        }
        double[] first = new double[Math.min(FIRST, values.length)];
        for (int i = 0; i < first.length; i++) {
            first[i] = values[i];
        }
        return new Checksums(sum, absSum, sumSq, first);
    }

    public double sum() {
        return sum;
    }

    public double absSum() {
        return absSum;
    }

    public double sumSq() {
        return sumSq;
    }

    public double[] first() {
        return first.clone();
    }

    @Override
    public String toString() {
        return "sum=" + sum + " abs_sum=" + absSum + " sum_sq=" + sumSq + " first=" + Arrays.toString(first);
    }
}
