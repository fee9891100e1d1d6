// Compiled only where Core ML exists: elsewhere this target is empty, so a Linux run's test count holds no
// skipped placeholders and every test it reports actually ran.
#if canImport(CoreML)
import Foundation
import LazyDiTCore
import LazyDiTCoreML
import XCTest

/// The Core ML runner end to end on the tiny Core ML bundle (Apple platforms only): compile into a fresh cache,
/// load one model per function, run the schedule with reused buffers, and land near the golden trace of the same
/// model (looser than the trace's tolerance: Core ML computes in float16).
final class CoreMLPipelineTests: XCTestCase {
    private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LazyDiTCoreTests/Fixtures", isDirectory: true)

    func testTinyBundleCompilesLoadsAndFollowsTheGoldenTrace() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("lazydit-mlmodelc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let bundleURL = fixtures.appendingPathComponent("tiny-coreml")
        let pipeline = try await CoreMLPipeline.load(bundleAt: bundleURL, computeUnits: .cpuOnly, cacheDirectory: cache)
        XCTAssertTrue(pipeline.compiledNow)

        let golden = fixtures.appendingPathComponent("tiny/golden")
        let trace = try GoldenTrace.load(from: golden.appendingPathComponent("trace.json"))
        let noise = try RawTensorData.readFloat32File(golden.appendingPathComponent(trace.noiseFile))
        let result = try pipeline.scheduler.run(plan: pipeline.lazyPlan, classes: trace.classes, noise: noise,
                                                recordLatents: true)
        XCTAssertEqual(result.variants, trace.steps.map(\.variant))
        let expectedFinal = try RawTensorData.readFloat32File(golden.appendingPathComponent(trace.finalFile))
        let worst = zip(result.image, expectedFinal).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, 0.05, "float16 Core ML result far from the float32 golden image")

        // Same noise, same plan: the buffers reused by the second run give the same image.
        let again = try pipeline.scheduler.run(plan: pipeline.lazyPlan, classes: trace.classes, noise: noise)
        XCTAssertEqual(again.image, result.image)

        if let dense = pipeline.densePlan {
            let ddim = try pipeline.scheduler.run(plan: dense, classes: trace.classes, noise: noise)
            XCTAssertEqual(ddim.variants, [String](repeating: dense.entries[0].variant.name, count: dense.count))
        }

        let cached = try await CoreMLPipeline.load(bundleAt: bundleURL, computeUnits: .cpuOnly, cacheDirectory: cache)
        XCTAssertFalse(cached.compiledNow)

        // Reduced memory, one resident function: prewarm loads both, then interval:2 alternates v0 and v1, so
        // each of the 10 steps loads its function; the image is the same, and nothing stays loaded after the run.
        let lean = try await CoreMLPipeline.load(bundleAt: bundleURL, computeUnits: .cpuOnly,
                                                 residency: .reducedMemory(maxResident: 1), cacheDirectory: cache)
        let leanResult = try lean.scheduler.run(plan: lean.lazyPlan, classes: trace.classes, noise: noise)
        XCTAssertEqual(leanResult.image, result.image)
        XCTAssertEqual(lean.scheduler.runner.functionLoads, 2 + 10)
    }

    func testAPackageSwappedForALinkOutOfTheBundleIsNeverCompiled() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lazydit-swap-\(UUID().uuidString)")
        let cache = dir.appendingPathComponent("cache", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundleURL = dir.appendingPathComponent("bundle", isDirectory: true)
        let outside = dir.appendingPathComponent("outside", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tiny-coreml"), to: bundleURL)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tiny-coreml"), to: outside)
        let bundle = try LazyDiTBundle.load(at: bundleURL)
        // Between verification and compilation the package's folder becomes a link out of the bundle.
        try FileManager.default.removeItem(at: bundleURL.appendingPathComponent("coreml"))
        try FileManager.default.createSymbolicLink(atPath: bundleURL.appendingPathComponent("coreml").path,
                                                   withDestinationPath: outside.appendingPathComponent("coreml").path)
        do {
            _ = try await CompiledModelCache.compiledModel(for: bundle, in: cache)
            XCTFail("a package outside the bundle was compiled")
        } catch {
            XCTAssertTrue("\(error)".hasSuffix(BundlePath.inside), "\(error)")
        }
        let compiled = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
        XCTAssertEqual(compiled, [], "nothing was compiled into the cache")
    }
}
#endif
