package dev.lazydit.demo.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.lerp
import androidx.compose.ui.unit.dp

/**
 * One column per sampling step, like the schedule heat map: the bar is the step's measured latency,
 * the cell below it how lazy the step was (the fraction of attention/MLP modules it replayed from
 * the cache, 0 = computed everything).
 */
@Composable
fun LazyStepStrip(lazyFractions: List<Double>, stepMs: List<Double>, modifier: Modifier = Modifier) {
    val computed = MaterialTheme.colorScheme.primary
    val lazy = MaterialTheme.colorScheme.primaryContainer
    val bar = MaterialTheme.colorScheme.secondary
    Column(modifier) {
        Canvas(Modifier.fillMaxWidth().height(72.dp)) {
            val n = lazyFractions.size
            if (n == 0) return@Canvas
            val cell = size.width / n
            val gap = if (cell > 4f) 1.dp.toPx() else 0f
            val stripHeight = 18.dp.toPx()
            val barSpace = size.height - stripHeight - 4.dp.toPx()
            val maxMs = stepMs.maxOrNull()?.takeIf { it > 0 } ?: 1.0
            for (i in 0 until n) {
                val x = i * cell + gap
                val h = (stepMs.getOrElse(i) { 0.0 } / maxMs * barSpace).toFloat()
                drawRect(bar, topLeft = Offset(x, barSpace - h), size = Size(cell - 2 * gap, h))
                drawRect(
                    lerp(computed, lazy, lazyFractions[i].toFloat()),
                    topLeft = Offset(x, size.height - stripHeight),
                    size = Size(cell - 2 * gap, stripHeight),
                )
            }
        }
        val lazySteps = lazyFractions.count { it > 0 }
        Text(
            "bars: ms per step · cells: dark = computed, light = lazy ($lazySteps of ${lazyFractions.size} steps lazy)",
            style = MaterialTheme.typography.labelSmall,
        )
    }
}
