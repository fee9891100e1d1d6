package dev.lazydit.demo.runtime

import android.graphics.Bitmap
import android.graphics.Color
import dev.lazydit.core.Manifest

/**
 * The final latent (B, C, H, W), in the manifest's value range, as one bitmap per image: grey for one
 * channel, RGB for three. Bundles of latent-space models carry no decoder; their first channel is shown.
 */
fun latentToBitmaps(latent: FloatArray, manifest: Manifest): List<Bitmap> {
    val c = manifest.imageChannels()
    val h = manifest.imageHeight()
    val w = manifest.imageWidth()
    val (lo, hi) = manifest.valueRange().let { it[0].toFloat() to it[1].toFloat() }
    val plane = h * w
    fun byte(v: Float): Int = (((v - lo) / (hi - lo)).coerceIn(0f, 1f) * 255f + 0.5f).toInt()
    return List(manifest.batch()) { b ->
        val base = b * c * plane
        val pixels = IntArray(plane) { p ->
            if (c >= 3) {
                Color.rgb(byte(latent[base + p]), byte(latent[base + plane + p]), byte(latent[base + 2 * plane + p]))
            } else {
                byte(latent[base + p]).let { Color.rgb(it, it, it) }
            }
        }
        Bitmap.createBitmap(pixels, w, h, Bitmap.Config.ARGB_8888)
    }
}
