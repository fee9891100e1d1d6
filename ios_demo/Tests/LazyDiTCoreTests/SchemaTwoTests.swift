import Foundation
import XCTest
@testable import LazyDiTCore

/// A schema-2 forecasting bundle made from the tiny fixture's manifest, as the exporter writes one for an
/// `interval:2` forecasting schedule: v0 computes everything, reads each module's old output and writes the new
/// one and its delta; v1 skips everything, takes `ratio` (one per delta slot) and reads the slots and deltas.
/// Step 1's ratios are 0 (each module has only one computed output yet), later lazy steps' 0.5.
enum SchemaTwoFixture {
    static let modules = ["cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp"]
    static let deltas = modules.map { $0 + "_delta" }

    /// The ratios the fixture gives step `index` (nil for a full step).
    static func ratio(ofStep index: Int) -> [Double]? {
        index % 2 == 0 ? nil : [Double](repeating: index == 1 ? 0.0 : 0.5, count: deltas.count)
    }

    /// The manifest as a JSON object, `coefDType` the dtype of `tensors.coef`.
    static func json(coefDType: String = "float32") throws -> [String: Any] {
        let url = FixturePaths.tinyCoreML.appendingPathComponent("manifest.json")
        guard var m = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
              var variants = m["variants"] as? [[String: Any]], var steps = m["steps"] as? [[String: Any]],
              var tensors = m["tensors"] as? [String: Any] else {
            throw LazyDiTError("\(url.path): not the manifest the schema-2 tests expect")
        }
        m["schema_version"] = 2
        m["slots"] = modules + deltas
        tensors["coef"] = ["shape": [4], "dtype": coefDType]
        m["tensors"] = tensors
        variants[0]["reads"] = modules
        variants[0]["writes"] = modules + deltas
        variants[0]["inputs"] = ["x", "t", "y", "coef"] + modules
        variants[0]["outputs"] = ["x_next"] + (modules + deltas).map { "new_" + $0 }
        variants[1]["reads"] = modules + deltas
        variants[1]["writes"] = [String]()
        variants[1]["inputs"] = ["x", "t", "y", "coef", "ratio"] + modules + deltas
        variants[1]["outputs"] = ["x_next"]
        variants[1]["ratio_slots"] = deltas
        for i in steps.indices {
            let v = variants[i % 2]
            steps[i]["reads"] = v["reads"]
            steps[i]["writes"] = v["writes"]
            if let r = ratio(ofStep: i) { steps[i]["ratio"] = r }
        }
        m["variants"] = variants
        m["steps"] = steps
        return m
    }

    static func data(_ m: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: m)
    }

    /// The decoded and validated manifest.
    static func manifest(coefDType: String = "float32") throws -> Manifest {
        try ManifestValidator.decode(data(json(coefDType: coefDType)), path: "two/manifest.json")
    }
}

/// Reading schema 2: `ratio_slots` per variant and `ratio` per step, and each refusal the contract describes.
final class SchemaTwoManifestTests: XCTestCase {
    private let path = "two/manifest.json"

    private func refusal(_ change: (inout [String: Any]) -> Void) throws -> String {
        var m = try SchemaTwoFixture.json()
        change(&m)
        do {
            _ = try ManifestValidator.decode(SchemaTwoFixture.data(m), path: path)
        } catch let error as LazyDiTError {
            XCTAssertFalse(error.message.contains(where: \.isNewline), error.message)
            XCTAssertTrue(error.message.hasPrefix("\(path): "), error.message)
            return error.message
        }
        XCTFail("the edited manifest was accepted")
        return ""
    }

    private func editVariant(_ i: Int, _ change: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { m in
            var variants = m["variants"] as! [[String: Any]]
            change(&variants[i])
            m["variants"] = variants
        }
    }

    private func editStep(_ i: Int, _ change: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { m in
            var steps = m["steps"] as! [[String: Any]]
            change(&steps[i])
            m["steps"] = steps
        }
    }

