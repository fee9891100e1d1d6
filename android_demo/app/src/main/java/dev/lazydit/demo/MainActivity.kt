package dev.lazydit.demo

import android.content.ComponentCallbacks2
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.viewModels
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.lazydit.demo.ui.GenerateScreen
import dev.lazydit.demo.ui.LazyDiTTheme
import dev.lazydit.demo.ui.ScreenActions

class MainActivity : ComponentActivity() {
    private val viewModel: GenerateViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        val actions = ScreenActions(
            selectMode = viewModel::selectMode,
            selectLazy = viewModel::selectLazy,
            selectDdim = viewModel::selectDdim,
            selectClass = viewModel::selectClass,
            setSeedText = viewModel::setSeedText,
            generate = viewModel::generate,
            refresh = viewModel::refreshBundles,
        )
        setContent {
            LazyDiTTheme {
                val state by viewModel.state.collectAsStateWithLifecycle()
                GenerateScreen(state, actions)
            }
        }
    }

    override fun onTrimMemory(level: Int) {
        super.onTrimMemory(level)
        // In the background the process is a candidate for the low-memory killer, and a loaded bundle
        // holds its program and caches in native memory: free them; the next Generate loads again.
        if (level >= ComponentCallbacks2.TRIM_MEMORY_BACKGROUND) viewModel.releaseBundles()
    }
}
