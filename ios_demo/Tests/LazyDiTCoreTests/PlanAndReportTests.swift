import Foundation
import XCTest
@testable import LazyDiTCore

/// An integer out of `JSONSerialization` output, whichever number type the platform's Foundation produced.
func jsonInt(_ value: Any?) -> Int? {
    if let i = value as? Int { return i }
    if let n = value as? NSNumber { return n.intValue }
    if let d = value as? Double { return Int(d) }
    return nil
}

final class StepPlanTests: XCTestCase {
    func testLazyAndDensePlansAgreeWithTheManifest() throws {
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip)
        let m = bundle.manifest
        let raw = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: FixturePaths.tiny.appendingPathComponent("manifest.json"))) as? [String: Any])
        let macs = try XCTUnwrap(raw["macs"] as? [String: Any])

        let lazy = try StepPlan.lazy(m)
        XCTAssertEqual(lazy.count, m.steps.count)
        XCTAssertEqual(lazy.lazyMask, m.steps.map { !$0.reads.isEmpty })
        XCTAssertEqual(lazy.laziness, m.schedule.laziness, accuracy: 1e-12)
        XCTAssertEqual(lazy.macsPerImage, jsonInt(macs["per_image"]))

        let dense = try StepPlan.dense(m)
        XCTAssertEqual(dense.kind, .dense)
        XCTAssertEqual(dense.lazyMask, [Bool](repeating: false, count: m.steps.count))
        XCTAssertEqual(dense.laziness, 0)
        XCTAssertEqual(dense.entries.map(\.step.timestep), m.steps.map(\.timestep))
        XCTAssertEqual(dense.macsPerImage, jsonInt(macs["dense_per_image"]))
    }
}

final class StatisticsTests: XCTestCase {
    func testPercentilesMatchNumpy() {
        let v: [Double] = [3, 1, 4, 1, 5, 9, 2, 6]
        XCTAssertEqual(Statistics.median(v), 3.5)  // numpy.percentile(v, 50)
        XCTAssertEqual(Statistics.percentile(v, 90), 6.9, accuracy: 1e-12)  // numpy.percentile(v, 90)
        XCTAssertEqual(Statistics.percentile([7], 90), 7)
        XCTAssertEqual(Statistics.percentile([], 50), 0)
        XCTAssertEqual(Statistics.mean([1, 2, 6]), 3)
    }
}

