package dev.lazydit.demo.ui

import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.safeDrawingPadding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.SegmentedButton
import androidx.compose.material3.SegmentedButtonDefaults
import androidx.compose.material3.SingleChoiceSegmentedButtonRow
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.FilterQuality
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import dev.lazydit.core.Stats
import dev.lazydit.demo.BundleInfo
import dev.lazydit.demo.Generation
import dev.lazydit.demo.Mode
import dev.lazydit.demo.UiState
import java.util.Locale

/** What the screen can ask the view model to do. */
class ScreenActions(
    val selectMode: (Mode) -> Unit,
    val selectLazy: (BundleInfo) -> Unit,
    val selectDdim: (BundleInfo) -> Unit,
    val selectClass: (Int) -> Unit,
    val setSeedText: (String) -> Unit,
    val generate: () -> Unit,
    val refresh: () -> Unit,
)

@Composable
fun GenerateScreen(state: UiState, actions: ScreenActions) {
    Surface(Modifier.fillMaxSize()) {
        Column(
            Modifier.safeDrawingPadding().verticalScroll(rememberScrollState()).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text("LazyDiT on ExecuTorch", style = MaterialTheme.typography.headlineSmall)
            ModeRow(state.mode, enabled = !state.busy, onSelect = actions.selectMode)
            Controls(state, actions)
            Button(onClick = actions.generate, enabled = !state.busy && state.bundles.isNotEmpty() && state.seed != null) {
                Text("Generate")
            }
            if (state.busy) {
                val p = state.progress
                if (p == null) LinearProgressIndicator(Modifier.fillMaxWidth())
                else LinearProgressIndicator(progress = { p }, modifier = Modifier.fillMaxWidth())
                Text(state.status, style = MaterialTheme.typography.bodySmall)
            }
            state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            if (state.bundles.isEmpty() && !state.busy) NoBundles(state.pushFolder, actions.refresh)
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                state.results.forEach { ResultCard(it, Modifier.weight(1f)) }
            }
        }
    }
}

@Composable
private fun ModeRow(mode: Mode, enabled: Boolean, onSelect: (Mode) -> Unit) {
    val modes = Mode.entries
    SingleChoiceSegmentedButtonRow(Modifier.fillMaxWidth()) {
        modes.forEachIndexed { i, m ->
            SegmentedButton(
                selected = m == mode,
                onClick = { onSelect(m) },
                shape = SegmentedButtonDefaults.itemShape(index = i, count = modes.size),
                enabled = enabled,
            ) { Text(m.title) }
        }
    }
}

@Composable
private fun Controls(state: UiState, actions: ScreenActions) {
    val lazy = state.bundles.filter { it.isLazy }
    val dense = state.bundles.filter { !it.isLazy }
    if (state.mode != Mode.DDIM) {
        Picker("LazyDiT", state.lazyBundle, lazy, BundleInfo::label, actions.selectLazy, enabled = !state.busy)
    }
    if (state.mode != Mode.LAZY) {
        Picker("DDIM", state.ddimBundle, dense, BundleInfo::label, actions.selectDdim, enabled = !state.busy)
    }
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        val names = state.classNames
        Picker(
            "Class", state.classIndex.takeIf { it in names.indices }, names.indices.toList(),
            { names[it] }, actions.selectClass, enabled = !state.busy,
        )
        // The field shows the text as typed (SeedText keeps it to digits), so it can be emptied and retyped.
        OutlinedTextField(
            value = state.seedText,
            onValueChange = actions.setSeedText,
            label = { Text("Seed") },
            singleLine = true,
            isError = state.seed == null,
            supportingText = if (state.seed == null) {
                { Text("Enter a seed") }
            } else {
                null
            },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
            enabled = !state.busy,
        )
    }
}

@Composable
private fun NoBundles(pushFolder: String, refresh: () -> Unit) {
    Card {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("Push an exported bundle, then refresh:", style = MaterialTheme.typography.titleSmall)
            Text("adb push BUNDLE_DIR $pushFolder/NAME", style = MaterialTheme.typography.bodySmall)
            TextButton(onClick = refresh) { Text("Refresh") }
        }
    }
}

@Composable
private fun ResultCard(g: Generation, modifier: Modifier = Modifier) {
    Card(modifier) {
        Column(Modifier.padding(8.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(g.bundle.name, style = MaterialTheme.typography.titleSmall)
            Text("${g.bundle.schedule} · ${g.stepMs.size} steps", style = MaterialTheme.typography.bodySmall)
            g.images.forEach { bitmap ->
                Image(
                    bitmap = bitmap.asImageBitmap(),
                    contentDescription = "generated image",
                    // Keep the pixels of small images crisp when scaled up.
                    filterQuality = FilterQuality.None,
                    modifier = Modifier.fillMaxWidth().aspectRatio(bitmap.width.toFloat() / bitmap.height),
                )
            }
            val median = if (g.stepMs.isEmpty()) 0.0 else Stats.median(g.stepMs.toDoubleArray())
            // A latent bundle's total includes its decoder; show that time beside the steps'.
            val decode = g.decodeMs?.let { String.format(Locale.ROOT, " · decode %.2f ms", it) }.orEmpty()
            Text(
                String.format(Locale.ROOT, "total %.1f ms · step median %.2f ms", g.totalMs, median) + decode,
                style = MaterialTheme.typography.bodyMedium,
            )
            LazyStepStrip(g.lazyFractions, g.stepMs)
        }
    }
}
