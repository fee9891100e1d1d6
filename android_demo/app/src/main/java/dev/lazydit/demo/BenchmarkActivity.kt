package dev.lazydit.demo

import android.app.Activity
import android.content.Context
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.util.Log
import android.widget.TextView
import dev.lazydit.core.BundleException
import dev.lazydit.core.BundlePaths
import dev.lazydit.core.Failures
import dev.lazydit.core.LatencyReport
import dev.lazydit.core.SingleRun
import dev.lazydit.demo.runtime.BundleStore
import dev.lazydit.demo.runtime.DeviceInfo
import dev.lazydit.demo.runtime.LoadedBundle
import java.io.File
import java.util.UUID
import kotlin.concurrent.thread

/**
 * Headless latency benchmark in the style of ExecuTorch's minibench, started from the host:
 *
 *     adb shell am start -W -S -n dev.lazydit.demo/.BenchmarkActivity \
 *         --es bundle_dir NAME_OR_ABSOLUTE_PATH --ei warmup 3 --ei repeat 10 [--ei threads 4] \
 *         [--ei class 0] [--ei seed 0] [--ez golden true] [--es output lazydit_bench.json]
 *
 * It validates the bundle (sha256 of every file), loads it, checks the golden trace when the bundle
 * has one, runs warm-up and timed generations, and writes a `lazydit-app-report/1` report to
 * `files/<output>` (read it with `adb shell run-as dev.lazydit.demo cat files/<output>`) and to the
 * external files dir (for non-debuggable builds: `adb pull /sdcard/Android/data/dev.lazydit.demo/files/<output>`).
 * Failures, a refused `bundle_dir` included, are reported in the same file with `error` set. The
 * activity finishes when done.
 *
 * The activity is exported, so `bundle_dir` is either a discovered bundle's name or an absolute path
 * inside the app's files dir or /data/local/tmp ([BundlePaths]). It runs once per launch: a rotation
 * or another configuration change that recreates the activity does not start a second run ([SingleRun]).
 */
class BenchmarkActivity : Activity() {
    private class Args(
        val bundleDir: String?,
        val warmup: Int,
        val repeat: Int,
        val threads: Int,
        val classIndex: Int,
        val seed: Int,
        val golden: Boolean,
        /** The report's file name, or null when the `output` extra is not a plain file name. */
        val output: String?,
        val outputProblem: String?,
    )

