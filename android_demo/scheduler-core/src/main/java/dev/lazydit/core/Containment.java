package dev.lazydit.core;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Keeps every path a manifest names inside its bundle (runtime/bundle.py's {@code contained_path}).
 *
 * <p>A bundle is untrusted input: a folder someone pushed to the phone. Without this check a manifest
 * could name {@code /data/data/<other app>/...}, {@code ../../x} or a symbolic link pointing out of
 * the bundle, and the app would hash that file and hand it to ExecuTorch. A path is accepted when it
 * is relative, normalised (no empty or {@code .} segment, no trailing slash), has no {@code ..}
 * segment, and, with every symbolic link followed, still lies inside the bundle folder's real path.
 * The bundle folder itself may be a symbolic link: the comparison is against where it leads.
 *
 * <p>Links are followed by hand rather than with {@link Path#toRealPath}, which fails on a path that
 * does not exist: a dangling link that points outside must still be refused as outside, not reported
 * as a missing file, so that the message is the same on every port.
 */
final class Containment {
    static final String INSIDE = "a bundle's paths must stay inside the bundle";
    /** Linux's own limit on links followed while resolving one path (MAXSYMLINKS). */
    private static final int MAX_LINKS = 40;

    private Containment() {
    }

    /**
     * {@code root/rel} once {@code rel} passes the rule above; nothing under it is opened.
     *
     * @param mpath the manifest (or other document) that named {@code rel}, for the message
     * @throws BundleException one line naming {@code mpath} and {@code rel}, ending with {@link #INSIDE}
     */
    static File resolve(File root, String rel, File mpath) {
        String shown = "'" + rel + "'";
        String first = rel.split("/", -1)[0];
        if (rel.isEmpty() || rel.startsWith("/") || rel.indexOf('\\') >= 0 || first.indexOf(':') >= 0) {
            throw refuse(mpath, shown + " is not relative");
        }
        if (rel.indexOf('\0') >= 0) {
            throw refuse(mpath, "contains a NUL character");
        }
        List<String> segments = Arrays.asList(rel.split("/", -1));
        if (segments.contains("..")) {
            throw refuse(mpath, shown + " has a '..' component");
        }
        List<String> kept = new ArrayList<>();
        for (String s : segments) {
            if (!s.isEmpty() && !s.equals(".")) {
                kept.add(s);
            }
        }
        if (kept.size() != segments.size()) {
            String fixed = kept.isEmpty() ? "." : String.join("/", kept);
            throw refuse(mpath, shown + " is not normalised (write '" + fixed + "')");
        }
        Path realRoot;
        try {
            realRoot = root.toPath().toRealPath();
        } catch (IOException | InvalidPathException e) {
            throw new BundleException("bundle folder " + root + " cannot be resolved (" + e.getMessage() + ")");
        }
        Path target = followLinks(realRoot, segments, mpath, shown);
        if (!target.startsWith(realRoot)) {
            throw refuse(mpath, shown + " leads outside the bundle through a symlink");
        }
        return new File(root, rel);
    }

    /**
     * Where {@code segments} lead from the real folder {@code start}, every symbolic link followed, as
     * realpath(3) would resolve it, except that a missing file ends the walk instead of failing it.
     */
    private static Path followLinks(Path start, List<String> segments, File mpath, String shown) {
        Path cur = start;
        Deque<String> todo = new ArrayDeque<>(segments);
        int links = 0;
        while (!todo.isEmpty()) {
            String s = todo.removeFirst();
            if (s.isEmpty() || s.equals(".")) {
                continue;
            }
            if (s.equals("..")) {
                // cur never contains a link (each was replaced by its target), so its parent is the real one.
                Path parent = cur.getParent();
                cur = parent == null ? cur : parent;
                continue;
            }
            Path next = cur.resolve(s);
            if (!Files.isSymbolicLink(next)) {
                cur = next;
                continue;
            }
            if (++links > MAX_LINKS) {
                throw refuse(mpath, shown + " goes through a loop of symlinks");
            }
            String link;
            try {
                link = Files.readSymbolicLink(next).toString();
            } catch (IOException e) {
                throw refuse(mpath, shown + " goes through a symlink that cannot be read (" + e.getMessage() + ")");
            }
            if (link.startsWith("/")) {
                cur = cur.getRoot();
            }
            String[] parts = link.split("/");
            for (int i = parts.length - 1; i >= 0; i--) {
                todo.addFirst(parts[i]);
            }
        }
        return cur;
    }

    private static BundleException refuse(File mpath, String problem) {
        return new BundleException(mpath + ": path " + problem + "; " + INSIDE);
    }
}