final class BenchmarkTests: XCTestCase {
    private func tinySetup() throws -> (LazyDiTBundle, GoldenTrace, [Float], [Float]) {
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip)
        let trace = try GoldenTrace.load(from: FixturePaths.tiny.appendingPathComponent("golden/trace.json"))
        let noise = try RawTensorData.readFloat32File(FixturePaths.tiny.appendingPathComponent("golden/noise.bin"))
        let expected = try RawTensorData.readFloat32File(FixturePaths.tiny.appendingPathComponent("golden/final.bin"))
        return (bundle, trace, noise, expected)
    }

    func testMeasureChecksGoldenThenInterleavesAndSummarises() throws {
        let (bundle, trace, noise, expected) = try tinySetup()
        let runner = try ReplayRunner(stepsFolder: FixturePaths.tiny.appendingPathComponent("steps"))
        let scheduler = try StepScheduler(manifest: bundle.manifest, runner: runner)
        let plan = try StepPlan.lazy(bundle.manifest)
        let bundleInfo = try BenchmarkReport.BundleInfo(bundle, path: "tiny")
        let load = BenchmarkReport.LoadTimes(compile: 0, compiledNow: false, methods: ["v0": 1, "v1": 2])
        var order: [String] = []
        let cases = ["a", "b"].map { name in
            BenchmarkCase(bundle: bundleInfo, plan: BenchmarkReport.PlanInfo(name: name, method: "lazydit", plan: plan),
                          load: load,
                          goldenCheck: { try trace.check(scheduler, plan: plan, noise: noise, expectedFinal: expected) }) {
                order.append(name)
                return try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
            }
        }
        let options = BenchmarkReport.Options(warmup: 1, repeats: 3, classIndex: 0, seed: 0, classes: trace.classes,
                                              loadMode: "replay")
        let reports = try Benchmark.measure(cases, runner: .init(name: "replay", backend: "replay", computeUnits: "none"),
                                            device: DeviceInfo.current(), options: options)
        XCTAssertEqual(order, ["a", "b", "a", "b", "a", "b", "a", "b"])
        XCTAssertEqual(runner.calls, (2 + 8) * plan.count)  // one golden run per case, then warm-up and repeats
        XCTAssertEqual(reports.map(\.plan.name), ["a", "b"])
        for r in reports {
            XCTAssertEqual(r.format, "lazydit-ios-report/1")
            XCTAssertEqual(r.runs.count, 3)
            XCTAssertEqual(r.totalMs.count, 3)
            XCTAssertEqual(r.stepMs.count, 3 * plan.count)
            XCTAssertEqual(r.runs[0].steps.map(\.variant), trace.steps.map(\.variant))
            XCTAssertEqual(r.runs[0].steps.map(\.index), Array(0..<plan.count))
            XCTAssertEqual(r.perStepMedianMs.count, plan.count)
            XCTAssertEqual(r.perVariantStepMs.keys.sorted(), ["v0", "v1"])
            XCTAssertEqual(r.perVariantStepMs["v1"]?.count, 3 * plan.lazyMask.filter { $0 }.count)
            XCTAssertEqual(r.totalMs.median, Statistics.median(r.runs.map(\.totalMs)))
            XCTAssertEqual(r.plan.laziness, 0.5, accuracy: 1e-12)
            XCTAssertEqual(r.plan.lazySteps, 5)
            XCTAssertEqual(r.bundle.lazySteps, 5)
            XCTAssertEqual(r.loadMs.total, 3)
            XCTAssertEqual(r.golden.checked, true)
            XCTAssertEqual(r.golden.ok, true, "\(r.golden.problems)")
            XCTAssertLessThanOrEqual(try XCTUnwrap(r.golden.maxAbsDiffFinal), trace.tolerance)
            XCTAssertGreaterThan(r.memory.peakRssKb, 0)
        }
        XCTAssertThrowsError(try Benchmark.measure(cases, runner: .init(computeUnits: "all"), device: DeviceInfo.current(),
                                                   options: .init(warmup: 0, repeats: 0, classIndex: 0, seed: 0,
                                                                  classes: [0], loadMode: "replay")))
    }

    func testFileJSONLayoutAndComparisons() throws {
        let (bundle, _, _, _) = try tinySetup()
        let lazyPlan = try StepPlan.lazy(bundle.manifest)
        let densePlan = try StepPlan.dense(bundle.manifest)
        func result(_ plan: StepPlan, _ stepMs: Double) -> RunResult {
            RunResult(image: [], shape: [1, 1, 16, 16], plan: plan.kind,
                      stepMilliseconds: plan.entries.map { $0.isLazy ? stepMs / 4 : stepMs },
                      variants: plan.entries.map(\.variant.name), lazyMask: plan.lazyMask,
                      totalMilliseconds: plan.entries.reduce(0) { $0 + ($1.isLazy ? stepMs / 4 : stepMs) }, latents: [])
        }
        let device = DeviceInfo(manufacturer: "Apple", model: "iPhone17,1", os: "iOS 18.2.0", cpus: 6, memTotalMb: 8192,
                                thermalState: "nominal", lowPowerMode: false)
        let runner = BenchmarkReport.RunnerInfo(computeUnits: "all")
        let info = try BenchmarkReport.BundleInfo(bundle, path: "tiny")
        let options = BenchmarkReport.Options(warmup: 1, repeats: 2, classIndex: 0, seed: 0, classes: [0], loadMode: "mlmodelc")
        let load = BenchmarkReport.LoadTimes(compile: 1500, compiledNow: true, methods: ["v0": 20, "v1": 10])
        let lazy = BenchmarkReport(runner: runner, device: device, bundle: info,
                                   plan: .init(name: "lazydit-10", method: "lazydit", plan: lazyPlan), options: options,
                                   load: load, golden: .notChecked, results: [result(lazyPlan, 4), result(lazyPlan, 4)],
                                   peakRssKb: 1000)
        let dense = BenchmarkReport(runner: runner, device: device, bundle: info,
                                    plan: .init(name: "ddim-10", method: "ddim", plan: densePlan), options: options,
                                    load: load, golden: .notChecked, results: [result(densePlan, 4)], peakRssKb: 1000)
        let file = BenchmarkFile(runner: runner, device: device, protocolInfo: .init(warmup: 1, repeats: 2),
                                 reports: [lazy, dense])
        XCTAssertEqual(file.comparisons.count, 1)
        let c = try XCTUnwrap(file.comparisons.first)
        XCTAssertEqual(c.speedup, 40.0 / 25.0, accuracy: 1e-12)  // 10 full steps vs 5 full + 5 quarter-cost steps
        XCTAssertEqual(try XCTUnwrap(c.idealSpeedup), 9_318_400.0 / 5_058_560.0, accuracy: 1e-12)
        XCTAssertEqual(load.methodsTotal, 30)
        XCTAssertEqual(load.total, 1530)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lazydit-report-\(UUID().uuidString)")
        let url = try file.write(to: folder, name: "bench.json")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "lazydit-ios-bench/1")
        XCTAssertEqual(Set(json.keys), ["format", "created_at", "runner", "device", "protocol", "reports", "comparisons",
                                        "notes", "error"])
        XCTAssertTrue(json["error"] is NSNull)
        let reports = try XCTUnwrap(json["reports"] as? [[String: Any]])
        let first = reports[0]
        XCTAssertEqual(Set(first.keys), ["format", "runner", "device", "bundle", "plan", "options", "load_ms", "runs",
                                         "total_ms", "step_ms", "per_variant_step_ms", "per_step_median_ms", "memory",
                                         "golden"])
        let total = try XCTUnwrap(first["total_ms"] as? [String: Any])
        XCTAssertEqual(Set(total.keys), ["median", "p90", "min", "max", "mean", "count"])
        let runs = try XCTUnwrap(first["runs"] as? [[String: Any]])
        XCTAssertEqual(Set(runs[0].keys), ["total_ms", "steps"])
        let steps = try XCTUnwrap(runs[0]["steps"] as? [[String: Any]])
        XCTAssertEqual(Set(steps[0].keys), ["index", "variant", "ms"])
        let golden = try XCTUnwrap(first["golden"] as? [String: Any])
        XCTAssertTrue(golden["ok"] is NSNull)
        let opts = try XCTUnwrap(first["options"] as? [String: Any])
        XCTAssertEqual(jsonInt(opts["repeat"]), 2)
        XCTAssertEqual(jsonInt(opts["class"]), 0)
        let loadMs = try XCTUnwrap(first["load_ms"] as? [String: Any])
        XCTAssertEqual(Set(loadMs.keys), ["compile", "compiled_now", "methods", "methods_total", "total"])
        let back = try JSONDecoder().decode(BenchmarkFile.self, from: Data(contentsOf: url))
        XCTAssertEqual(back.reports.map(\.plan.name), ["lazydit-10", "ddim-10"])
        XCTAssertNil(back.error)
        XCTAssertNil(back.reports[0].golden.ok)
    }

    func testDeviceInfoDescribesThisMachine() {
        let info = DeviceInfo.current()
        XCTAssertFalse(info.model.isEmpty)
        XCTAssertFalse(info.os.isEmpty)
        XCTAssertGreaterThan(info.cpus, 0)
        XCTAssertGreaterThan(info.memTotalMb, 0)
        XCTAssertGreaterThan(ProcessMemory.peakResidentKilobytes(), 0)
    }
}

