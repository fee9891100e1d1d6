package dev.lazydit.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The loaded bundles of the app: only the ones on screen stay loaded, at most {@code capacity}.
 *
 * <p>A loaded bundle holds its ExecuTorch program, its methods and every cache slot buffer, which
 * for a real model is hundreds of megabytes of native memory. Before a Generate loads what it needs,
 * every loaded value it does not need is closed, so switching bundles never holds the old and the
 * new one at once; side by side holds two. Not thread-safe: use it from the thread that runs the
 * bundles (ExecuTorch modules are closed on the thread that used them).
 */
public final class LoadedSet<K, V extends AutoCloseable> {
    private final int capacity;
    private final Map<K, V> loaded = new LinkedHashMap<>();

    public LoadedSet(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
    }

    /**
     * The values of {@code keys}, in order: first every other loaded value is closed, then the
     * missing ones are loaded with {@code loader}. If loading throws anything (a bad bundle,
     * OutOfMemoryError, UnsatisfiedLinkError), everything is closed before it is rethrown, so a
     * failure leaves no memory held.
     */
    public List<V> acquire(List<K> keys, Function<? super K, ? extends V> loader) {
        if (keys.size() > capacity) {
            throw new IllegalArgumentException(keys.size() + " bundles requested; at most " + capacity + " stay loaded");
        }
        retainOnly(keys);
        List<V> out = new ArrayList<>(keys.size());
        try {
            for (K key : keys) {
                V value = loaded.get(key);
                if (value == null) {
                    value = loader.apply(key);
                    loaded.put(key, value);
                }
                out.add(value);
            }
        } catch (RuntimeException | Error e) {
            closeAll(loaded.values(), e);
            loaded.clear();
            throw e;
        }
        return out;
    }

    /** Closes and forgets every loaded value whose key is not in {@code keys}. */
    public void retainOnly(Collection<K> keys) {
        List<V> released = new ArrayList<>();
        for (Iterator<Map.Entry<K, V>> it = loaded.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<K, V> e = it.next();
            if (!keys.contains(e.getKey())) {
                released.add(e.getValue());
                it.remove();
            }
        }
        rethrow(closeAll(released, null));
    }

    /** Closes everything (the screen shows no result, or the app is going away). */
    public void clear() {
        List<V> all = new ArrayList<>(loaded.values());
        loaded.clear();
        rethrow(closeAll(all, null));
    }

    public boolean isLoaded(K key) {
        return loaded.containsKey(key);
    }

    public int size() {
        return loaded.size();
    }

    /**
     * Closes each value even if an earlier one fails; the failures are added to {@code primary}
     * (when given) as suppressed, otherwise the first is returned with the rest suppressed.
     */
    private static Throwable closeAll(Collection<? extends AutoCloseable> values, Throwable primary) {
        Throwable first = null;
        for (AutoCloseable v : values) {
            try {
                v.close();
            } catch (Exception | Error e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        return first;
    }

    private static void rethrow(Throwable t) {
        if (t == null) {
            return;
        }
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        throw new IllegalStateException("closing a loaded bundle failed: " + t.getMessage(), t);
    }
}