    func testAForecastingBundleDecodesWithItsRatioSlotsAndStepRatios() throws {
        let m = try SchemaTwoFixture.manifest()
        XCTAssertEqual(m.schemaVersion, 2)
        let v0 = try XCTUnwrap(m.variant(named: "v0")), v1 = try XCTUnwrap(m.variant(named: "v1"))
        XCTAssertNil(v0.ratioSlots)
        XCTAssertFalse(v0.takesRatio)
        XCTAssertEqual(v1.ratioSlots, SchemaTwoFixture.deltas)
        XCTAssertEqual(v1.ratioCount, 4)
        XCTAssertEqual(v1.inputs[4], "ratio")
        XCTAssertNil(m.ratioSpec(of: v0))
        XCTAssertEqual(m.ratioSpec(of: v1), TensorSpec(shape: [4], dtype: .float32))
        XCTAssertEqual(try SchemaTwoFixture.manifest(coefDType: "float16").ratioSpec(of: v1),
                       TensorSpec(shape: [4], dtype: .float16), "the ratio input has the dtype of coef")
        XCTAssertEqual(m.steps.map(\.ratio), (0..<10).map(SchemaTwoFixture.ratio(ofStep:)))
        // v0 reads each module's old output at step 0, before any step wrote it: allowed, as it writes the delta.
        XCTAssertEqual(m.steps[0].reads, SchemaTwoFixture.modules)
        XCTAssertEqual(v0.oldOutputReads, Set(SchemaTwoFixture.modules))
        XCTAssertEqual(v1.oldOutputReads, [])
    }

    func testAStepWhoseRatiosDoNotMatchItsVariantIsRefused() throws {
        XCTAssertEqual(try refusal(editStep(3) { $0["ratio"] = [0.5, 0.5, 0.5] }),
                       "\(path): step 3 has 3 forecast ratios, variant v1 takes 4; re-export the bundle")
        XCTAssertEqual(try refusal(editStep(5) { $0["ratio"] = [0.5, 0.5, 0.5, 0.5, 0.5] }),
                       "\(path): step 5 has 5 forecast ratios, variant v1 takes 4; re-export the bundle")
        XCTAssertEqual(try refusal(editStep(1) { $0.removeValue(forKey: "ratio") }),
                       "\(path): step 1 has 0 forecast ratios, variant v1 takes 4; re-export the bundle")
        XCTAssertEqual(try refusal(editStep(2) { $0["ratio"] = [0.5] }),
                       "\(path): step 2 has 1 forecast ratios, variant v0 takes 0; re-export the bundle")
        // A variant without ratio_slots has no `ratio` key at all, not even an empty one.
        XCTAssertEqual(try refusal(editStep(0) { $0["ratio"] = [Double]() }),
                       "\(path): step 0 has 0 forecast ratios, variant v0 takes 0; re-export the bundle")
    }

