package dev.lazydit.core;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;

/**
 * Installs a folder copied from a {@link TreeSource} so that it appears complete or not at all.
 *
 * <p>The copy is written to a staging folder beside the destination, synced, checked, and only then
 * renamed into place (a rename within one file system is atomic). A copy interrupted at any point
 * (the app killed on first start, the phone out of storage) leaves at most a staging folder, which
 * the next install removes; it never leaves a half-filled destination that looks installed.
 */
public final class StagedCopy {
    /** Throws when a staged copy must not be installed (for a bundle: Bundle.open without checksums). */
    public interface Check {
        void verify(File staged);
    }

    private static final String STAGING = ".staging-";
    private static final String OLD = ".old-";

    private StagedCopy() {
    }

    /** Whether {@code name} is a folder this class creates in passing; listings must skip it. */
    public static boolean isTransient(String name) {
        return name.startsWith(STAGING) || name.startsWith(OLD);
    }

    /**
     * Replaces {@code dst} with a copy of {@code source}'s {@code path}, checked by {@code check}.
     * On any failure {@code dst} is unchanged (or absent, if it was absent) and the staging folder
     * is removed.
     */
    public static void install(TreeSource source, String path, File dst, Check check) throws IOException {
        File parent = dst.getAbsoluteFile().getParentFile();
        if (!parent.isDirectory() && !parent.mkdirs()) {
            throw new IOException("cannot create " + parent);
        }
        File staging = new File(parent, STAGING + dst.getName());
        File old = new File(parent, OLD + dst.getName());
        // Leftovers of an install that was interrupted before.
        deleteTree(staging);
        deleteTree(old);
        try {
            copyTree(source, path, staging);
            check.verify(staging);
        } catch (IOException | RuntimeException | Error e) {
            deleteTree(staging);
            throw e;
        }
        if (dst.exists()) {
            // A folder cannot be renamed over a non-empty one: move the old copy aside first. Killed
            // between the two moves, the next start finds no dst and installs again.
            move(dst, old);
        }
        move(staging, dst);
        deleteTree(old);
    }

    /** Deletes {@code f} and everything under it, without following symbolic links out of it. */
    public static void deleteTree(File f) throws IOException {
        if (!f.exists() && !Files.isSymbolicLink(f.toPath())) {
            return;
        }
        if (f.isDirectory() && !Files.isSymbolicLink(f.toPath())) {
            File[] children = f.listFiles();
            if (children != null) {
                for (File c : children) {
                    deleteTree(c);
                }
            }
        }
        Files.delete(f.toPath());
    }

    private static void copyTree(TreeSource source, String path, File dst) throws IOException {
        String[] children = source.list(path);
        if (children.length == 0) {
            try (InputStream in = source.open(path); FileOutputStream out = new FileOutputStream(dst)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                }
                // On disk before the rename makes the copy visible, so a power cut cannot leave an
                // installed bundle with empty files.
                out.getFD().sync();
            }
            return;
        }
        if (!dst.mkdirs() && !dst.isDirectory()) {
            throw new IOException("cannot create " + dst);
        }
        for (String child : children) {
            copyTree(source, path + "/" + child, new File(dst, child));
        }
    }

    private static void move(File from, File to) throws IOException {
        try {
            Files.move(from.toPath(), to.toPath(), StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically: " + e.getMessage(), e);
        }
    }
}
