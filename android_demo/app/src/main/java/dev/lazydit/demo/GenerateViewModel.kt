package dev.lazydit.demo

import android.app.Application
import android.graphics.Bitmap
import android.os.Build
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.lazydit.core.Bundle
import dev.lazydit.core.BundleException
import dev.lazydit.core.Failures
import dev.lazydit.core.LoadedSet
import dev.lazydit.core.SeedText
import dev.lazydit.demo.runtime.BundleStore
import dev.lazydit.demo.runtime.LoadedBundle
import dev.lazydit.demo.runtime.imageToBitmaps
import java.io.File
import java.util.concurrent.Executors
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** A bundle found on the device, described from its manifest (checksums are verified on load). */
data class BundleInfo(
    val name: String,
    val dir: File,
    val schedule: String,
    val laziness: Double,
    val steps: Int,
    val classNames: List<String>,
    val fingerprint: String,
) {
    val isLazy: Boolean get() = laziness > 0.0
    val label: String get() = "$name · $steps steps · $schedule"
}

/** Which bundle(s) Generate runs. */
enum class Mode(val title: String) { LAZY("LazyDiT"), DDIM("DDIM"), COMPARE("Side by side") }

/** One generation, ready to draw. */
data class Generation(
    val bundle: BundleInfo,
    val images: List<Bitmap>,
    val totalMs: Double,
    val stepMs: List<Double>,
    val lazyFractions: List<Double>,
    /** The decoder's time for a latent bundle with a decoder, else null. */
    val decodeMs: Double? = null,
)

data class UiState(
    val bundles: List<BundleInfo> = emptyList(),
    val pushFolder: String = "",
    val lazyBundle: BundleInfo? = null,
    val ddimBundle: BundleInfo? = null,
    val mode: Mode = Mode.LAZY,
    val classIndex: Int = 0,
    /** The seed field's text, kept as typed so that it can be cleared and retyped. */
    val seedText: String = "0",
    val busy: Boolean = false,
    val status: String = "",
    val progress: Float? = null,
    val results: List<Generation> = emptyList(),
    val error: String? = null,
) {
    val classNames: List<String> get() = (lazyBundle ?: ddimBundle)?.classNames.orEmpty()

    /** The seed to generate from, or null while the field is empty. */
    val seed: Long? get() = SeedText.value(seedText)
}

/**
 * Finds bundles, loads them and generates, all on one worker thread (ExecuTorch modules and the
 * scheduler's buffers belong to it); the UI only observes [state].
 *
 * Only the bundles whose results are on screen stay loaded ([LoadedSet]: one, two side by side);
 * anything a load or a generation throws, Errors included, becomes the one-line [UiState.error].
 */
class GenerateViewModel(application: Application) : AndroidViewModel(application) {
    private val store = BundleStore(application)
    private val worker = Executors.newSingleThreadExecutor { Thread(it, "lazydit-worker") }.asCoroutineDispatcher()
    /** Used on the worker only. */
    private val loaded = LoadedSet<File, LoadedBundle>(2)
    private val _state = MutableStateFlow(UiState())
    val state: StateFlow<UiState> = _state.asStateFlow()

    init {
        refreshBundles()
    }

    fun refreshBundles() = launchWork("Looking for bundles…") {
        val found = store.discover()
        val problems = found.problems.toMutableList()
        val infos = found.folders.values.mapNotNull { dir ->
            // A quick structural check for the list; the full sha256 check runs when a bundle is loaded.
            try {
                describe(Bundle.open(dir, false), dir)
            } catch (e: BundleException) {
                problems += e.message.orEmpty()
                null
            }
        }
        // A result stays on screen after a refresh; a bundle that is gone is released.
        val listed = infos.map { it.dir }.toSet()
        loaded.retainOnly(_state.value.results.map { it.bundle.dir }.filter { it in listed })
        _state.update { s ->
            s.copy(
                bundles = infos,
                pushFolder = store.pushedRoot?.path.orEmpty(),
                lazyBundle = s.lazyBundle?.takeIf { it in infos } ?: infos.firstOrNull { it.isLazy },
                ddimBundle = s.ddimBundle?.takeIf { it in infos } ?: infos.firstOrNull { !it.isLazy },
                error = problems.firstOrNull()
                    ?: if (infos.isEmpty()) "No bundles found. Push one with adb (see README)." else null,
            )
        }
    }

    fun selectMode(mode: Mode) = _state.update { it.copy(mode = mode) }

