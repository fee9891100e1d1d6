package dev.lazydit.demo.runtime

import android.app.ActivityManager
import android.content.Context
import android.os.Build
import android.os.PowerManager
import java.io.File

/** What the benchmark report records about the phone, so numbers from different devices are comparable. */
object DeviceInfo {
    fun collect(context: Context): Map<String, Any?> = buildMap<String, Any?> {
        put("manufacturer", Build.MANUFACTURER)
        put("model", Build.MODEL)
        put("device", Build.DEVICE)
        put("soc", if (Build.VERSION.SDK_INT >= 31) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE)
        put("android", Build.VERSION.RELEASE)
        put("sdk", Build.VERSION.SDK_INT)
        put("abis", Build.SUPPORTED_ABIS.toList())
        put("cpus", Runtime.getRuntime().availableProcessors())
        put("cpu_governor", firstLine("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))
        context.getSystemService(ActivityManager::class.java)?.let { am ->
            val memory = ActivityManager.MemoryInfo().also(am::getMemoryInfo)
            put("mem_total_mb", memory.totalMem / (1 shl 20))
        }
        if (Build.VERSION.SDK_INT >= 29) {
            // 0 = none ... 6 = shutdown (PowerManager.THERMAL_STATUS_*); a hot phone skews latency.
            put("thermal_status", context.getSystemService(PowerManager::class.java)?.currentThermalStatus)
        }
    }

    /** This process's peak resident memory (VmHWM), or null where /proc does not say. */
    fun peakRssKb(): Long? = runCatching {
        File("/proc/self/status").useLines { lines ->
            lines.first { it.startsWith("VmHWM:") }.split(Regex("\\s+"))[1].toLong()
        }
    }.getOrNull()

    /** Sysfs files may be unreadable to apps on some builds; the report then says null. */
    private fun firstLine(path: String): String? =
        runCatching { File(path).bufferedReader().use { it.readLine()?.trim() } }.getOrNull()
}