    func testANonFiniteRatioIsRefusedLikeANonFiniteCoefficient() throws {
        // A JSON NaN never gets this far (strict JSON); a parser with a NaN extension would hand this over.
        for (value, shown) in [(Double.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf")] {
            var m = try SchemaTwoFixture.manifest()
            m.steps[3].ratio?[2] = value
            XCTAssertThrowsError(try ManifestValidator.validate(m, path: path)) { error in
                XCTAssertEqual("\(error)", "\(path): step 3 ratio is \(shown), not a finite number; "
                               + "the manifest is damaged, re-export it")
            }
        }
        var text = String(decoding: try SchemaTwoFixture.data(SchemaTwoFixture.json()), as: UTF8.self)
        text = text.replacingOccurrences(of: "0.5", with: "NaN")
        XCTAssertThrowsError(try ManifestValidator.decode(Data(text.utf8), path: path)) { error in
            XCTAssertTrue("\(error)".contains("not valid JSON"), "\(error)")
        }
    }

    func testTheTwoSchemasKeepTheirOwnWayOfGivingRatios() throws {
        let table = try refusal(editVariant(1) { $0["forecast"] = ["cache_0_attn_delta": 0.5] })
        XCTAssertTrue(table.contains("variant v1 has a schema-1 forecast table"), table)
        XCTAssertTrue(table.hasSuffix("re-export the bundle"), table)
        let slots = try refusal { $0["schema_version"] = 1 }
        XCTAssertEqual(slots, "\(path): variant v1 has ratio_slots, which need schema_version 2")
        XCTAssertTrue(try refusal(editVariant(1) { $0["ratio_slots"] = [String]() })
            .contains("invalid manifest at variants/1/ratio_slots: needs at least one delta slot"))
    }

    func testRatioSlotsMustBeDeltaSlotsTheVariantReads() throws {
        XCTAssertEqual(try refusal(editVariant(1) { $0["ratio_slots"] = ["cache_0_attn", "cache_0_mlp_delta"] }),
                       "\(path): variant v1 ratio slot cache_0_attn is not a delta slot it reads")
        XCTAssertEqual(try refusal(editVariant(1) { v in
            // Reads only the slots, not the deltas the ratios would scale.
            v["reads"] = SchemaTwoFixture.modules
            v["inputs"] = ["x", "t", "y", "coef", "ratio"] + SchemaTwoFixture.modules
        }), "\(path): variant v1 ratio slot cache_0_attn_delta is not a delta slot it reads")
    }

    func testInputsMustPutRatioAfterCoefExactlyWhenTheVariantTakesIt() throws {
        XCTAssertEqual(try refusal(editVariant(1) { v in
            v["inputs"] = ["x", "t", "y", "coef"] + SchemaTwoFixture.modules + SchemaTwoFixture.deltas
        }), "\(path): variant v1 inputs must be x, t, y, coef, ratio, then its reads")
        XCTAssertEqual(try refusal(editVariant(1) { v in
            v["inputs"] = ["x", "t", "y", "ratio", "coef"] + SchemaTwoFixture.modules + SchemaTwoFixture.deltas
        }), "\(path): variant v1 inputs must be x, t, y, coef, ratio, then its reads")
        XCTAssertEqual(try refusal(editVariant(0) { v in
            v["inputs"] = ["x", "t", "y", "coef", "ratio"] + SchemaTwoFixture.modules
        }), "\(path): variant v0 inputs must be x, t, y, coef, then its reads")
    }

    func testOnlyAStepThatWritesTheDeltaMayReadASlotNobodyWrote() throws {
        // The lazy step first: it reads slots no step wrote, and writes no delta.
        XCTAssertEqual(try refusal { m in
            var steps = m["steps"] as! [[String: Any]]
            steps.swapAt(0, 1)
            steps[0]["index"] = 0
            steps[1]["index"] = 1
            m["steps"] = steps
        }, "\(path): step 0 reads cache_0_attn before any step writes it")
        // A full step reading old outputs it writes no delta of.
        let noDeltas = try refusal(editVariant(0) { v in
            v["writes"] = SchemaTwoFixture.modules + ["cache_0_mlp_delta"]
            v["outputs"] = ["x_next"] + (SchemaTwoFixture.modules + ["cache_0_mlp_delta"]).map { "new_" + $0 }
        } >>> { m in
            var steps = m["steps"] as! [[String: Any]]
            for i in stride(from: 0, to: steps.count, by: 2) {
                steps[i]["writes"] = SchemaTwoFixture.modules + ["cache_0_mlp_delta"]
            }
            m["steps"] = steps
        })
        XCTAssertEqual(noDeltas, "\(path): step 0 reads cache_0_attn before any step writes it")
    }

    func testTheCommittedSchemaOneFixtureStillReadsAsBefore() throws {
        let m = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip).manifest
        XCTAssertEqual(m.schemaVersion, 1)
        XCTAssertTrue(m.variants.allSatisfy { $0.ratioSlots == nil && !$0.takesRatio })
        XCTAssertTrue(m.steps.allSatisfy { $0.ratio == nil })
        // A schema-1 forecast table is informational: accepted, and no ratio input comes of it.
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: FixturePaths.tinyCoreML.appendingPathComponent("manifest.json"))) as? [String: Any])
        var variants = try XCTUnwrap(json["variants"] as? [[String: Any]])
        variants[1]["forecast"] = ["cache_0_attn": 1.5]
        json["variants"] = variants
        let withTable = try ManifestValidator.decode(SchemaTwoFixture.data(json), path: path)
        XCTAssertEqual(withTable.variants[1].forecast, ["cache_0_attn": 1.5])
        XCTAssertNil(withTable.ratioSpec(of: withTable.variants[1]))
        // Schema 1 still refuses what it always refused: a step ratio where no variant takes one.
        var steps = try XCTUnwrap(json["steps"] as? [[String: Any]])
        steps[1]["ratio"] = [0.5]
        json["steps"] = steps
        XCTAssertThrowsError(try ManifestValidator.decode(SchemaTwoFixture.data(json), path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): step 1 has 1 forecast ratios, variant v1 takes 0; re-export the bundle")
        }
    }
}

