import Foundation
@testable import LazyDiTCore

/// `steps/steps.json` of a step fixture, written by ios_demo/Scripts/make_fixtures.py.
struct StepRecording: Decodable {
    struct Tensor: Decodable {
        let name: String
        let file: String
        let dtype: DType
        let shape: [Int]
    }

    struct Step: Decodable {
        let index: Int
        let variant: String
        let inputs: [Tensor]
        let outputs: [Tensor]
    }

    let format: String
    let backend: String
    let seed: Int
    let classes: [Int]
    let steps: [Step]
}

/// A graph runner that plays back what the real graphs did when the Python scheduler ran them.
///
/// At every call it checks that the scheduler passes exactly the recorded inputs, byte for byte (latent,
/// timestep, labels, coefficients, and each cache slot it reads), then writes the recorded outputs into the
/// scheduler's buffers. After the last recorded step it starts again at the first, so a run can be repeated.
final class ReplayRunner: GraphRunner {
    typealias Tensor = HostTensor

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    private struct Recorded {
        let name: String
        let spec: TensorSpec
        let bytes: [UInt8]
    }

    let recording: StepRecording
    private let inputs: [[Recorded]]
    private let outputs: [[Recorded]]
    private var cursor = 0
    private(set) var calls = 0
    /// Every distinct buffer the scheduler passed as each input name: one per cache slot, two for the latent.
    private(set) var buffersByName: [String: Set<ObjectIdentifier>] = [:]

    init(stepsFolder: URL) throws {
        let index = stepsFolder.appendingPathComponent("steps.json")
        let decoded = try JSONDecoder().decode(StepRecording.self, from: Data(contentsOf: index))
        guard decoded.format == "lazydit-steps/1", !decoded.steps.isEmpty else {
            throw Mismatch(description: "\(index.path): format \(decoded.format) with \(decoded.steps.count) steps, expected lazydit-steps/1")
        }
        func load(_ t: StepRecording.Tensor) throws -> Recorded {
            let spec = TensorSpec(shape: t.shape, dtype: t.dtype)
            let bytes = try RawTensorData.readFile(stepsFolder.appendingPathComponent(t.file))
            guard bytes.count == spec.byteCount else {
                throw Mismatch(description: "\(t.file): \(bytes.count) bytes, shape \(t.shape) \(t.dtype.rawValue) needs \(spec.byteCount)")
            }
            return Recorded(name: t.name, spec: spec, bytes: bytes)
        }
        recording = decoded
        inputs = try decoded.steps.map { try $0.inputs.map(load) }
        outputs = try decoded.steps.map { try $0.outputs.map(load) }
    }

    func makeTensor(named name: String, spec: TensorSpec) throws -> HostTensor {
        HostTensor(spec: spec)
    }

    func writeFloats(_ values: [Float], to tensor: HostTensor) throws {
        try tensor.setFloats(values)
    }

    func writeInts(_ values: [Int32], to tensor: HostTensor) throws {
        try tensor.setInts(values)
    }

    func readFloats(_ tensor: HostTensor) throws -> [Float] {
        try tensor.floats()
    }

    struct Binding {
        let variant: Manifest.Variant
        let inputs: [HostTensor]
        let outputs: [HostTensor]
    }

    /// Bindings made so far: a scheduler that binds once per plan makes `plan.count` of them, however many runs.
    private(set) var bindings = 0

    func bind(variant: Manifest.Variant, inputs: [HostTensor], outputs: [HostTensor]) throws -> Binding {
        let inputIDs = Set(inputs.map(ObjectIdentifier.init))
        if let aliased = zip(variant.outputs, outputs).first(where: { inputIDs.contains(ObjectIdentifier($0.1)) }) {
            throw Mismatch(description: "\(variant.name): output \(aliased.0) is bound to one of its own inputs")
        }
        bindings += 1
        return Binding(variant: variant, inputs: inputs, outputs: outputs)
    }

    func run(_ binding: Binding) throws {
        let variant = binding.variant, given = binding.inputs, destinations = binding.outputs
        let i = cursor
        let step = recording.steps[i]
        guard variant.name == step.variant else {
            throw Mismatch(description: "step \(i): the scheduler ran \(variant.name), the recording ran \(step.variant)")
        }
        let expected = inputs[i]
        guard given.count == expected.count, variant.inputs == expected.map(\.name) else {
            throw Mismatch(description: "step \(i): inputs \(variant.inputs), the recording has \(expected.map(\.name))")
        }
        for (tensor, rec) in zip(given, expected) {
            guard tensor.spec == rec.spec else {
                throw Mismatch(description: "step \(i): input \(rec.name) is \(tensor.spec), the recording has \(rec.spec)")
            }
            // Whole-buffer comparison first (fast even in debug builds); the offset only for the message.
            if tensor.bytes != rec.bytes {
                let at = rec.bytes.indices.first { tensor.bytes[$0] != rec.bytes[$0] } ?? 0
                throw Mismatch(description: "step \(i): input \(rec.name) differs from the recording at byte \(at)")
            }
        }
        let produced = outputs[i]
        guard destinations.count == produced.count, variant.outputs == produced.map(\.name) else {
            throw Mismatch(description: "step \(i): outputs \(variant.outputs), the recording has \(produced.map(\.name))")
        }
        for (tensor, rec) in zip(destinations, produced) {
            guard tensor.spec == rec.spec else {
                throw Mismatch(description: "step \(i): output \(rec.name) goes into a \(tensor.spec) buffer, the recording has \(rec.spec)")
            }
            try tensor.setBytes(rec.bytes)
        }
        // Outputs are filed under the buffer they land in: the latent ("x") and each written slot.
        for (name, tensor) in zip(variant.inputs + ["x"] + variant.writes, given + destinations) {
            buffersByName[name, default: []].insert(ObjectIdentifier(tensor))
        }
        cursor = (cursor + 1) % recording.steps.count
        calls += 1
    }
}
