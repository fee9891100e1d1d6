package dev.lazydit.core;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A bundle folder that passed every check of runtime/bundle.py before anything runs: schema version,
 * manifest structure and consistency, presence, size and sha256 of every listed file, and each
 * target's graphs being listed.
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

    /** A file of the bundle by its manifest-relative path. */
    public File file(String relativePath) {
        return new File(root, relativePath);
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
        JsonElement json;
        try (Reader r = new InputStreamReader(new FileInputStream(mpath), StandardCharsets.UTF_8)) {
            json = JsonParser.parseReader(r);
        } catch (JsonParseException e) {
            throw new BundleException(mpath + ": not valid JSON (" + firstSentence(e) + ")");
        } catch (IOException e) {
            throw new BundleException(mpath + ": cannot be read (" + e.getMessage() + ")");
        }
        ManifestParser parser = new ManifestParser(mpath);
        parser.checkSchemaVersion(json);
        Manifest manifest = parser.parse(json.getAsJsonObject(), root.getName());
        ManifestChecks.check(manifest, mpath);
        checkFiles(root, manifest, verifyChecksums);
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

    private static void checkFiles(File root, Manifest m, boolean verifyChecksums) {
        for (Map.Entry<String, Manifest.FileEntry> e : m.files().entrySet()) {
            File p = new File(root, e.getKey());
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

    /** Gson appends a troubleshooting URL on a new line; the first sentence is the useful part. */
    private static String firstSentence(Exception e) {
        String msg = String.valueOf(e.getMessage());
        int see = msg.indexOf("See https://");
        return BundleException.oneLine(see > 0 ? msg.substring(0, see) : msg);
    }
}