final class BenchmarkOptionsTests: XCTestCase {
    func testParsesTheLaunchArguments() throws {
        let o = try XCTUnwrap(try BenchmarkOptions.parse(
            ["App", "-NSDocumentRevisionsDebugMode", "YES", "-benchmark", "1", "-bundle", "tiny", "-repeat", "5",
             "-warmup", "0", "-compute-units", "cpu_ne", "-ddim-bundle", "tiny-ddim5", "-seed", "7", "-class", "2"]))
        XCTAssertEqual(o.bundle, "tiny")
        XCTAssertEqual(o.ddimBundle, "tiny-ddim5")
        XCTAssertEqual(o.repeats, 5)
        XCTAssertEqual(o.warmup, 0)
        XCTAssertEqual(o.seed, 7)
        XCTAssertEqual(o.classIndex, 2)
        XCTAssertEqual(o.computeUnits, .cpuAndNeuralEngine)
        XCTAssertFalse(o.reduceMemory)
        XCTAssertEqual(o.residency, .keepLoaded)
        let lean = try XCTUnwrap(try BenchmarkOptions.parse(["App", "-benchmark", "1", "-reduce-memory", "1"]))
        XCTAssertEqual(lean.residency, .lowMemory)
        XCTAssertThrowsError(try BenchmarkOptions.parse(["App", "-benchmark", "1", "-reduce-memory", "2"])) { error in
            XCTAssertEqual("\(error)", "-reduce-memory 2: expected 1 or 0")
        }
        let joined = try XCTUnwrap(try BenchmarkOptions.parse(["App", "-benchmark 1", "-repeat 3"]))
        XCTAssertEqual(joined.repeats, 3)
        XCTAssertNil(try BenchmarkOptions.parse(["App"]))
        XCTAssertNil(try BenchmarkOptions.parse(["App", "-benchmark", "0"]))
    }

