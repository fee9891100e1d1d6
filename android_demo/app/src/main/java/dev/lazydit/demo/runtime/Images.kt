package dev.lazydit.demo.runtime

import android.graphics.Bitmap
import android.graphics.Color
import dev.lazydit.core.Manifest

/**
 * A run's image (B, C, H, W) in the manifest's value range, as one bitmap per image: grey for one
 * channel, RGB for three. For a latent bundle with a decoder this is the decoded image (`tensors.image`,
 * which the core checks is the image section's size, RGB in [-1, 1]); a latent bundle exported without
 * one shows its first three latent channels as RGB.
 */
fun imageToBitmaps(image: FloatArray, manifest: Manifest): List<Bitmap> {
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
                Color.rgb(byte(image[base + p]), byte(image[base + plane + p]), byte(image[base + 2 * plane + p]))
            } else {
                byte(image[base + p]).let { Color.rgb(it, it, it) }
            }
        }
        Bitmap.createBitmap(pixels, w, h, Bitmap.Config.ARGB_8888)
    }
}
