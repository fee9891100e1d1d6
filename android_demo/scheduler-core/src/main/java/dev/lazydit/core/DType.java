package dev.lazydit.core;

/** Element types a bundle's tensors may have (the manifest's {@code dtype} strings). */
public enum DType {
    FLOAT32("float32", 4),
    FLOAT16("float16", 2),
    INT32("int32", 4);

    private final String manifestName;
    private final int byteSize;

    DType(String manifestName, int byteSize) {
        this.manifestName = manifestName;
        this.byteSize = byteSize;
    }

    /** The name used in manifest.json, e.g. {@code "float32"}. */
    public String manifestName() {
        return manifestName;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype named {@code name}, or {@code null} when the name is not one of ours. */
    public static DType fromManifestName(String name) {
        for (DType d : values()) {
            if (d.manifestName.equals(name)) {
                return d;
            }
        }
        return null;
    }
}
