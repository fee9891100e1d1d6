package dev.lazydit.demo.runtime

import android.content.Context
import dev.lazydit.core.BundleException
import java.io.File

/**
 * Where the app finds bundles:
 *  - folders pushed with adb into the app's external files dir,
 *    `/sdcard/Android/data/<package>/files/bundles/NAME` (no permission needed, survives reinstalls
 *    of the same signature until uninstall);
 *  - bundles shipped in the APK under `assets/bundles/NAME`, copied once to internal storage because
 *    ExecuTorch loads a program from a file path.
 * A pushed bundle wins over an asset bundle of the same name.
 */
class BundleStore(private val context: Context) {
    /** The folder to `adb push` bundles into. */
    val pushedRoot: File? get() = context.getExternalFilesDir(BUNDLES)

    private val assetCopies: File get() = File(context.filesDir, BUNDLES)

    /** Every folder with a manifest.json, pushed ones first; not validated yet. */
    fun discover(): List<File> {
        copyAssetBundles()
        return listOfNotNull(pushedRoot, assetCopies)
            .flatMap { root -> root.listFiles().orEmpty().filter { File(it, "manifest.json").isFile }.sortedBy { it.name } }
            .distinctBy { it.name }
    }

    /** A benchmark's `bundle_dir`: an absolute path the app can read, or the name of a discovered bundle. */
    fun resolve(nameOrPath: String): File {
        if (nameOrPath.startsWith("/")) return File(nameOrPath)
        return discover().firstOrNull { it.name == nameOrPath }
            ?: throw BundleException(
                "bundle $nameOrPath not found in $pushedRoot or the app's assets; " +
                    "push it with `adb push BUNDLE_DIR $pushedRoot/$nameOrPath` (android_demo/README.md)",
            )
    }

    private fun copyAssetBundles() {
        val names = context.assets.list(BUNDLES).orEmpty()
        for (name in names) {
            val dst = File(assetCopies, name)
            // The manifest pins every file's sha256: an identical manifest means an identical copy, and
            // Bundle.open re-verifies every checksum before anything runs anyway.
            val manifest = context.assets.open("$BUNDLES/$name/manifest.json").use { it.readBytes() }
            val copied = File(dst, "manifest.json")
            if (copied.isFile && copied.readBytes().contentEquals(manifest)) continue
            dst.deleteRecursively()
            copyAssetTree("$BUNDLES/$name", dst)
        }
    }

    private fun copyAssetTree(assetPath: String, dst: File) {
        val children = context.assets.list(assetPath).orEmpty()
        if (children.isEmpty()) {
            dst.parentFile?.mkdirs()
            context.assets.open(assetPath).use { input -> dst.outputStream().use { input.copyTo(it) } }
            return
        }
        for (child in children) copyAssetTree("$assetPath/$child", File(dst, child))
    }

    private companion object {
        const val BUNDLES = "bundles"
    }
}