    func testBadValuesAreOneLineErrors() {
        XCTAssertThrowsError(try BenchmarkOptions.parse(["App", "-benchmark", "1", "-repeat", "0"])) { error in
            XCTAssertEqual("\(error)", "-repeat 0: expected a whole number of at least 1")
        }
        XCTAssertThrowsError(try BenchmarkOptions.parse(["App", "-benchmark", "1", "-compute-units", "gpu"])) { error in
            XCTAssertEqual("\(error)", "-compute-units gpu: choose one of all, cpu_gpu, cpu_ne, cpu")
        }
    }
}

final class ImageAndNoiseTests: XCTestCase {
    func testLatentRendersToPixels() throws {
        let image = try LatentImage.render([-1, 0, 1, 2], shape: [1, 1, 2, 2], valueRange: [-1, 1])
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image.height, 2)
        XCTAssertEqual(stride(from: 0, to: 16, by: 4).map { image.pixels[$0] }, [0, 128, 255, 255])
        XCTAssertEqual(image.pixels[3], 255)
        let batch = try LatentImage.render([Float](repeating: 0, count: 2 * 3 * 4 * 5), shape: [2, 3, 4, 5], valueRange: nil)
        XCTAssertEqual(batch.width, 10)
        XCTAssertEqual(batch.height, 4)
        XCTAssertThrowsError(try LatentImage.render([0], shape: [1, 1], valueRange: nil))
    }

    func testSeededNoiseIsReproducibleAndStandard() {
        var a = SeededNoise(seed: 42)
        var b = SeededNoise(seed: 42)
        var c = SeededNoise(seed: 43)
        let x = a.normals(count: 20_001)
        let y = b.normals(count: 20_001)
        let z = c.normals(count: 8)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(Array(x.prefix(8)), z)
        XCTAssertEqual(x.count, 20_001)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }
}
