package dev.lazydit.core;

import java.util.Arrays;

/** Summary statistics with numpy's conventions, so device and host reports compare directly. */
public final class Stats {
    private Stats() {
    }

    /** numpy.percentile(values, q) with the default linear interpolation; q in [0, 100]. */
    public static double percentile(double[] values, double q) {
        if (values.length == 0) {
            throw new IllegalArgumentException("percentile of no values");
        }
        double[] s = values.clone();
        Arrays.sort(s);
        double pos = q / 100.0 * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }

    public static double median(double[] values) {
        return percentile(values, 50);
    }

    public static double mean(double[] values) {
        double sum = 0;
        for (double v : values) {
            sum += v;
        }
        return sum / values.length;
    }
}
