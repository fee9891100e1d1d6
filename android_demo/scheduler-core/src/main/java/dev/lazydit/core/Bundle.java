package dev.lazydit.core;

import com.google.gson.JsonElement;
import java.io.File;
import java.io.IOException;
import java.util.Map;

/**
 * A bundle folder that passed every check of runtime/bundle.py before anything runs: strict JSON,
 * schema version, manifest structure, finite numbers, every named path inside the bundle
 * ({@link Containment}), consistency, presence, size and sha256 of every listed file, and each
 * target's graphs being listed.
 *
 * <p>The app reaches a bundle's files only through {@link #file} and {@link #executorchProgram},
 * which check the path again at the moment it is used.
 */
public final class Bundle {
    private final File root;
    private final Manifest manifest;

    private Bundle(File root, Manifest manifest) {
        this.root = root;
        this.manifest = manifest;
    }

    public File root() {
        return root;
    }

    public Manifest manifest() {
        return manifest;
    }

    /**
     * A file of the bundle by its manifest-relative path, refused (BundleException) unless it stays
     * inside the bundle. Checked on every call, not only in {@link #open}: the folder may have
     * changed since, and callers may pass paths the manifest does not list (golden/trace.json).
     */
    public File file(String relativePath) {
        return Containment.resolve(root, relativePath, new File(root, "manifest.json"));
    }

    /** Opens and validates {@code root}, verifying every file's sha256. */
    public static Bundle open(File root) {
        return open(root, true);
    }

    /**
     * Opens {@code root} and refuses it, with a {@link BundleException} naming the file, unless every
     * check passes. {@code verifyChecksums=false} still checks presence and sizes (for quick listings).
     */
    public static Bundle open(File root, boolean verifyChecksums) {
        File mpath = new File(root, "manifest.json");
        if (!root.isDirectory()) {
            throw new BundleException("bundle folder not found: " + root + "; export one with `lazydit export`");
        }
        if (!mpath.isFile()) {
            throw new BundleException(mpath + ": missing; this folder is not a lazydit bundle");
        }
        // manifest.json too must be the bundle's own, not a link to a file elsewhere on the phone.
        Containment.resolve(root, "manifest.json", mpath);
        JsonElement json = JsonFields.readStrict(mpath, "");
        ManifestParser parser = new ManifestParser(mpath);
        parser.checkSchemaVersion(json);
        Manifest manifest = parser.parse(json.getAsJsonObject(), root.getName());
        // Every named path is checked before any of them is opened, so a refused bundle reads nothing outside.
        for (String rel : manifest.paths()) {
            Containment.resolve(root, rel, mpath);
        }
        ManifestChecks.check(manifest, mpath);
        checkFiles(root, manifest, mpath, verifyChecksums);
        return new Bundle(root, manifest);
    }

    /** The executorch target's program, refusing bundles exported without it. */
    public File executorchProgram() {
        if (!manifest.hasTarget("executorch")) {
            throw new BundleException(new File(root, "manifest.json") + ": the bundle has no executorch target; "
                    + "re-export it with `lazydit export --targets executorch,...`");
        }
        return file(manifest.executorchFile());
    }

    private static void checkFiles(File root, Manifest m, File mpath, boolean verifyChecksums) {
        for (Map.Entry<String, Manifest.FileEntry> e : m.files().entrySet()) {
            File p = Containment.resolve(root, e.getKey(), mpath);
            long want = e.getValue().bytes();
            if (!p.isFile()) {
                throw new BundleException(p + ": listed in the manifest but missing; re-export or re-copy the bundle");
            }
            if (p.length() != want) {
                throw new BundleException(p + ": has " + p.length() + " bytes, the manifest says " + want
                        + "; the bundle is damaged");
            }
            if (verifyChecksums) {
                String got;
                try {
                    got = Sha256.of(p);
                } catch (IOException ex) {
                    throw new BundleException(p + ": cannot be read (" + ex.getMessage() + ")");
                }
                if (!got.equals(e.getValue().sha256())) {
                    throw new BundleException(p + ": sha256 does not match the manifest; "
                            + "the bundle is damaged, re-export or re-copy it");
                }
            }
        }
        for (String target : m.targets()) {
            for (String rel : m.targetFiles(target)) {
                if (!listed(m.files(), rel)) {
                    throw new BundleException(new File(root, rel) + ": " + target
                            + " graph missing from the manifest's file list");
                }
            }
        }
    }

    /** Whether {@code rel} is a listed file or a folder (e.g. an .mlpackage) with listed files inside. */
    private static boolean listed(Map<String, Manifest.FileEntry> files, String rel) {
        String dir = rel.replaceAll("/+$", "") + "/";
        for (String f : files.keySet()) {
            if (f.equals(rel) || f.startsWith(dir)) {
                return true;
            }
        }
        return false;
    }
}
