package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The benchmark's bundle_dir policy on real folders and symbolic links: the app's files dir and a
 * stand-in for /data/local/tmp are allowed, everything else is refused with one line.
 */
public class BundlePathsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private File files;
    private File localTmp;
    private File outside;
    private BundlePaths paths;

    @Before
    public void folders() throws IOException {
        files = tmp.newFolder("data", "user", "0", "dev.lazydit.demo", "files");
        localTmp = tmp.newFolder("local", "tmp");
        outside = tmp.newFolder("data", "user", "0", "com.other.app", "files");
        new File(files, "bundles/lazydit-20").mkdirs();
        new File(localTmp, "ddim-10").mkdirs();
        new File(outside, "secret").mkdirs();
        paths = new BundlePaths(Arrays.asList(files, localTmp, new File(tmp.getRoot(), "not-there")));
    }

    private String refused(String request) {
        BundleException e = assertThrows(BundleException.class,
                () -> paths.resolve(request, Collections.<String, File>emptyMap(), "push it"));
        assertThat(e.getMessage(), not(containsString("\n")));
        return e.getMessage();
    }

    private static File real(File f) throws IOException {
        return f.toPath().toRealPath().toFile();
    }

    @Test
    public void foldersInsideTheAllowedRootsResolveToTheirRealPath() throws IOException {
        File b = new File(files, "bundles/lazydit-20");
        assertEquals(real(b), paths.resolve(b.getPath(), Collections.<String, File>emptyMap(), ""));
        assertEquals(real(new File(localTmp, "ddim-10")), paths.absolute(localTmp + "/ddim-10/"));
        assertEquals(2, paths.roots().size());
    }

    @Test
    public void dotDotIsRefusedEvenWhenItWouldLandInside() {
        assertThat(refused(files + "/../../com.other.app/files/secret"), containsString("`..` is not allowed"));
        assertThat(refused(files + "/bundles/../bundles/lazydit-20"), containsString("`..` is not allowed"));
    }

    @Test
    public void symbolicLinksAreJudgedByWhereTheyLead() throws IOException {
        File escape = new File(files, "bundles/escape");
        Files.createSymbolicLink(escape.toPath(), outside.toPath());
        assertThat(refused(escape + "/secret"), containsString("it leads to " + real(new File(outside, "secret"))));
        // A link from one allowed root into another is fine: where it leads is allowed.
        File hop = new File(files, "bundles/hop");
        Files.createSymbolicLink(hop.toPath(), localTmp.toPath());
        assertEquals(real(new File(localTmp, "ddim-10")), paths.absolute(hop + "/ddim-10"));
        // A root reached through a link (like /sdcard -> /storage/emulated/0) still counts.
        File alias = new File(tmp.getRoot(), "alias");
        Files.createSymbolicLink(alias.toPath(), localTmp.toPath());
        assertEquals(real(new File(localTmp, "ddim-10")), paths.absolute(alias + "/ddim-10"));
    }

    @Test
    public void pathsOutsideTheRootsOrAtThemAreRefused() throws IOException {
        assertThat(refused(outside + "/secret"), containsString("outside the folders a benchmark may load from"));
        assertThat(refused(files.getPath()), containsString("outside"));
        assertThat(refused("/"), containsString("outside"));
        // Sharing a prefix with a root is not being inside it.
        File sibling = tmp.newFolder("local", "tmp2", "b");
        assertThat(refused(sibling.getPath()), containsString("outside"));
        assertThat(refused(localTmp + "/missing"), containsString("bundle folder not found"));
        File file = new File(localTmp, "report.json");
        Files.write(file.toPath(), new byte[] {'{', '}'});
        assertThat(refused(file.getPath()), containsString("not a folder"));
    }

    @Test
    public void namesArePlainAndMustBeDiscovered() {
        Map<String, File> named = new HashMap<>();
        File b = new File(files, "bundles/lazydit-20");
        named.put("lazydit-20", b);
        assertEquals(b, paths.resolve("lazydit-20", named, ""));
        assertThat(assertThrows(BundleException.class, () -> paths.resolve("ddim-20", named, "push it with adb"))
                .getMessage(), containsString("bundle ddim-20 not found; push it with adb"));
        for (String bad : new String[] {"..", ".", "a/b", "bundles/../x", ".staging-x", "a\nb"}) {
            assertThat(bad, assertThrows(BundleException.class, () -> paths.resolve(bad, named, "")).getMessage(),
                    containsString("must be a plain name"));
        }
        assertThat(refused(""), containsString("missing bundle"));
        assertThat(refused(null), containsString("missing bundle"));
    }
}
