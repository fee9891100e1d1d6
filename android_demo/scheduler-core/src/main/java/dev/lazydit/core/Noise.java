package dev.lazydit.core;

import java.util.SplittableRandom;

/**
 * The app's initial noise: standard normal values from a seed, identical on every JVM and Android
 * release (SplittableRandom's sequence is specified).
 *
 * <p>This is not numpy's PCG64 sequence, so the same seed gives a different image here than in
 * {@code lazydit sample}; runs that must match the host use the bundle's golden/noise.bin instead.
 */
public final class Noise {
    private Noise() {
    }

    public static float[] gaussian(long seed, int count) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] out = new float[count];
        for (int i = 0; i < count; i += 2) {
            // Box-Muller: two independent normals from two uniforms; 1 - u keeps log's argument > 0.
            double r = Math.sqrt(-2.0 * Math.log(1.0 - rng.nextDouble()));
            double theta = 2.0 * Math.PI * rng.nextDouble();
            out[i] = (float) (r * Math.cos(theta));
            if (i + 1 < count) {
                out[i + 1] = (float) (r * Math.sin(theta));
            }
        }
        return out;
    }
}