    private lateinit var launchId: String

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(TextView(this).apply { text = getString(R.string.benchmark_label) })
        // Kept across recreation, so a recreated activity recognises the launch it belongs to.
        launchId = savedInstanceState?.getString(STATE_LAUNCH) ?: UUID.randomUUID().toString()
        shown = this
        val args = parseArgs()
        val output = args.output ?: DEFAULT_OUTPUT
        when (runs.begin(launchId, output)) {
            SingleRun.Start.STARTED -> start(args, output)
            SingleRun.Start.ALREADY_RUNNING -> Unit // the run in progress finishes this instance
            SingleRun.Start.ALREADY_DONE -> finish()
            SingleRun.Start.BUSY -> {
                Log.w(TAG, "a benchmark is already running; this launch does not start another")
                val report = newReport().error("another benchmark is running in this process; start one at a time")
                thread(name = "lazydit-benchmark-refusal") { write(report, reportFiles(applicationContext, output)) }
                finish()
            }
            SingleRun.Start.BUSY_SAME_RESOURCE -> {
                // The running benchmark owns this report file: a refusal written there would replace its report.
                Log.w(TAG, "a benchmark writing $output is already running; this launch does not start another")
                finish()
            }
        }
    }

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        outState.putString(STATE_LAUNCH, launchId)
    }

    override fun onDestroy() {
        if (shown === this) shown = null
        super.onDestroy()
    }

    private fun parseArgs(): Args {
        val output = intent.getStringExtra("output") ?: DEFAULT_OUTPUT
        val problem = runCatching { BundlePaths.plainName(output, "output") }.exceptionOrNull()?.message
        return Args(
            bundleDir = intent.getStringExtra("bundle_dir"),
            warmup = intent.getIntExtra("warmup", 2),
            repeat = intent.getIntExtra("repeat", 10),
            threads = intent.getIntExtra("threads", 0),
            classIndex = intent.getIntExtra("class", 0),
            seed = intent.getIntExtra("seed", 0),
            golden = intent.getBooleanExtra("golden", true),
            output = output.takeIf { problem == null },
            outputProblem = problem,
        )
    }

    private fun start(args: Args, output: String) {
        // The run outlives this instance if it is recreated: it holds the application, not the activity.
        val app = applicationContext
        val outputs = reportFiles(app, output)
        // A host polling for the report must not pick up the previous run's file.
        outputs.forEach { it.delete() }
        val id = launchId
        try {
            thread(name = "lazydit-benchmark") {
                try {
                    write(benchmark(app, args), outputs)
                } finally {
                    runs.end(id)
                    main.post { shown?.takeIf { it.launchId == id }?.finish() }
                }
            }
        } catch (e: Throwable) {
            runs.end(id) // no thread, no run: a later launch must not be refused as busy
            throw e
        }
    }

    private fun benchmark(app: Context, args: Args): LatencyReport {
        val report = newReport()
        report.option("warmup", args.warmup).option("repeat", args.repeat).option("threads", args.threads)
            .option("class", args.classIndex).option("seed", args.seed).option("load_mode", "mmap")
        try {
            DeviceInfo.collect(app).forEach { (key, value) -> report.device(key, value) }
            args.outputProblem?.let { throw BundleException("$it; the report went to $DEFAULT_OUTPUT") }
            require(args.warmup >= 0 && args.repeat >= 1) { "need --ei warmup >= 0 and --ei repeat >= 1" }
            LoadedBundle.open(BundleStore(app).resolve(args.bundleDir), args.threads).use { loaded ->
                report.bundle(loaded.bundle).loadMs(loaded.programLoadMs, loaded.methodLoadMs, loaded.decoderLoadMs)
                report.option("classes", loaded.scheduler.labels(args.classIndex))
                if (args.golden) loaded.checkGolden()?.let(report::golden)
                repeat(args.warmup) { loaded.generate(args.classIndex, args.seed.toLong()) }
                repeat(args.repeat) { report.addRun(loaded.generate(args.classIndex, args.seed.toLong())) }
            }
            DeviceInfo.peakRssKb()?.let(report::peakRssKb)
        } catch (e: Throwable) {
            // Errors too (UnsatisfiedLinkError on an ABI the AAR lacks, OutOfMemoryError): the host must
            // get a report, not silence.
            if (e !is BundleException) Log.e(TAG, "benchmark failed", e)
            report.error(Failures.describe(e, Build.SUPPORTED_ABIS.toList()))
        }
        return report
    }

    private companion object {
        const val TAG = "LazyDiTBenchmark"
        const val DEFAULT_OUTPUT = "lazydit_bench.json"
        const val STATE_LAUNCH = "dev.lazydit.demo.benchmark.launch"

        /** One per process: `am start -S` starts a fresh process, so each host run is a new launch. */
        val runs = SingleRun()
        val main = Handler(Looper.getMainLooper())

        /** The instance on screen, for the run to finish; set and cleared on the main thread. */
        @Volatile var shown: BenchmarkActivity? = null

        fun newReport() = LatencyReport("lazydit-android-app", "executorch", BuildConfig.EXECUTORCH_VERSION)

        /** The report in internal storage (read with run-as) and in the external files dir (adb pull). */
        fun reportFiles(app: Context, name: String): List<File> =
            listOfNotNull(app.filesDir, app.getExternalFilesDir(null)).map { File(it, name) }

        fun write(report: LatencyReport, files: List<File>) {
            for (file in files) {
                runCatching { report.write(file) }.onFailure { Log.e(TAG, "cannot write $file", it) }
            }
        }
    }
}
