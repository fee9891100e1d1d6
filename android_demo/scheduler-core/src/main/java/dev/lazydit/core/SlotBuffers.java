package dev.lazydit.core;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The cache slots (one per DiT block module), each allocated once with the manifest's cache shape
 * and overwritten in place by the steps that write it; never reallocated between steps or runs.
 */
public final class SlotBuffers {
    private final Map<String, TensorBuffer> slots = new LinkedHashMap<>();

    public SlotBuffers(Manifest manifest) {
        for (String slot : manifest.slots()) {
            slots.put(slot, TensorBuffer.allocate(slot, manifest.tensor(slot)));
        }
    }

    public TensorBuffer get(String slot) {
        TensorBuffer b = slots.get(slot);
        if (b == null) {
            throw new IllegalArgumentException("no cache slot named " + slot);
        }
        return b;
    }

    public Collection<TensorBuffer> all() {
        return Collections.unmodifiableCollection(slots.values());
    }

    /** Bytes held by all slots together (the cache's memory cost). */
    public long totalBytes() {
        long n = 0;
        for (TensorBuffer b : slots.values()) {
            n += b.spec().byteSize();
        }
        return n;
    }
}
