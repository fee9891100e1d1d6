import Foundation
import XCTest
@testable import LazyDiTCore

/// The scheduler core against the golden trace of the tiny bundle, with the graphs replayed from what the Python
/// scheduler recorded (ios_demo/Scripts/make_fixtures.py): the same data the Python, native and Android schedulers
/// are checked with.
final class GoldenReplayTests: XCTestCase {
    private var bundle: LazyDiTBundle!
    private var trace: GoldenTrace!
    private var noise: [Float]!

    override func setUpWithError() throws {
        // The fixture keeps manifest.json and golden/ only (no graphs), so the file list is not checked here;
        // ManifestTests checks it on the complete fixture.
        bundle = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip)
        trace = try GoldenTrace.load(from: FixturePaths.tiny.appendingPathComponent("golden/trace.json"))
        let count = try XCTUnwrap(bundle.manifest.tensorSpec("x")).count
        noise = try RawTensorData.readFloat32File(FixturePaths.tiny.appendingPathComponent("golden/\(trace.noiseFile)"),
                                                  count: count)
    }

    private func makeScheduler() throws -> (StepScheduler<ReplayRunner>, ReplayRunner) {
        let runner = try ReplayRunner(stepsFolder: FixturePaths.tiny.appendingPathComponent("steps"))
        return (try StepScheduler(manifest: bundle.manifest, runner: runner), runner)
    }

    func testSchedulerFeedsRecordedInputsAndMatchesGoldenTrace() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        let result = try scheduler.run(plan: plan, classes: trace.classes, noise: noise, recordLatents: true)

        XCTAssertEqual(runner.calls, trace.steps.count)
        XCTAssertEqual(result.variants, trace.steps.map(\.variant))
        XCTAssertEqual(trace.compare(plan: plan, latents: result.latents), [])
        XCTAssertEqual(trace.compareFinal(result.image), [])
        let expectedFinal = try RawTensorData.readFloat32File(FixturePaths.tiny.appendingPathComponent("golden/\(trace.finalFile)"),
                                                      count: noise.count)
        let worst = zip(result.image, expectedFinal).map { abs(Double($0) - Double($1)) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, trace.tolerance)
        XCTAssertEqual(result.shape, trace.shape)
        XCTAssertEqual(result.stepMilliseconds.count, trace.steps.count)
        XCTAssertEqual(result.lazyMask, trace.steps.map { !$0.reads.isEmpty })
    }

    func testRepeatedRunsReuseBuffersAndStayIdentical() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        let first = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        // The cache slots still hold the last run's values: a correct scheduler never reads them before writing.
        let second = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        XCTAssertEqual(first.image, second.image)
        // The steps were bound to their buffers once, by the first run; the second only replayed the bindings.
        XCTAssertEqual(runner.bindings, plan.count)
        XCTAssertEqual(runner.buffersByName["x"]?.count, 2)
        for slot in bundle.manifest.slots { XCTAssertEqual(runner.buffersByName[slot]?.count, 1, slot) }
    }

    func testReplayRefusesInputsThatDifferFromTheRecording() throws {
        let (scheduler, _) = try makeScheduler()
        var shifted = noise!
        shifted[0] = shifted[0].nextUp
        XCTAssertThrowsError(try scheduler.run(plan: try StepPlan.lazy(bundle.manifest), classes: trace.classes,
                                               noise: shifted)) { error in
            XCTAssertTrue("\(error)".contains("step 0: input x differs"), "\(error)")
        }
        let (other, _) = try makeScheduler()
        let wrongClass = [(trace.classes[0] + 1) % bundle.manifest.classes.count]
        XCTAssertThrowsError(try other.run(plan: try StepPlan.lazy(bundle.manifest), classes: wrongClass, noise: noise)) { error in
            XCTAssertTrue("\(error)".contains("input y differs"), "\(error)")
        }
    }

    func testGoldenComparisonCatchesAWrongPlanAndWrongLatents() throws {
        let (scheduler, _) = try makeScheduler()
        let lazy = try StepPlan.lazy(bundle.manifest)
        let result = try scheduler.run(plan: lazy, classes: trace.classes, noise: noise, recordLatents: true)
        let dense = try StepPlan.dense(bundle.manifest)
        let planProblems = trace.compare(plan: dense, latents: result.latents)
        XCTAssertTrue(planProblems.contains { $0.hasPrefix("step 1: variant") }, "\(planProblems)")
        var damaged = result.latents
        damaged[3][0] += 0.5
        let valueProblems = trace.compare(plan: lazy, latents: damaged)
        XCTAssertTrue(valueProblems.contains { $0.hasPrefix("step 3: latent") }, "\(valueProblems)")
        XCTAssertEqual(trace.compare(plan: lazy, latents: Array(result.latents.dropLast())).count, 1)
    }

    func testLabelsAndNoiseAreChecked() throws {
        let (scheduler, _) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        XCTAssertThrowsError(try scheduler.run(plan: plan, classes: [99], noise: noise)) { error in
            XCTAssertEqual("\(error)", "class 99 out of range 0..\(bundle.manifest.classes.count - 1)")
        }
        XCTAssertThrowsError(try scheduler.run(plan: plan, classes: [0, 1], noise: noise)) { error in
            XCTAssertTrue("\(error)".contains("1 image(s) per run; got 2 class labels"), "\(error)")
        }
        XCTAssertThrowsError(try scheduler.run(plan: plan, classes: trace.classes, noise: [0, 1])) { error in
            XCTAssertTrue("\(error)".contains("noise has 2 values"), "\(error)")
        }
    }
}
