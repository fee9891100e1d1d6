package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** float16 conversions, which float16 bundles rely on; checked exhaustively and at rounding ties. */
public class HalfTest {
    @Test
    public void everyHalfRoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.toFloat((short) h);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(f))));
            } else {
                assertEquals("half 0x" + Integer.toHexString(h), (short) h, Half.fromFloat(f));
            }
        }
    }

    @Test
    public void knownValues() {
        assertEquals(0x3c00, Half.fromFloat(1f));
        assertEquals((short) 0xc000, Half.fromFloat(-2f));
        assertEquals(0x7bff, Half.fromFloat(65504f));
        assertEquals(0x7c00, Half.fromFloat(65520f));
        assertEquals(0x0001, Half.fromFloat(0x1p-24f));
        assertEquals(0.333251953125f, Half.toFloat(Half.fromFloat(1f / 3)), 0f);
    }

    @Test
    public void tiesRoundToEven() {
        assertEquals(0x3c00, Half.fromFloat(1f + 0x1p-11f));
        assertEquals(0x3c02, Half.fromFloat(1f + 3 * 0x1p-11f));
        assertEquals(0x0000, Half.fromFloat(0x1p-25f));
        assertEquals(0x0002, Half.fromFloat(1.5f * 0x1p-24f));
        assertEquals(0x0400, Half.fromFloat(0x1p-14f - 0x1p-25f));
    }
}
