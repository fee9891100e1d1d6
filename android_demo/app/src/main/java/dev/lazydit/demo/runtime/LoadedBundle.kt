package dev.lazydit.demo.runtime

import dev.lazydit.core.Bundle
import dev.lazydit.core.GoldenTrace
import dev.lazydit.core.Manifest
import dev.lazydit.core.RunResult
import dev.lazydit.core.Scheduler
import dev.lazydit.core.StepListener
import dev.lazydit.core.StepPlan
import java.io.Closeable
import java.io.File

/**
 * A bundle that passed validation (sha256 of every file included) with its ExecuTorch program and
 * methods loaded, and the scheduler that runs it. Not thread-safe: use it from one worker thread.
 */
class LoadedBundle private constructor(
    val bundle: Bundle,
    private val runner: ExecuTorchRunner,
    /** Load time of each method by variant, after validation and `Module.load`. */
    val methodLoadMs: Map<String, Double>,
    /** Load time of the decoder's method, or null for a bundle without a decoder. */
    val decoderLoadMs: Double?,
) : Closeable {
    /** How long `Module.load` took, after validation. */
    val programLoadMs: Double get() = runner.programLoadMs
    val manifest: Manifest get() = bundle.manifest()
    val scheduler = Scheduler(bundle.manifest(), runner)
    val plan: StepPlan get() = scheduler.plan()

    /**
     * One image batch of class [cls] from [seed]; [onStep] is called on this thread after every step. A
     * latent bundle's decoder runs after the last step: the result's image is then the decoded one.
     */
    fun generate(cls: Int, seed: Long, onStep: StepListener? = null): RunResult =
        scheduler.run(scheduler.labels(cls), seed, onStep)

    /** Differences from the bundle's golden trace (empty: this device matches the exporter), or null without one. */
    fun checkGolden(): List<String>? =
        if (GoldenTrace.exists(bundle)) GoldenTrace.load(bundle).check(scheduler) else null

    /** Frees the ExecuTorch program and methods now; the buffers go with the last reference to this object. */
    override fun close() = runner.close()

    companion object {
        /**
         * Validates [dir] before anything runs, then loads its program and methods and allocates the
         * scheduler's buffers; throws BundleException on a bad bundle. Whatever fails after the
         * program loaded (a method, OutOfMemoryError on the buffers) closes the program before rethrowing.
         */
        fun open(dir: File, numThreads: Int = 0): LoadedBundle {
            val bundle = Bundle.open(dir)
            val runner = ExecuTorchRunner(bundle, numThreads)
            return try {
                LoadedBundle(bundle, runner, runner.loadAllMethods(), runner.loadDecoder())
            } catch (e: Throwable) {
                runCatching { runner.close() }.exceptionOrNull()?.let(e::addSuppressed)
                throw e
            }
        }
    }
}
