package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import org.junit.Test;

/** The seed field: it can be emptied and retyped, and never holds text that is not a seed. */
public class SeedTextTest {
    @Test
    public void theFieldCanBeClearedAndRetyped() {
        String field = "0";
        field = SeedText.edit(field, "");
        assertEquals("", field);
        assertNull(SeedText.value(field));
        field = SeedText.edit(field, "4");
        field = SeedText.edit(field, "42");
        assertEquals(Long.valueOf(42), SeedText.value(field));
        // Editing in the middle, as a cursor does.
        field = SeedText.edit(field, "412");
        assertEquals(Long.valueOf(412), SeedText.value(field));
    }

    @Test
    public void pastedTextKeepsItsDigitsAndTooLongIsRefused() {
        assertEquals("1234", SeedText.edit("7", " 12-34\n"));
        assertEquals("007", SeedText.edit("", "007"));
        assertEquals(Long.valueOf(7), SeedText.value("007"));
        String max = "999999999999999999";
        assertEquals(max, SeedText.edit("1", max));
        assertEquals(Long.valueOf(999999999999999999L), SeedText.value(max));
        assertEquals("1", SeedText.edit("1", max + "9"));
        assertNull(SeedText.value(max + "9"));
        assertNull(SeedText.value("-1"));
        assertNull(SeedText.value("1e3"));
    }
}