infix operator >>>: AdditionPrecedence

/// Two manifest edits, one after the other.
private func >>> (a: @escaping (inout [String: Any]) -> Void,
                  b: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
    { m in a(&m); b(&m) }
}

/// A graph runner that keeps what the scheduler gives it: every tensor it made (name, spec), every write into a
/// tensor, and for every run the bytes of each input by name. A step's outputs are filled with `fill(step)`, so
/// a cache slot read later holds something other than zeros.
final class InspectingRunner: GraphRunner {
    typealias Tensor = HostTensor

    struct Binding {
        let variant: Manifest.Variant
        let inputs: [HostTensor]
        let outputs: [HostTensor]
    }

    struct Call {
        let variant: String
        let names: [String]
        let inputs: [HostTensor]
        let bytes: [[UInt8]]
    }

    private(set) var made: [(name: String, spec: TensorSpec)] = []
    private(set) var writes: [ObjectIdentifier: Int] = [:]
    private(set) var calls: [Call] = []
    private(set) var bindings = 0

    func makeTensor(named name: String, spec: TensorSpec) throws -> HostTensor {
        made.append((name, spec))
        return HostTensor(spec: spec)
    }

    func writeFloats(_ values: [Float], to tensor: HostTensor) throws {
        writes[ObjectIdentifier(tensor), default: 0] += 1
        try tensor.setFloats(values)
    }

    func writeInts(_ values: [Int32], to tensor: HostTensor) throws {
        writes[ObjectIdentifier(tensor), default: 0] += 1
        try tensor.setInts(values)
    }

    func readFloats(_ tensor: HostTensor) throws -> [Float] { try tensor.floats() }

    func bind(variant: Manifest.Variant, inputs: [HostTensor], outputs: [HostTensor]) throws -> Binding {
        guard inputs.count == variant.inputs.count, outputs.count == variant.outputs.count else {
            throw LazyDiTError("\(variant.name): bound \(inputs.count) inputs for \(variant.inputs)")
        }
        bindings += 1
        return Binding(variant: variant, inputs: inputs, outputs: outputs)
    }

    func run(_ binding: Binding) throws {
        let step = Float(calls.count + 1)
        calls.append(Call(variant: binding.variant.name, names: binding.variant.inputs, inputs: binding.inputs,
                          bytes: binding.inputs.map(\.bytes)))
        for out in binding.outputs { try out.setFloats([Float](repeating: step, count: out.spec.count)) }
    }

    /// Inputs named `name` of call `k`.
    func input(_ name: String, ofCall k: Int) -> (tensor: HostTensor, bytes: [UInt8])? {
        let call = calls[k]
        guard let i = call.names.firstIndex(of: name) else { return nil }
        return (call.inputs[i], call.bytes[i])
    }
}

/// The scheduler feeds a forecasting step's ratios at input index 4, from tensors made and filled once.
final class RatioFeedingTests: XCTestCase {
    private func noise(_ m: Manifest) throws -> [Float] {
        [Float](repeating: 0.25, count: try XCTUnwrap(m.tensorSpec("x")).count)
    }

