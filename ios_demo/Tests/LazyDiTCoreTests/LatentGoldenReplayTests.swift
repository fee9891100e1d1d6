import Foundation
import XCTest
@testable import LazyDiTCore

/// A latent bundle end to end: a tiny latent DiT with a VAE decoder, 10 steps of interval:2, then the decode
/// graph on the last latent. The graphs are replayed from one Python-scheduler run on ExecuTorch (steps and the
/// decode call, recorded by ios_demo/Scripts/make_fixtures.py), and the run is checked against the golden trace:
/// every step's latent, the final latent and the decoded image (its checksums and golden/image.bin).
///
/// tests/test_ios_swift.py records it and passes the folder in `LAZYDIT_LATENT_REPLAY` (and, optionally, a folder
/// in `LAZYDIT_LATENT_REPORT_OUT` for the benchmark file this test writes, which pytest then imports with
/// `lazydit bench import`). Without the variable the tests skip, except under CI (`CI=true`), where a missing
/// recording means the replay silently stopped running and is a failure.
final class LatentGoldenReplayTests: XCTestCase {
    static let environmentKey = "LAZYDIT_LATENT_REPLAY"
    static let reportKey = "LAZYDIT_LATENT_REPORT_OUT"

    private var folder: URL!
    private var bundle: LazyDiTBundle!
    private var traceURL: URL!
    private var trace: GoldenTrace!
    private var noise: [Float]!

