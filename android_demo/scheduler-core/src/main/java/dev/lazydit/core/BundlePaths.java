package dev.lazydit.core;

import java.io.File;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Which folders a benchmark started from outside the app may load a bundle from.
 *
 * <p>The benchmark activity is exported (the host starts it with {@code am start}), so any caller on
 * the phone can hand it a {@code bundle_dir}. It accepts the name of a bundle the app found itself, or
 * an absolute path inside one of a few allowed roots (the app's own files dir and
 * {@code /data/local/tmp}, where {@code adb push} can write). A path is judged by where it really
 * leads: {@code ..} segments are refused outright, and symbolic links are resolved before the check,
 * so neither can step outside a root.
 */
public final class BundlePaths {
    private final List<Path> roots;
    private final List<String> rootNames;

    /** @param allowedRoots folders whose sub-folders may be loaded by path; missing ones are skipped. */
    public BundlePaths(List<File> allowedRoots) {
        List<Path> real = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (File root : allowedRoots) {
            names.add(root.getPath());
            try {
                real.add(root.toPath().toRealPath());
            } catch (IOException e) {
                // A root that does not exist holds nothing to allow.
            }
        }
        roots = Collections.unmodifiableList(real);
        rootNames = Collections.unmodifiableList(names);
    }

    /** The real paths of the allowed roots that exist. */
    public List<Path> roots() {
        return roots;
    }

    /**
     * The bundle folder {@code request} names: an absolute path checked against the allowed roots, or
     * the name of one of {@code named} (the bundles the app discovered, by folder name).
     *
     * @param notFoundHint appended to the message when no discovered bundle has that name
     * @throws BundleException one line saying what was refused and why
     */
    public File resolve(String request, Map<String, File> named, String notFoundHint) {
        if (request == null || request.isEmpty()) {
            throw new BundleException("missing bundle: pass --es bundle_dir NAME_OR_PATH (android_demo/README.md)");
        }
        if (request.startsWith("/")) {
            return absolute(request);
        }
        String name = plainName(request, "bundle_dir");
        File dir = named.get(name);
        if (dir == null) {
            throw new BundleException("bundle " + name + " not found; " + notFoundHint);
        }
        return dir;
    }

    /** The real folder behind the absolute {@code path}, when it lies strictly inside an allowed root. */
    public File absolute(String path) {
        if (path.indexOf('\0') >= 0) {
            throw new BundleException("bundle_dir contains a NUL character");
        }
        for (String segment : path.split("/+")) {
            if (segment.equals("..")) {
                throw new BundleException("bundle_dir " + path + ": `..` is not allowed; pass the folder's own path");
            }
        }
        Path real;
        try {
            real = Paths.get(path).toRealPath();
        } catch (NoSuchFileException e) {
            throw new BundleException("bundle folder not found: " + path + "; push it first (android_demo/README.md)");
        } catch (IOException | InvalidPathException e) {
            throw new BundleException("bundle_dir " + path + ": cannot be resolved (" + e.getMessage() + ")");
        }
        for (Path root : roots) {
            if (real.startsWith(root) && !real.equals(root)) {
                if (!real.toFile().isDirectory()) {
                    throw new BundleException("bundle_dir " + path + ": not a folder");
                }
                return real.toFile();
            }
        }
        String where = real.toString().equals(path) ? "" : " (it leads to " + real + ")";
        throw new BundleException("bundle_dir " + path + where + " is outside the folders a benchmark may load from: "
                + String.join(", ", rootNames) + "; push the bundle into one of them or pass a bundle's name");
    }

    /**
     * {@code name} when it is one plain path segment (no separator, not {@code .} or {@code ..}, no
     * leading dot, no control characters); otherwise a BundleException naming {@code what}.
     */
    public static String plainName(String name, String what) {
        boolean ok = !name.isEmpty() && name.charAt(0) != '.' && name.length() <= 255;
        for (int i = 0; ok && i < name.length(); i++) {
            char c = name.charAt(i);
            ok = c != '/' && c != '\\' && c >= 0x20 && c != 0x7f;
        }
        if (!ok) {
            throw new BundleException(what + " " + name + ": must be a plain name (no `/`, no leading `.`)");
        }
        return name;
    }
}
