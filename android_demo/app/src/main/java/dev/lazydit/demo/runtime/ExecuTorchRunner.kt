package dev.lazydit.demo.runtime

import android.os.SystemClock
import dev.lazydit.core.Bundle
import dev.lazydit.core.DType
import dev.lazydit.core.GraphRunner
import dev.lazydit.core.TensorBuffer
import java.io.Closeable
import java.util.IdentityHashMap
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * Runs a bundle's step graphs with ExecuTorch: one multi-method .pte, one method per variant, and a
 * latent bundle's decoder method (`targets.executorch.decoder`) in the same program.
 *
 * Each scheduler buffer is wrapped once with `Tensor.fromBlob` over its direct buffer (no copy), so
 * the cache slots and the latent are never reallocated: a step's graph reads the very memory that
 * earlier steps wrote. Results are copied into the scheduler's output buffers with `copyDataInto`.
 */
class ExecuTorchRunner(bundle: Bundle, numThreads: Int = 0) : GraphRunner, Closeable {
    private val module: Module
    private val wrapped = IdentityHashMap<TensorBuffer, EValue>()

    /** How long `Module.load` took. */
    val programLoadMs: Double

    init {
        val start = SystemClock.elapsedRealtimeNanos()
        // executorchProgram() refuses a bundle without an executorch target, so methods is non-null below.
        module = Module.load(bundle.executorchProgram().absolutePath, Module.LOAD_MODE_MMAP, numThreads)
        programLoadMs = millisSince(start)
    }

    private val methods: Map<String, String> = bundle.manifest().executorchMethods()

    /** The decoder's method, or null for a bundle without a decoder. */
    private val decoderMethod: String? = bundle.manifest().executorchDecoder()

    /**
     * Loads (and delegates) every method now, so the first generation does not pay for it; returns
     * each method's load time by variant, in load order.
     */
    fun loadAllMethods(): Map<String, Double> = methods.mapValues { (_, method) ->
        val start = SystemClock.elapsedRealtimeNanos()
        module.loadMethod(method)
        millisSince(start)
    }

    /** Loads the decoder's method now, as [loadAllMethods] does the variants'; its load time, or null without one. */
    fun loadDecoder(): Double? = decoderMethod?.let { method ->
        val start = SystemClock.elapsedRealtimeNanos()
        module.loadMethod(method)
        millisSince(start)
    }

    override fun run(variant: String, inputs: List<TensorBuffer>, outputs: List<TensorBuffer>) {
        val method = methods[variant] ?: error("the bundle maps no ExecuTorch method to variant $variant")
        val args = Array(inputs.size) { evalue(inputs[it]) }
        val results = module.execute(method, *args)
        check(results.size == outputs.size) {
            "method $method returned ${results.size} outputs; the manifest lists ${outputs.size}"
        }
        for (i in outputs.indices) {
            copyInto(results[i].toTensor(), outputs[i])
        }
    }

    override fun decode(latent: TensorBuffer, image: TensorBuffer) {
        val method = decoderMethod ?: error("the bundle maps no ExecuTorch method to its decoder")
        val results = module.execute(method, evalue(latent))
        check(results.size == 1) { "decoder method $method returned ${results.size} outputs; it has one, the image" }
        copyInto(results[0].toTensor(), image)
    }

    private fun evalue(buffer: TensorBuffer): EValue = wrapped.getOrPut(buffer) {
        val shape = buffer.spec().longShape()
        val tensor = when (buffer.spec().dtype()) {
            DType.FLOAT32 -> Tensor.fromBlob(buffer.floatView(), shape)
            DType.FLOAT16 -> Tensor.fromBlob(buffer.halfView(), shape)
            DType.INT32 -> Tensor.fromBlob(buffer.intView(), shape)
        }
        EValue.from(tensor)
    }

    private fun copyInto(src: Tensor, dst: TensorBuffer) {
        check(src.numel() == dst.numel().toLong()) {
            "graph output has ${src.numel()} values; ${dst.name()} holds ${dst.numel()}"
        }
        when (dst.spec().dtype()) {
            DType.FLOAT32 -> src.copyDataInto(dst.floatView())
            DType.FLOAT16 -> src.copyDataInto(dst.halfView())
            DType.INT32 -> src.copyDataInto(dst.intView())
        }
    }

    override fun close() {
        wrapped.clear()
        module.close()
    }

    private fun millisSince(startNanos: Long): Double = (SystemClock.elapsedRealtimeNanos() - startNanos) / 1e6
}