    fun selectLazy(info: BundleInfo) = _state.update { it.copy(lazyBundle = info) }

    fun selectDdim(info: BundleInfo) = _state.update { it.copy(ddimBundle = info) }

    fun selectClass(index: Int) = _state.update { it.copy(classIndex = index) }

    fun setSeedText(text: String) = _state.update { it.copy(seedText = SeedText.edit(it.seedText, text)) }

    /** Frees every loaded bundle (the app went to the background); the next Generate loads again. */
    fun releaseBundles() {
        viewModelScope.launch(worker) { runCatching { loaded.clear() } }
    }

    fun generate() {
        val s = _state.value
        val targets = when (s.mode) {
            Mode.LAZY -> listOfNotNull(s.lazyBundle)
            Mode.DDIM -> listOfNotNull(s.ddimBundle)
            Mode.COMPARE -> listOfNotNull(s.lazyBundle, s.ddimBundle)
        }
        val seed = s.seed ?: run {
            _state.update { it.copy(error = "Enter a seed (digits only).") }
            return
        }
        if (targets.isEmpty() || (s.mode == Mode.COMPARE && targets.size < 2)) {
            _state.update { it.copy(error = "No ${s.mode.title} bundle on this device; push one with adb (see README).") }
            return
        }
        if (targets.size == 2 && targets[0].fingerprint != targets[1].fingerprint) {
            _state.update {
                it.copy(error = "${targets[0].name} and ${targets[1].name} come from different models; " +
                    "export both from the same checkpoint to compare them.")
            }
            return
        }
        launchWork("Loading…") {
            _state.update { it.copy(results = emptyList()) }
            try {
                // Releases every other loaded bundle before loading these, so old and new never coexist.
                val bundles = loaded.acquire(targets.map { it.dir }) { dir ->
                    val info = targets.first { it.dir == dir }
                    _state.update { it.copy(status = "Verifying checksums and loading ${info.name}…") }
                    LoadedBundle.open(dir)
                }
                val results = targets.zip(bundles) { info, bundle -> generateWith(info, bundle, s.classIndex, seed) }
                _state.update { it.copy(results = results) }
            } catch (e: Throwable) {
                // Nothing is on screen after a failure, so nothing stays loaded (and an OutOfMemoryError frees memory).
                runCatching { loaded.clear() }.exceptionOrNull()?.let(e::addSuppressed)
                throw e
            }
        }
    }

    private fun generateWith(info: BundleInfo, bundle: LoadedBundle, classIndex: Int, seed: Long): Generation {
        val steps = bundle.plan.size()
        val cls = classIndex.coerceIn(0, bundle.manifest.classCount() - 1)
        val run = bundle.generate(cls, seed) { i, _, _, _ ->
            _state.update { it.copy(progress = (i + 1f) / steps, status = "${info.name}: step ${i + 1}/$steps") }
        }
        return Generation(
            bundle = info,
            images = imageToBitmaps(run.image(), bundle.manifest),
            totalMs = run.totalMs(),
            stepMs = run.stepMs().toList(),
            lazyFractions = bundle.plan.entries().map { it.lazyFraction() },
            decodeMs = run.decodeMs().takeIf { run.decoded() },
        )
    }

    /** Runs [work] on the worker with busy/progress/error bookkeeping. */
    private fun launchWork(status: String, work: () -> Unit) {
        viewModelScope.launch {
            _state.update { it.copy(busy = true, status = status, progress = null, error = null) }
            val error = withContext(worker) {
                try {
                    work()
                    null
                } catch (e: Throwable) {
                    // Throwable, not Exception: UnsatisfiedLinkError (a 32-bit phone) and OutOfMemoryError
                    // must reach the screen as a message instead of killing the app.
                    Failures.describe(e, Build.SUPPORTED_ABIS.toList())
                }
            }
            _state.update { it.copy(busy = false, status = "", progress = null, error = error ?: it.error) }
        }
    }

    override fun onCleared() {
        // Modules are closed on the thread that used them, after any running generation.
        worker.executor.execute { runCatching { loaded.clear() } }
        worker.close()
    }

    private fun describe(bundle: Bundle, dir: File): BundleInfo {
        val m = bundle.manifest()
        return BundleInfo(
            name = m.name(),
            dir = dir,
            schedule = m.scheduleSource(),
            laziness = m.laziness(),
            steps = m.steps().size,
            classNames = m.classNames().ifEmpty { List(m.classCount()) { it.toString() } },
            fingerprint = m.fingerprint(),
        )
    }
}
