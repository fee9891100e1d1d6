package dev.lazydit.demo

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.widget.TextView
import dev.lazydit.core.BundleException
import dev.lazydit.core.LatencyReport
import dev.lazydit.demo.runtime.BundleStore
import dev.lazydit.demo.runtime.DeviceInfo
import dev.lazydit.demo.runtime.LoadedBundle
import java.io.File
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
 * Failures are reported in the same file with `error` set. The activity finishes when done.
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
        val output: String,
    )

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { text = getString(R.string.benchmark_label) }
        setContentView(status)
        val args = Args(
            bundleDir = intent.getStringExtra("bundle_dir"),
            warmup = intent.getIntExtra("warmup", 2),
            repeat = intent.getIntExtra("repeat", 10),
            threads = intent.getIntExtra("threads", 0),
            classIndex = intent.getIntExtra("class", 0),
            seed = intent.getIntExtra("seed", 0),
            golden = intent.getBooleanExtra("golden", true),
            output = intent.getStringExtra("output") ?: DEFAULT_OUTPUT,
        )
        val outputs = listOfNotNull(filesDir, getExternalFilesDir(null)).map { File(it, File(args.output).name) }
        // A host polling for the report must not pick up the previous run's file.
        outputs.forEach { it.delete() }
        thread(name = "lazydit-benchmark") {
            val report = benchmark(args)
            for (file in outputs) {
                runCatching { report.write(file) }.onFailure { Log.e(TAG, "cannot write $file", it) }
            }
            runOnUiThread { finish() }
        }
    }

    private fun benchmark(args: Args): LatencyReport {
        val report = LatencyReport("lazydit-android-app", "executorch", BuildConfig.EXECUTORCH_VERSION)
        DeviceInfo.collect(this).forEach { (key, value) -> report.device(key, value) }
        report.option("warmup", args.warmup).option("repeat", args.repeat).option("threads", args.threads)
            .option("class", args.classIndex).option("seed", args.seed).option("load_mode", "mmap")
        try {
            val name = args.bundleDir
                ?: throw BundleException("missing bundle: pass --es bundle_dir NAME_OR_PATH (android_demo/README.md)")
            require(args.warmup >= 0 && args.repeat >= 1) { "need --ei warmup >= 0 and --ei repeat >= 1" }
            LoadedBundle.open(BundleStore(this).resolve(name), args.threads).use { loaded ->
                report.bundle(loaded.bundle).loadMs(loaded.programLoadMs, loaded.methodLoadMs)
                report.option("classes", loaded.scheduler.labels(args.classIndex))
                if (args.golden) loaded.checkGolden()?.let(report::golden)
                repeat(args.warmup) { loaded.generate(args.classIndex, args.seed.toLong()) }
                repeat(args.repeat) { report.addRun(loaded.generate(args.classIndex, args.seed.toLong())) }
            }
            DeviceInfo.peakRssKb()?.let(report::peakRssKb)
        } catch (e: BundleException) {
            report.error(e.message)
        } catch (e: Throwable) {
            // Errors too (e.g. UnsatisfiedLinkError on an ABI the AAR lacks): the host must get a report, not silence.
            Log.e(TAG, "benchmark failed", e)
            report.error("${e.javaClass.simpleName}: ${e.message}")
        }
        return report
    }

    private companion object {
        const val TAG = "LazyDiTBenchmark"
        const val DEFAULT_OUTPUT = "lazydit_bench.json"
    }
}
