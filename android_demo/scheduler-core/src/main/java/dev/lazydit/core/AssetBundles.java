package dev.lazydit.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bundles shipped in the APK's assets, copied to a folder on disk because ExecuTorch loads a program
 * from a file path, and the listing of bundle folders the app shows.
 */
public final class AssetBundles {
    private AssetBundles() {
    }

    /**
     * Makes {@code copies}/NAME a complete copy of every {@code assetRoot}/NAME. A copy whose
     * manifest equals the asset's and whose files are all present with their listed sizes is kept
     * (the manifest pins every file's sha256, and loading re-verifies all of them); any other is
     * replaced through {@link StagedCopy}. Returns one line per bundle that could not be copied.
     */
    public static List<String> sync(TreeSource assets, String assetRoot, File copies) {
        List<String> problems = new ArrayList<>();
        String[] names;
        try {
            names = assets.list(assetRoot);
        } catch (IOException e) {
            problems.add("cannot list the APK's " + assetRoot + " assets (" + e.getMessage() + ")");
            return problems;
        }
        for (String name : names) {
            File dst = new File(copies, name);
            String path = assetRoot + "/" + name;
            try {
                BundlePaths.plainName(name, "asset bundle");
                if (isCurrent(assets, path, dst)) {
                    continue;
                }
                StagedCopy.install(assets, path, dst, staged -> Bundle.open(staged, false));
            } catch (IOException e) {
                problems.add("cannot copy asset bundle " + name + " to " + dst + " (" + e.getMessage() + ")");
            } catch (BundleException e) {
                problems.add("asset bundle " + name + " is not installed: " + e.getMessage());
            }
        }
        return problems;
    }

    private static boolean isCurrent(TreeSource assets, String path, File dst) throws IOException {
        File manifest = new File(dst, "manifest.json");
        if (!manifest.isFile()) {
            return false;
        }
        byte[] want;
        try (InputStream in = assets.open(path + "/manifest.json")) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                bytes.write(buf, 0, n);
            }
            want = bytes.toByteArray();
        }
        if (!Arrays.equals(want, Files.readAllBytes(manifest.toPath()))) {
            return false;
        }
        try {
            // Sizes only: a copy cut short (left by an older version of the app) is replaced.
            Bundle.open(dst, false);
            return true;
        } catch (BundleException e) {
            return false;
        }
    }

    /**
     * The bundle folders under {@code roots} by folder name, sorted by name within a root; the first
     * root wins a name that is in two. Folders without a manifest.json, hidden folders and the
     * staging folders of an install in progress are not bundles.
     */
    public static Map<String, File> list(List<File> roots) {
        Map<String, File> found = new LinkedHashMap<>();
        for (File root : roots) {
            File[] children = root == null ? null : root.listFiles();
            if (children == null) {
                continue;
            }
            Arrays.sort(children);
            for (File dir : children) {
                String name = dir.getName();
                if (name.startsWith(".") || StagedCopy.isTransient(name) || !new File(dir, "manifest.json").isFile()) {
                    continue;
                }
                found.putIfAbsent(name, dir);
            }
        }
        return found;
    }
}
