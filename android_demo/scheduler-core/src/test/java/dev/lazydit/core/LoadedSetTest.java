package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

/** Only what is on screen stays loaded, and the old bundle is released before the new one loads. */
public class LoadedSetTest {
    private final List<String> events = new ArrayList<>();

    /** Stands for a loaded bundle: records when it is opened and closed. */
    private final class Held implements AutoCloseable {
        final String name;
        boolean closed;

        Held(String name) {
            this.name = name;
            events.add("open " + name);
        }

        @Override
        public void close() {
            assertFalse(name + " closed twice", closed);
            closed = true;
            events.add("close " + name);
        }
    }

    @Test
    public void switchingBundlesReleasesTheOldOneBeforeLoadingTheNew() {
        LoadedSet<String, Held> set = new LoadedSet<>(2);
        Held a = set.acquire(Collections.singletonList("a"), Held::new).get(0);
        assertSame(a, set.acquire(Collections.singletonList("a"), Held::new).get(0));
        set.acquire(Collections.singletonList("b"), Held::new);
        assertEquals(Arrays.asList("open a", "close a", "open b"), events);
        assertTrue(a.closed);
        assertEquals(1, set.size());
    }

    @Test
    public void sideBySideHoldsTwoAndGoingBackToOneReleasesTheOther() {
        LoadedSet<String, Held> set = new LoadedSet<>(2);
        List<Held> both = set.acquire(Arrays.asList("lazy", "ddim"), Held::new);
        assertEquals(Arrays.asList("lazy", "ddim"), Arrays.asList(both.get(0).name, both.get(1).name));
        set.acquire(Arrays.asList("lazy", "ddim"), Held::new);
        assertEquals(2, set.size());
        set.acquire(Collections.singletonList("ddim"), Held::new);
        assertEquals(Arrays.asList("open lazy", "open ddim", "close lazy"), events);
        assertThrows(IllegalArgumentException.class, () -> set.acquire(Arrays.asList("a", "b", "c"), Held::new));
        set.clear();
        assertEquals(0, set.size());
        assertEquals("close ddim", events.get(events.size() - 1));
    }

    @Test
    public void aFailedLoadReleasesEverythingAndRethrowsTheSameError() {
        LoadedSet<String, Held> set = new LoadedSet<>(2);
        set.acquire(Collections.singletonList("lazy"), Held::new);
        OutOfMemoryError oom = new OutOfMemoryError("Failed to allocate 268435456 bytes");
        OutOfMemoryError thrown = assertThrows(OutOfMemoryError.class, () -> set.acquire(Arrays.asList("lazy", "ddim"),
                key -> {
                    if (key.equals("ddim")) {
                        throw oom;
                    }
                    return new Held(key);
                }));
        assertSame(oom, thrown);
        assertEquals(0, set.size());
        assertEquals(Arrays.asList("open lazy", "close lazy"), events);
    }

    @Test
    public void retainOnlyKeepsWhatIsStillShownAndAFailingCloseDoesNotKeepTheRest() {
        LoadedSet<String, AutoCloseable> set = new LoadedSet<>(2);
        set.acquire(Arrays.asList("a", "b"), key -> (AutoCloseable) () -> {
            events.add("close " + key);
            throw new IllegalStateException("Cannot destroy module while method is executing");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> set.retainOnly(Collections.<String>emptyList()));
        assertEquals(Arrays.asList("close a", "close b"), events);
        assertEquals(1, e.getSuppressed().length);
        assertEquals(0, set.size());
        assertFalse(set.isLoaded("a"));
    }
}
