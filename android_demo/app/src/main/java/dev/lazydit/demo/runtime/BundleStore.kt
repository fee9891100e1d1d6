package dev.lazydit.demo.runtime

import android.content.Context
import android.content.res.AssetManager
import dev.lazydit.core.AssetBundles
import dev.lazydit.core.BundlePaths
import dev.lazydit.core.TreeSource
import java.io.File
import java.io.InputStream

/**
 * Where the app finds bundles:
 *  - folders pushed with adb into the app's external files dir,
 *    `/sdcard/Android/data/<package>/files/bundles/NAME` (no permission needed, survives reinstalls
 *    of the same signature until uninstall);
 *  - bundles shipped in the APK under `assets/bundles/NAME`, copied to internal storage because
 *    ExecuTorch loads a program from a file path. The copy goes through a staging folder that is
 *    renamed into place ([AssetBundles.sync]), so a first start killed mid-copy leaves no half bundle.
 * A pushed bundle wins over an asset bundle of the same name.
 */
class BundleStore(context: Context) {
    private val app = context.applicationContext

    /** What [discover] found: bundle folders by name, and one line per asset bundle that could not be copied. */
    class Found(val folders: Map<String, File>, val problems: List<String>)

    /** The folder to `adb push` bundles into. */
    val pushedRoot: File? get() = app.getExternalFilesDir(BUNDLES)

    private val assetCopies: File get() = File(app.filesDir, BUNDLES)

    /** Every folder with a manifest.json, pushed ones first; not validated yet. */
    fun discover(): Found {
        val problems = AssetBundles.sync(AssetTree(app.assets), BUNDLES, assetCopies)
        return Found(AssetBundles.list(listOfNotNull(pushedRoot, assetCopies)), problems)
    }

    /**
     * A benchmark's `bundle_dir`: the name of a discovered bundle, or an absolute path inside the
     * app's files dir or /data/local/tmp (checked by [BundlePaths]: real paths, no `..`).
     */
    fun resolve(request: String?): File =
        BundlePaths(listOf(app.filesDir, File(LOCAL_TMP))).resolve(
            request,
            discover().folders,
            "push it with `adb push BUNDLE_DIR $pushedRoot/$request` (android_demo/README.md)",
        )

    /** The APK's assets as the core's [TreeSource]: `list` is empty for a file, as AssetManager's is. */
    private class AssetTree(private val assets: AssetManager) : TreeSource {
        override fun list(path: String): Array<String> = assets.list(path).orEmpty()

        override fun open(path: String): InputStream = assets.open(path)
    }

    private companion object {
        const val BUNDLES = "bundles"

        // Where `adb push` may write and the app may read (not list) files on every Android release.
        const val LOCAL_TMP = "/data/local/tmp"
    }
}
