#if canImport(CoreML)
import CoreML
import Dispatch
import Foundation
import LazyDiTCore

/// A bundle made ready to generate on Core ML: validated, compiled (once, cached), every function loaded, and a
/// step scheduler with its buffers allocated.
///
/// Not safe for concurrent generations (they would share the scheduler's buffers); it is handed between tasks
/// but used by one at a time, which the screens ensure.
public final class CoreMLPipeline: @unchecked Sendable {
    /// Where loading is, for the progress view.
    public enum Stage: Sendable, Equatable {
        case verifying(fraction: Double)
        case compiling
        case loading(loaded: Int, total: Int)
        case ready
    }

    public let bundle: LazyDiTBundle
    public let scheduler: StepScheduler<CoreMLGraphRunner>
    public let lazyPlan: StepPlan
    /// DDIM on the same timesteps, when the bundle has a fully computing variant.
    public let densePlan: StepPlan?
    /// Compile time (0 when the cached `.mlmodelc` was used) and each function's load time.
    public let loadTimes: BenchmarkReport.LoadTimes

    /// Whether this load compiled the package (false: the cached `.mlmodelc` was used).
    public var compiledNow: Bool { loadTimes.compiledNow }
    /// Wall time of compile (if it happened) and load of every function.
    public var loadMilliseconds: Double { loadTimes.total }

    init(bundle: LazyDiTBundle, scheduler: StepScheduler<CoreMLGraphRunner>, loadTimes: BenchmarkReport.LoadTimes) throws {
        self.bundle = bundle
        self.scheduler = scheduler
        lazyPlan = try StepPlan.lazy(bundle.manifest)
        densePlan = try? StepPlan.dense(bundle.manifest)
        self.loadTimes = loadTimes
    }

    /// How the functions are held (`.keepLoaded`, or `.reducedMemory`: loaded per use, released after each run).
    public var residency: ResidencyPolicy { scheduler.runner.residency }

    /// Validates the bundle at `url` (sizes always, SHA-256 when `verifyChecksums`, each file hashed once per
    /// process through `digests`), compiles or reuses its Core ML model, and loads (or prewarms, in reduced-memory
    /// mode) every function with `computeUnits`.
    public static func load(bundleAt url: URL, computeUnits: ComputeUnitsChoice,
                            residency: ResidencyPolicy = .keepLoaded, verifyChecksums: Bool = true,
                            cacheDirectory: URL? = nil, digests: FileDigestCache = .shared,
                            progress: @escaping @Sendable (Stage) -> Void = { _ in }) async throws -> CoreMLPipeline {
        let bundle = try LazyDiTBundle.load(at: url, fileCheck: verifyChecksums ? .full : .sizes,
                                            digests: digests) { fraction in
            progress(.verifying(fraction: fraction))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        progress(.compiling)
        let (compiled, compiledNow) = try await CompiledModelCache.compiledModel(for: bundle, in: cacheDirectory)
        let compileMs = compiledNow ? Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 : 0
        let runner = try CoreMLGraphRunner(compiledModel: compiled, manifest: bundle.manifest,
                                           computeUnits: computeUnits, residency: residency) { loaded, total in
            progress(.loading(loaded: loaded, total: total))
        }
        let scheduler = try StepScheduler(manifest: bundle.manifest, runner: runner)
        progress(.ready)
        let times = BenchmarkReport.LoadTimes(compile: compileMs, compiledNow: compiledNow,
                                              methods: runner.loadMilliseconds)
        return try CoreMLPipeline(bundle: bundle, scheduler: scheduler, loadTimes: times)
    }

    /// Initial latent for `seed` (see `SeededNoise`).
    public func noise(seed: UInt64) -> [Float] {
        var rng = SeededNoise(seed: seed)
        return rng.normals(count: bundle.manifest.tensorSpec("x")?.count ?? 0)
    }

    /// One generation: every image of the batch of class `classIndex`, from the noise of `seed`.
    public func generate(plan: StepPlan, classIndex: Int, seed: UInt64,
                         onStep: ((StepEvent) -> Void)? = nil) throws -> RunResult {
        let classes = [Int](repeating: classIndex, count: bundle.manifest.batch)
        return try scheduler.run(plan: plan, classes: classes, noise: noise(seed: seed), onStep: onStep)
    }
}
#endif
