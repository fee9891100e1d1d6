package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.endsWith;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The containment rule on real folders and real symbolic links: what a manifest may name, and what it
 * may not, whatever the links inside the bundle do.
 */
public class ContainmentTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private File bundle;
    private File outside;
    private File manifest;

    @Before
    public void folders() throws IOException {
        bundle = tmp.newFolder("bundle");
        outside = tmp.newFolder("outside");
        manifest = new File(bundle, "manifest.json");
        write(new File(bundle, "executorch/model.pte"));
        write(new File(outside, "model.pte"));
    }

    private static void write(File f) throws IOException {
        f.getParentFile().mkdirs();
        Files.write(f.toPath(), "x".getBytes(StandardCharsets.UTF_8));
    }

    private static void link(File at, String target) throws IOException {
        at.getParentFile().mkdirs();
        Files.createSymbolicLink(at.toPath(), Paths.get(target));
    }

    private String refused(String rel) {
        BundleException e = assertThrows(BundleException.class, () -> Containment.resolve(bundle, rel, manifest));
        String msg = e.getMessage();
        assertThat(msg, not(containsString("\n")));
        assertThat(msg, containsString(manifest.getPath() + ": path "));
        assertThat(msg, endsWith("; " + Containment.INSIDE));
        return msg;
    }

    @Test
    public void plainRelativePathsResolveUnderTheBundle() {
        assertEquals(new File(bundle, "executorch/model.pte"),
                Containment.resolve(bundle, "executorch/model.pte", manifest));
        // A file that does not exist yet is not this check's business: the file checks report it as missing.
        assertEquals(new File(bundle, "golden/trace.json"), Containment.resolve(bundle, "golden/trace.json", manifest));
    }

    @Test
    public void absolutePathsAreRefused() {
        assertThat(refused(new File(outside, "model.pte").getPath()), containsString("is not relative"));
        assertThat(refused("/etc/passwd"), containsString("'/etc/passwd' is not relative"));
        // Windows spellings name other places on a desktop copy of the bundle and nothing sensible on a phone.
        assertThat(refused("C:/model.pte"), containsString("is not relative"));
        assertThat(refused("executorch\\model.pte"), containsString("is not relative"));
        assertThat(refused(""), containsString("is not relative"));
    }

    @Test
    public void dotDotIsRefusedEvenWhenItWouldComeBackInside() {
        assertThat(refused("../outside/model.pte"), containsString("has a '..' component"));
        assertThat(refused("executorch/../executorch/model.pte"), containsString("has a '..' component"));
        assertThat(refused(".."), containsString("has a '..' component"));
    }

    @Test
    public void unnormalisedSpellingsAreRefusedWithTheNormalForm() {
        assertThat(refused("./executorch/model.pte"), containsString("write 'executorch/model.pte'"));
        assertThat(refused("executorch//model.pte"), containsString("write 'executorch/model.pte'"));
        assertThat(refused("executorch/./model.pte"), containsString("write 'executorch/model.pte'"));
        assertThat(refused("executorch/"), containsString("write 'executorch'"));
        assertThat(refused("."), containsString("is not normalised"));
        assertThat(refused("a\0b"), containsString("NUL"));
    }

    @Test
    public void aFileLinkThatLeadsOutsideIsRefused() throws IOException {
        link(new File(bundle, "executorch/evil.pte"), new File(outside, "model.pte").getPath());
        assertThat(refused("executorch/evil.pte"), containsString("leads outside the bundle through a symlink"));
        // Relative link text climbing out is the same escape.
        link(new File(bundle, "executorch/up.pte"), "../../outside/model.pte");
        assertThat(refused("executorch/up.pte"), containsString("leads outside the bundle through a symlink"));
    }

    @Test
    public void aFolderLinkThatLeadsOutsideIsRefused() throws IOException {
        link(new File(bundle, "graphs"), outside.getPath());
        assertThat(refused("graphs/model.pte"), containsString("leads outside the bundle through a symlink"));
    }

    @Test
    public void aDanglingLinkThatPointsOutsideIsRefusedAsOutsideNotAsMissing() throws IOException {
        link(new File(bundle, "executorch/gone.pte"), new File(outside, "not-there.pte").getPath());
        assertThat(refused("executorch/gone.pte"), containsString("leads outside the bundle"));
    }

    @Test
    public void aLoopOfLinksIsRefused() throws IOException {
        link(new File(bundle, "a"), "b");
        link(new File(bundle, "b"), "a");
        assertThat(refused("a"), containsString("loop of symlinks"));
    }

    @Test
    public void linksThatStayInsideAreAccepted() throws IOException {
        link(new File(bundle, "executorch/alias.pte"), "model.pte");
        link(new File(bundle, "other/up.pte"), "../executorch/model.pte");
        link(new File(bundle, "graphs"), "executorch");
        link(new File(bundle, "absolute.pte"), new File(bundle, "executorch/model.pte").getAbsolutePath());
        for (String rel : new String[] {"executorch/alias.pte", "other/up.pte", "graphs/model.pte", "absolute.pte"}) {
            assertEquals(new File(bundle, rel), Containment.resolve(bundle, rel, manifest));
        }
    }

    @Test
    public void theBundleFolderItselfMayBeALink() throws IOException {
        Path via = tmp.getRoot().toPath().resolve("via");
        Files.createSymbolicLink(via, bundle.toPath());
        File root = via.toFile();
        assertEquals(new File(root, "executorch/model.pte"), Containment.resolve(root, "executorch/model.pte", manifest));
        // An absolute link back into the bundle's real folder is inside, whichever name the bundle was opened by.
        link(new File(bundle, "real.pte"), new File(bundle, "executorch/model.pte").getAbsolutePath());
        assertEquals(new File(root, "real.pte"), Containment.resolve(root, "real.pte", manifest));
        link(new File(bundle, "escape.pte"), new File(outside, "model.pte").getPath());
        BundleException e = assertThrows(BundleException.class, () -> Containment.resolve(root, "escape.pte", manifest));
        assertThat(e.getMessage(), containsString(Containment.INSIDE));
    }
}