    func testEachForecastingStepGetsItsOwnRatiosAtInputFour() throws {
        let m = try SchemaTwoFixture.manifest()
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        let ratioTensors = runner.made.filter { $0.name == "ratio" }
        XCTAssertEqual(ratioTensors.count, 5, "one ratio tensor per forecasting step, made with the scheduler")
        XCTAssertTrue(ratioTensors.allSatisfy { $0.spec == TensorSpec(shape: [4], dtype: .float32) })

        _ = try scheduler.run(plan: try StepPlan.lazy(m), classes: [0], noise: try noise(m))
        XCTAssertEqual(runner.calls.map(\.variant), m.steps.map(\.variant))
        for (k, step) in m.steps.enumerated() {
            let call = runner.calls[k]
            if let ratio = step.ratio {
                XCTAssertEqual(call.names[4], "ratio", "step \(k)")
                XCTAssertEqual(Array(call.names[5...]), step.reads, "step \(k): the slots follow the ratio")
                let fed = try XCTUnwrap(runner.input("ratio", ofCall: k))
                XCTAssertEqual(fed.tensor.spec, TensorSpec(shape: [4], dtype: .float32))
                XCTAssertEqual(try RawTensorData.floats(from: fed.bytes, dtype: .float32), ratio.map { Float($0) },
                               "step \(k)")
            } else {
                XCTAssertNil(runner.input("ratio", ofCall: k), "step \(k) takes no ratio")
                XCTAssertEqual(call.names.count, 4 + step.reads.count)
            }
        }
        XCTAssertEqual(try RawTensorData.floats(from: try XCTUnwrap(runner.input("ratio", ofCall: 1)).bytes, dtype: .float32),
                       [0, 0, 0, 0])
        XCTAssertEqual(try RawTensorData.floats(from: try XCTUnwrap(runner.input("ratio", ofCall: 9)).bytes, dtype: .float32),
                       [0.5, 0.5, 0.5, 0.5])
    }

    func testRatiosAreConvertedOnceAndNothingIsMadePerStep() throws {
        let m = try SchemaTwoFixture.manifest()
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        let madeAtSetUp = runner.made.count
        let writesAtSetUp = runner.writes
        let plan = try StepPlan.lazy(m)
        _ = try scheduler.run(plan: plan, classes: [0], noise: try noise(m))
        _ = try scheduler.run(plan: plan, classes: [0], noise: try noise(m))
        XCTAssertEqual(runner.made.count, madeAtSetUp, "no tensor is made while a plan is prepared or run")
        XCTAssertEqual(runner.bindings, plan.count, "bound once per plan")
        var ratioTensors: [Int: ObjectIdentifier] = [:]
        for (k, _) in runner.calls.enumerated() {
            guard let fed = runner.input("ratio", ofCall: k) else { continue }
            let id = ObjectIdentifier(fed.tensor)
            XCTAssertEqual(runner.writes[id], 1, "call \(k): its ratio tensor was written once, at set-up")
            XCTAssertEqual(writesAtSetUp[id], 1)
            let step = k % plan.count
            if let seen = ratioTensors[step] { XCTAssertEqual(seen, id, "step \(step) reuses its tensor") }
            ratioTensors[step] = id
        }
        XCTAssertEqual(ratioTensors.keys.sorted(), [1, 3, 5, 7, 9])
        XCTAssertEqual(Set(ratioTensors.values).count, 5, "one tensor per step")
    }

    func testFloat16CoefficientsMakeFloat16Ratios() throws {
        var json = try SchemaTwoFixture.json(coefDType: "float16")
        var steps = try XCTUnwrap(json["steps"] as? [[String: Any]])
        steps[3]["ratio"] = [0.1, -2.5, 1e-3, 70000.0]
        json["steps"] = steps
        let m = try ManifestValidator.decode(SchemaTwoFixture.data(json), path: "two/manifest.json")
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        XCTAssertTrue(runner.made.filter { $0.name == "ratio" }.allSatisfy { $0.spec == TensorSpec(shape: [4], dtype: .float16) })
        _ = try scheduler.run(plan: try StepPlan.lazy(m), classes: [0], noise: try noise(m))
        let fed = try XCTUnwrap(runner.input("ratio", ofCall: 3))
        XCTAssertEqual(fed.bytes.count, 8)
        let want = [Float(0.1), -2.5, Float(1e-3), 70000].flatMap { v -> [UInt8] in
            let h = Half.fromFloat(v)
            return [UInt8(h & 0xff), UInt8(h >> 8)]
        }
        XCTAssertEqual(fed.bytes, want)
        XCTAssertEqual(Array(fed.bytes[2...3]), [0x00, 0xc1], "-2.5 as a little-endian half")
        XCTAssertEqual(try RawTensorData.floats(from: fed.bytes, dtype: .float16)[3], .infinity,
                       "70000 overflows a half, as numpy's float16 does")
    }