    override func setUpWithError() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env[Self.environmentKey], !path.isEmpty else {
            let reason = "\(Self.environmentKey) is not set: the latent golden replay did not run "
                + "(tests/test_ios_swift.py records it and sets the variable)"
            if env["CI"]?.lowercased() == "true" {
                XCTFail(reason)
                throw LazyDiTError(reason)
            }
            throw XCTSkip(reason)
        }
        folder = URL(fileURLWithPath: path, isDirectory: true)
        // The recording keeps manifest.json, golden/ and steps/; the graphs stay with the exported bundle.
        bundle = try LazyDiTBundle.load(at: folder, fileCheck: .skip)
        traceURL = try bundle.url("golden/trace.json")
        trace = try GoldenTrace.load(from: traceURL)
        noise = try RawTensorData.readFloat32File(try trace.noiseURL(besides: traceURL),
                                                  count: try XCTUnwrap(bundle.manifest.tensorSpec("x")).count)
    }

    private func makeScheduler() throws -> (StepScheduler<ReplayRunner>, ReplayRunner) {
        let runner = try ReplayRunner(stepsFolder: folder.appendingPathComponent("steps"))
        return (try StepScheduler(manifest: bundle.manifest, runner: runner), runner)
    }

    func testManifestDescribesTheDecoderInEveryTarget() throws {
        let m = bundle.manifest
        let decoder = try XCTUnwrap(m.decoder)
        XCTAssertEqual(decoder.inputs, ["latent"])
        XCTAssertEqual(decoder.outputs, ["image"])
        XCTAssertEqual(try XCTUnwrap(decoder.latentScale), 0.18215, accuracy: 0.1)
        XCTAssertEqual(m.model.latent, true)
        XCTAssertEqual(m.targets.executorch?.decoder, decoder.name)
        XCTAssertNotNil(m.targets.onnx?.decoder)
        XCTAssertNotNil(m.targets.torch?.decoder)
        XCTAssertEqual(m.imageSpec?.shape, [m.batch, 3, 16, 16])
        XCTAssertEqual(m.tensorSpec("x")?.shape, [m.batch, 4, 8, 8])
        XCTAssertEqual(trace.imageShape, m.imageSpec?.shape)
    }

    func testReplayedLatentRunMatchesTheGoldenTraceAndItsImage() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        XCTAssertEqual(plan.count, 10)
        let result = try scheduler.run(plan: plan, classes: trace.classes, noise: noise, recordLatents: true)
        XCTAssertEqual(runner.calls, plan.count + 1, "ten steps, then the decode graph once")
        XCTAssertEqual(runner.decodeCalls, 1)
        XCTAssertEqual(result.variants, trace.steps.map(\.variant))
        XCTAssertEqual(trace.compare(plan: plan, latents: result.latents), [])
        XCTAssertEqual(trace.compareFinal(result.latent), [])
        XCTAssertEqual(trace.compareImage(result.image, shape: result.shape, decoded: result.isDecoded), [])
        XCTAssertTrue(result.isDecoded)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(result.decodeMilliseconds), 0)
        XCTAssertGreaterThanOrEqual(result.totalMilliseconds, result.decodeMilliseconds! + result.stepMilliseconds.reduce(0, +) * 0.999)
        XCTAssertEqual(result.shape, trace.imageShape)
        XCTAssertEqual(result.latentShape, trace.shape)
        // The recording is the golden run on the trace's own backend: latent and image are its files exactly.
        let final = try RawTensorData.readFloat32File(try trace.finalURL(besides: traceURL), count: noise.count)
        XCTAssertEqual(result.latent.map(\.bitPattern), final.map(\.bitPattern))
        let image = try XCTUnwrap(try trace.loadImage(besides: traceURL))
        XCTAssertEqual(result.image.map(\.bitPattern), image.map(\.bitPattern))
        XCTAssertTrue(result.image.allSatisfy { $0 >= -1 && $0 <= 1 }, "the decoder clamps to the value range")
        let rgba = try LatentImage.render(result.image, shape: result.shape, valueRange: bundle.manifest.image.valueRange)
        XCTAssertEqual([rgba.width, rgba.height], [16 * bundle.manifest.batch, 16])
    }

    func testDecodeIsBoundOnceAndReadsTheLastLatentBuffer() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        let first = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        let second = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        XCTAssertEqual(first.image, second.image)
        XCTAssertEqual(runner.decodeCalls, 2)
        XCTAssertEqual(runner.bindings, plan.count + 1, "steps and decode are bound once per plan, not per run")
        XCTAssertEqual(runner.buffersByName["image"]?.count, 1, "one image buffer for every run")
        let latentBuffer = try XCTUnwrap(runner.buffersByName["latent"])
        XCTAssertEqual(latentBuffer.count, 1)
        XCTAssertTrue(latentBuffer.isSubset(of: try XCTUnwrap(runner.buffersByName["x"])),
                      "the decoder reads a latent buffer of the steps, no copy")
    }

    func testGoldenCheckAndReportCarryTheImageAndDecodeTime() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        let final = try RawTensorData.readFloat32File(try trace.finalURL(besides: traceURL), count: noise.count)
        let image = try trace.loadImage(besides: traceURL)
        let info = try BenchmarkReport.BundleInfo(bundle, path: "latent")
        let load = BenchmarkReport.LoadTimes(compile: 0, compiledNow: false, methods: [:])
        let cases = [BenchmarkCase(bundle: info, plan: .init(name: "lazydit-10", method: "lazydit", plan: plan), load: load,
                                   goldenCheck: { try self.trace.check(scheduler, plan: plan, noise: self.noise,
                                                                       expectedFinal: final, expectedImage: image) }) {
            try scheduler.run(plan: plan, classes: self.trace.classes, noise: self.noise)
        }]
        let options = BenchmarkReport.Options(warmup: 0, repeats: 2, classIndex: 0, seed: trace.seed,
                                              classes: trace.classes, loadMode: "replay")
        let runnerInfo = BenchmarkReport.RunnerInfo(name: "replay", backend: "replay", computeUnits: "none")
        let reports = try Benchmark.measure(cases, runner: runnerInfo, device: DeviceInfo.current(), options: options)
        XCTAssertEqual(runner.decodeCalls, 3)  // the golden run and two timed runs
        let r = try XCTUnwrap(reports.first)
        XCTAssertEqual(r.golden.ok, true, "\(r.golden.problems)")
        XCTAssertEqual(r.golden.maxAbsDiffImage, 0)
        XCTAssertEqual(r.golden.maxAbsDiffFinal, 0)
        XCTAssertEqual(r.decodeMs?.count, 2)
        XCTAssertEqual(r.runs.compactMap(\.decodeMs).count, 2)
        XCTAssertEqual(r.stepMs.count, 2 * plan.count)

        let file = BenchmarkFile(runner: runnerInfo, device: DeviceInfo.current(), protocolInfo: .init(warmup: 0, repeats: 2),
                                 reports: reports)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: file.jsonData()) as? [String: Any])
        let report = try XCTUnwrap((json["reports"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(try XCTUnwrap(report["decode_ms"] as? [String: Any]).keys),
                       ["median", "p90", "min", "max", "mean", "count"])
        let runs = try XCTUnwrap(report["runs"] as? [[String: Any]])
        XCTAssertEqual(Set(runs[0].keys), ["total_ms", "steps", "decode_ms"])
        XCTAssertNotNil(try XCTUnwrap(report["golden"] as? [String: Any])["max_abs_diff_image"])
        let back = try JSONDecoder().decode(BenchmarkFile.self, from: file.jsonData())
        XCTAssertEqual(back.reports[0].decodeMs, r.decodeMs)
        if let out = ProcessInfo.processInfo.environment[Self.reportKey], !out.isEmpty {
            try file.write(to: URL(fileURLWithPath: out, isDirectory: true), name: "latent-bench.json")
        }
    }

    func testComparisonCatchesAWrongOrMissingImage() throws {
        let (scheduler, _) = try makeScheduler()
        let result = try scheduler.run(plan: try StepPlan.lazy(bundle.manifest), classes: trace.classes, noise: noise)
        var damaged = result.image
        damaged[5] += 0.25
        let problems = trace.compareImage(damaged, shape: result.shape, decoded: true)
        XCTAssertTrue(problems.contains { $0.hasPrefix("image sum") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix("image[5]") }, "\(problems)")
        XCTAssertEqual(trace.compareImage(result.latent, shape: result.latentShape, decoded: false),
                       ["image: the trace records a decoded image, the run decoded none"])
        XCTAssertEqual(trace.compareImage(result.image, shape: [1, 3, 8, 8], decoded: true).count, 1)
        var pixelTrace = trace!
        pixelTrace.imageChecksums = nil
        pixelTrace.imageShape = nil
        XCTAssertEqual(pixelTrace.compareImage(result.image, shape: result.shape, decoded: true),
                       ["image: the run decoded an image, the trace records none"])
    }

    func testManifestsWithABrokenDecoderAreRefused() throws {
        let data = try Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        let original = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func refused(_ edit: (inout [String: Any]) -> Void) -> String {
            var m = original
            edit(&m)
            do {
                _ = try ManifestValidator.decode(try JSONSerialization.data(withJSONObject: m), path: "manifest.json")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertNoThrow(try ManifestValidator.decode(data, path: "manifest.json"))
        let noMethod = refused { m in
            var targets = m["targets"] as! [String: Any]
            var et = targets["executorch"] as! [String: Any]
            et.removeValue(forKey: "decoder")
            targets["executorch"] = et
            m["targets"] = targets
        }
        XCTAssertEqual(noMethod, "manifest.json: the bundle has a decoder but its executorch target has no decoder graph")
        let wrongOutputs = refused { m in
            var d = m["decoder"] as! [String: Any]
            d["outputs"] = ["pixels"]
            m["decoder"] = d
        }
        XCTAssertTrue(wrongOutputs.contains("must take [\"latent\"] and return [\"image\"]"), wrongOutputs)
        let wrongShape = refused { m in
            var tensors = m["tensors"] as! [String: Any]
            tensors["image"] = ["shape": [1, 3, 8, 8], "dtype": "float32"]
            m["tensors"] = tensors
        }
        XCTAssertTrue(wrongShape.contains("tensor image has shape [1, 3, 8, 8]"), wrongShape)
        let clash = refused { m in
            var d = m["decoder"] as! [String: Any]
            d["name"] = (m["variants"] as! [[String: Any]])[0]["name"]
            m["decoder"] = d
        }
        XCTAssertTrue(clash.contains("has the name of a variant"), clash)
    }
}
