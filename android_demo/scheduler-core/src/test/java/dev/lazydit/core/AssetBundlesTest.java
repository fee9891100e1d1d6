package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Copying the APK's asset bundles to disk, with the real tiny bundle laid out as the APK's assets
 * folder: a copy is complete or absent, whatever interrupts it.
 */
public class AssetBundlesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private File assets;
    private File copies;

    /** A folder read the way AssetManager reads the APK: list() is empty for a file. */
    static class FolderSource implements TreeSource {
        final File root;

        FolderSource(File root) {
            this.root = root;
        }

        @Override
        public String[] list(String path) throws IOException {
            File f = new File(root, path);
            if (!f.exists()) {
                throw new IOException(path + " not in the assets");
            }
            String[] names = f.isDirectory() ? f.list() : new String[0];
            Arrays.sort(names);
            return names;
        }

        @Override
        public InputStream open(String path) throws IOException {
            return new FileInputStream(new File(root, path));
        }
    }

    /** Fails reading the n-th file, as a full disk or a killed copy would stop it. */
    static final class FailingSource extends FolderSource {
        private int left;

        FailingSource(File root, int filesBeforeFailure) {
            super(root);
            left = filesBeforeFailure;
        }

        @Override
        public InputStream open(String path) throws IOException {
            if (!path.endsWith("/manifest.json") && left-- <= 0) {
                throw new IOException("No space left on device");
            }
            return super.open(path);
        }
    }

    @Before
    public void layOut() throws IOException {
        assets = tmp.newFolder("assets");
        File bundles = new File(assets, "bundles");
        assertTrue(bundles.mkdir());
        Files.move(TestData.copyOfBundle(tmp.getRoot()).toPath(), new File(bundles, "tiny").toPath());
        copies = new File(tmp.getRoot(), "files/bundles");
    }

    private File installed() {
        return new File(copies, "tiny");
    }

    private void assertNoLeftovers() {
        String[] left = copies.list();
        for (String name : left == null ? new String[0] : left) {
            assertFalse("left behind: " + name, StagedCopy.isTransient(name));
        }
    }

    @Test
    public void copiesTheBundleAndTheCopyPassesEveryChecksum() {
        assertEquals(Arrays.<String>asList(), AssetBundles.sync(new FolderSource(assets), "bundles", copies));
        Bundle b = Bundle.open(installed());
        assertEquals(10, b.manifest().steps().size());
        assertNoLeftovers();
        assertEquals(installed(), AssetBundles.list(Arrays.asList(copies)).get("tiny"));
    }

    @Test
    public void anInterruptedCopyLeavesNoBundleBehindAndTheNextStartCopiesAgain() {
        List<String> problems = AssetBundles.sync(new FailingSource(assets, 3), "bundles", copies);
        assertEquals(1, problems.size());
        assertThat(problems.get(0), containsString("No space left on device"));
        assertFalse(installed().exists());
        assertNoLeftovers();
        assertTrue(AssetBundles.list(Arrays.asList(copies)).isEmpty());

        assertEquals(Arrays.<String>asList(), AssetBundles.sync(new FolderSource(assets), "bundles", copies));
        Bundle.open(installed());
    }

    @Test
    public void aStagingFolderLeftByAKilledStartIsNeitherListedNorKept() throws IOException {
        // What a process killed mid-copy leaves: a staging folder with the manifest and part of the files.
        File staging = new File(copies, ".staging-tiny");
        assertTrue(staging.mkdirs());
        Files.copy(new File(assets, "bundles/tiny/manifest.json").toPath(), new File(staging, "manifest.json").toPath());
        assertTrue(AssetBundles.list(Arrays.asList(copies)).isEmpty());

        assertEquals(Arrays.<String>asList(), AssetBundles.sync(new FolderSource(assets), "bundles", copies));
        Bundle.open(installed());
        assertFalse(staging.exists());
    }

    @Test
    public void aHalfCopyLeftByAnEarlierCopierIsReplaced() throws IOException {
        // The earlier copier wrote straight into place: a killed first start left the manifest and a
        // truncated program, which an identical manifest made it keep forever.
        Files.createDirectories(copies.toPath());
        Files.move(TestData.copyOfBundle(tmp.newFolder("half")).toPath(), installed().toPath());
        File halfPte = new File(installed(), Bundle.open(installed(), false).manifest().executorchFile());
        long full = halfPte.length();
        try (RandomAccessFile f = new RandomAccessFile(halfPte, "rw")) {
            f.setLength(full / 2);
        }

        assertEquals(Arrays.<String>asList(), AssetBundles.sync(new FolderSource(assets), "bundles", copies));
        assertEquals(full, halfPte.length());
        Bundle.open(installed());
        assertNoLeftovers();
    }

    @Test
    public void anUnchangedCopyIsKeptAndAChangedAssetReplacesIt() throws IOException {
        AssetBundles.sync(new FolderSource(assets), "bundles", copies);
        File manifest = new File(installed(), "manifest.json");
        Object before = Files.readAttributes(manifest.toPath(), BasicFileAttributes.class).fileKey();
        AssetBundles.sync(new FolderSource(assets), "bundles", copies);
        assertEquals(before, Files.readAttributes(manifest.toPath(), BasicFileAttributes.class).fileKey());

        // A new APK ships a re-exported bundle of the same name.
        TestData.editManifest(new File(assets, "bundles/tiny"), m -> m.addProperty("name", "tiny-v2"));
        assertEquals(Arrays.<String>asList(), AssetBundles.sync(new FolderSource(assets), "bundles", copies));
        assertEquals("tiny-v2", Bundle.open(installed()).manifest().name());
        assertArrayEquals(Files.readAllBytes(new File(assets, "bundles/tiny/manifest.json").toPath()),
                Files.readAllBytes(manifest.toPath()));
        assertNoLeftovers();
    }

    @Test
    public void aDamagedAssetIsNotInstalledAndTheGoodCopyStays() throws IOException {
        AssetBundles.sync(new FolderSource(assets), "bundles", copies);
        String good = Bundle.open(installed()).manifest().name();
        File src = new File(assets, "bundles/tiny");
        TestData.editManifest(src, m -> m.addProperty("name", "tiny-v2"));
        File pte = new File(src, Bundle.open(src, false).manifest().executorchFile());
        try (RandomAccessFile f = new RandomAccessFile(pte, "rw")) {
            f.setLength(f.length() - 1);
        }
        List<String> problems = AssetBundles.sync(new FolderSource(assets), "bundles", copies);
        assertEquals(1, problems.size());
        assertThat(problems.get(0), containsString("asset bundle tiny is not installed"));
        assertThat(problems.get(0), containsString("bytes, the manifest says"));
        assertEquals(good, Bundle.open(installed()).manifest().name());
        assertNoLeftovers();
    }

    @Test
    public void listingPrefersTheFirstRootAndSkipsWhatIsNotABundle() throws IOException {
        File pushed = tmp.newFolder("pushed");
        for (String name : new String[] {"b", "a", "tiny", ".hidden", ".staging-c"}) {
            File d = new File(pushed, name);
            assertTrue(d.mkdir());
            Files.write(new File(d, "manifest.json").toPath(), new byte[] {'{', '}'});
        }
        assertTrue(new File(pushed, "no-manifest").mkdir());
        AssetBundles.sync(new FolderSource(assets), "bundles", copies);
        Map<String, File> found = AssetBundles.list(Arrays.asList(pushed, copies, new File(tmp.getRoot(), "absent")));
        assertEquals(Arrays.asList("a", "b", "tiny"), Arrays.asList(found.keySet().toArray(new String[0])));
        assertEquals(new File(pushed, "tiny"), found.get("tiny"));
    }
}