    func testOldOutputsStartEveryRunAsZeros() throws {
        let m = try SchemaTwoFixture.manifest()
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        let plan = try StepPlan.lazy(m)
        let first = try scheduler.run(plan: plan, classes: [0], noise: try noise(m))
        let second = try scheduler.run(plan: plan, classes: [0], noise: try noise(m))
        XCTAssertEqual(runner.calls.count, 2 * plan.count)
        let zeros = [Float](repeating: 0, count: try XCTUnwrap(m.tensorSpec("cache")).count)
        for run in 0..<2 {
            let k = run * plan.count
            for slot in SchemaTwoFixture.modules {
                let fed = try XCTUnwrap(runner.input(slot, ofCall: k))
                XCTAssertEqual(try RawTensorData.floats(from: fed.bytes, dtype: .float32), zeros,
                               "run \(run) step 0 reads \(slot) as zeros")
            }
            // Step 2 reads what step 0 wrote (the runner fills outputs with the call number).
            let later = try XCTUnwrap(runner.input("cache_0_attn", ofCall: k + 2))
            XCTAssertEqual(try RawTensorData.floats(from: later.bytes, dtype: .float32).first, Float(k + 1))
        }
        XCTAssertEqual(first.image.count, second.image.count)
    }

    func testAPlanThatGivesAForecastingVariantAStepWithoutRatiosIsRefused() throws {
        let m = try SchemaTwoFixture.manifest()
        let scheduler = try StepScheduler(manifest: m, runner: InspectingRunner())
        let lazy = try StepPlan.lazy(m)
        var entries = lazy.entries
        entries[3] = StepPlan.Entry(step: m.steps[2], variant: entries[3].variant)  // v1 at full step 2
        entries[2] = StepPlan.Entry(step: m.steps[3], variant: entries[2].variant)
        let wrong = StepPlan(kind: .lazy, entries: entries, modulesPerStep: lazy.modulesPerStep)
        XCTAssertThrowsError(try scheduler.run(plan: wrong, classes: [0], noise: try noise(m))) { error in
            XCTAssertEqual("\(error)", "plan step 2 has 0 forecast ratios, variant v1 takes 4")
        }
    }

    func testDenseRunsTheFullForecastingStepEverywhereWithoutRatios() throws {
        let m = try SchemaTwoFixture.manifest()
        let dense = try StepPlan.dense(m)
        XCTAssertEqual(dense.entries.map(\.variant.name), [String](repeating: "v0", count: 10))
        XCTAssertEqual(dense.laziness, 0)
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        _ = try scheduler.run(plan: dense, classes: [0], noise: try noise(m))
        XCTAssertEqual(runner.calls.count, 10)
        XCTAssertTrue((0..<10).allSatisfy { runner.input("ratio", ofCall: $0) == nil })
        // Each step reads what the one before wrote; the first reads zeros.
        XCTAssertEqual(try RawTensorData.floats(from: try XCTUnwrap(runner.input("cache_1_mlp", ofCall: 0)).bytes,
                                                dtype: .float32).max(), 0)
        XCTAssertEqual(try RawTensorData.floats(from: try XCTUnwrap(runner.input("cache_1_mlp", ofCall: 5)).bytes,
                                                dtype: .float32).first, 5)
    }

    func testASchemaOneBundleGetsNoRatioInput() throws {
        let m = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip).manifest
        let runner = InspectingRunner()
        let scheduler = try StepScheduler(manifest: m, runner: runner)
        XCTAssertFalse(runner.made.contains { $0.name == "ratio" })
        _ = try scheduler.run(plan: try StepPlan.lazy(m), classes: [0], noise: try noise(m))
        for (k, step) in m.steps.enumerated() {
            XCTAssertEqual(runner.calls[k].names, ["x", "t", "y", "coef"] + step.reads)
        }
    }
}
