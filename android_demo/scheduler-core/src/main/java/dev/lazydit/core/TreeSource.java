package dev.lazydit.core;

import java.io.IOException;
import java.io.InputStream;

/**
 * A read-only tree of files addressed by '/'-separated paths, as Android's AssetManager presents the
 * APK's assets: {@link #list} gives a folder's children and nothing for a file.
 */
public interface TreeSource {
    /** The names of {@code path}'s children; empty when {@code path} is a file. */
    String[] list(String path) throws IOException;

    InputStream open(String path) throws IOException;
}
