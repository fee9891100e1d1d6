import Foundation
import XCTest
@testable import LazyDiTCore

/// The scheduler core on the bundle the apps ship: the embedded model, schema 2, 20 steps, forecasting (16 cache
/// slots and their 16 delta slots; the lazy steps take their ratios as input 4), replayed against the golden trace
/// that the Python, native and Java schedulers check too.
///
/// The recording is made by tests/test_ios_swift.py (the exporter's bundle, one Python-scheduler run on
/// ExecuTorch, written by ios_demo/Scripts/make_fixtures.py) and passed in `LAZYDIT_EMBEDDED_REPLAY`; it is tens
/// of megabytes, so it is not committed. Without the variable the tests skip, except under CI (`CI=true`),
/// where a missing recording means the replay silently stopped running and is a failure.
final class EmbeddedGoldenReplayTests: XCTestCase {
    static let environmentKey = "LAZYDIT_EMBEDDED_REPLAY"

    private var folder: URL!
    private var bundle: LazyDiTBundle!
    private var trace: GoldenTrace!
    private var noise: [Float]!

    override func setUpWithError() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env[Self.environmentKey], !path.isEmpty else {
            let reason = "\(Self.environmentKey) is not set: the embedded golden replay did not run "
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
        let traceURL = try bundle.url("golden/trace.json")
        trace = try GoldenTrace.load(from: traceURL)
        noise = try RawTensorData.readFloat32File(try trace.noiseURL(besides: traceURL),
                                                  count: try XCTUnwrap(bundle.manifest.tensorSpec("x")).count)
    }

    private func makeScheduler() throws -> (StepScheduler<ReplayRunner>, ReplayRunner) {
        let runner = try ReplayRunner(stepsFolder: folder.appendingPathComponent("steps"))
        return (try StepScheduler(manifest: bundle.manifest, runner: runner), runner)
    }

    func testReplayedRunMatchesTheGoldenTraceStepByStep() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        XCTAssertEqual(plan.count, 20)
        let result = try scheduler.run(plan: plan, classes: trace.classes, noise: noise, recordLatents: true)
        XCTAssertEqual(runner.calls, 20)
        XCTAssertEqual(result.variants, trace.steps.map(\.variant))
        XCTAssertEqual(trace.compare(plan: plan, latents: result.latents), [])
        XCTAssertEqual(trace.compareFinal(result.image), [])
        // The recording is the golden run on the trace's own backend: the final latent is golden/final.bin exactly.
        let final = try RawTensorData.readFloat32File(try trace.finalURL(besides: bundle.url("golden/trace.json")),
                                                      count: noise.count)
        XCTAssertEqual(result.image.map(\.bitPattern), final.map(\.bitPattern))
        XCTAssertEqual(result.lazyMask.filter { $0 }.count, 10, "the embedded schedule skips at half of the steps")
    }

    func testSlotBuffersAndBindingsAreMadeOnceForAllRuns() throws {
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(bundle.manifest)
        _ = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        _ = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        XCTAssertEqual(runner.bindings, plan.count, "steps are bound once per plan, not once per run or step")
        let slots = bundle.manifest.slots
        XCTAssertEqual(slots.count, 32)
        XCTAssertEqual(slots.filter { $0.hasSuffix("_delta") }.count, 16)
        // A forecasting full step reads each module's previous output and writes its new one: those 16 slots
        // get a second buffer (each step writes the one it does not read), every other slot one.
        let both = StepScheduler<ReplayRunner>.slotsReadAndWrittenTogether(bundle.manifest)
        XCTAssertEqual(both.count, 16)
        XCTAssertTrue(both.allSatisfy { !$0.hasSuffix("_delta") })
        for slot in slots {
            let expected = both.contains(slot) ? 2 : 1
            XCTAssertEqual(scheduler.bufferCount(ofSlot: slot), expected, slot)
            XCTAssertEqual(runner.buffersByName[slot]?.count, expected, "buffers used for \(slot) over two runs")
        }
        XCTAssertEqual(runner.buffersByName["x"]?.count, 2, "two latent buffers used in turn")
        XCTAssertEqual(runner.buffersByName["y"]?.count, 1)
    }

    func testTheShippedScheduleFeedsItsForecastRatiosPerStep() throws {
        // Schema 2: v1 takes one ratio per delta slot at input 4; step 1's are 0 (one computed output per module
        // so far), every later lazy step's 0.5. The replay checks each fed ratio tensor against the recording.
        let m = bundle.manifest
        XCTAssertEqual(m.schemaVersion, 2)
        let v0 = try XCTUnwrap(m.variant(named: "v0")), v1 = try XCTUnwrap(m.variant(named: "v1"))
        XCTAssertFalse(v0.takesRatio)
        XCTAssertEqual(v1.ratioSlots, m.slots.filter { $0.hasSuffix("_delta") })
        XCTAssertEqual(v1.inputs[4], "ratio")
        XCTAssertEqual(m.ratioSpec(of: v1), TensorSpec(shape: [16], dtype: try XCTUnwrap(m.tensors["coef"]).dtype))
        XCTAssertEqual(v0.oldOutputReads, Set(v0.reads), "the full step reads only the old outputs it takes deltas of")
        for s in m.steps {
            if s.index % 2 == 0 {
                XCTAssertNil(s.ratio, "step \(s.index)")
            } else {
                XCTAssertEqual(s.ratio, [Double](repeating: s.index == 1 ? 0 : 0.5, count: 16), "step \(s.index)")
            }
        }
        let (scheduler, runner) = try makeScheduler()
        let plan = try StepPlan.lazy(m)
        _ = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        _ = try scheduler.run(plan: plan, classes: trace.classes, noise: noise)
        XCTAssertEqual(runner.calls, 40)
        XCTAssertEqual(runner.buffersByName["ratio"]?.count, 10, "one ratio tensor per lazy step, reused by each run")
        // DDIM on the same bundle: its full step at every step, without ratios.
        let dense = try StepPlan.dense(m)
        XCTAssertEqual(Set(dense.entries.map(\.variant.name)), ["v0"])
        XCTAssertEqual(dense.lazyMask, [Bool](repeating: false, count: 20))
    }

    func testReducedMemoryLoadsOfTheShippedSchedule() throws {
        // v0 v1 ten times (schema 2: the ratios are fed per step, so one lazy graph serves every skip): two
        // resident functions load each of the two once per run, one resident function reloads at every step.
        let sequence = try StepPlan.lazy(bundle.manifest).entries.map(\.variant.name)
        XCTAssertEqual(sequence, (0..<20).map { $0 % 2 == 0 ? "v0" : "v1" })
        for (limit, loads) in [(1, 20), (2, 2), (4, 2)] {
            let set = ResidentSet<String, String>(policy: .reducedMemory(maxResident: limit)) { $0 }
            for name in sequence { _ = try set.value(for: name) }
            XCTAssertEqual(set.loads, loads, "maxResident \(limit)")
        }
    }
}
