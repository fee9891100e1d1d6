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

    /// The decode graph's call after the last step (bundles with a decoder).
    struct Decode: Decodable {
        let graph: String
        let inputs: [Tensor]
        let outputs: [Tensor]
    }

    let format: String
    let backend: String
    let seed: Int
    let classes: [Int]
    let steps: [Step]
    let decode: Decode?
}

/// A graph runner that plays back what the real graphs did when the Python scheduler ran them.
///
/// At every call it checks that the scheduler passes exactly the recorded inputs, byte for byte (latent,
/// timestep, labels, coefficients, and each cache slot it reads), then writes the recorded outputs into the
/// scheduler's buffers. A recording of a bundle with a decoder ends with the decode call, replayed the same way
/// (its input is the latent buffer the last step wrote). After the last recorded call it starts again at the
/// first, so a run can be repeated.
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
    /// Graph of every recorded call: each step's variant, then the decoder's name.
    private let graphs: [String]
    private let inputs: [[Recorded]]
    private let outputs: [[Recorded]]
    private var cursor = 0
    private(set) var calls = 0
    /// Decode calls replayed (counted in `calls` too).
    private(set) var decodeCalls = 0
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
        graphs = decoded.steps.map(\.variant) + (decoded.decode.map { [$0.graph] } ?? [])
        inputs = try decoded.steps.map { try $0.inputs.map(load) } + (decoded.decode.map { [try $0.inputs.map(load)] } ?? [])
        outputs = try decoded.steps.map { try $0.outputs.map(load) } + (decoded.decode.map { [try $0.outputs.map(load)] } ?? [])
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
        let isDecode = i >= recording.steps.count
        let call = isDecode ? "decode" : "step \(i)"
        guard variant.name == graphs[i] else {
            throw Mismatch(description: "\(call): the scheduler ran \(variant.name), the recording ran \(graphs[i])")
        }
        let expected = inputs[i]
        guard given.count == expected.count, variant.inputs == expected.map(\.name) else {
            throw Mismatch(description: "\(call): inputs \(variant.inputs), the recording has \(expected.map(\.name))")
        }
        for (tensor, rec) in zip(given, expected) {
            guard tensor.spec == rec.spec else {
                throw Mismatch(description: "\(call): input \(rec.name) is \(tensor.spec), the recording has \(rec.spec)")
            }
            // Whole-buffer comparison first (fast even in debug builds); the offset only for the message.
            if tensor.bytes != rec.bytes {
                let at = rec.bytes.indices.first { tensor.bytes[$0] != rec.bytes[$0] } ?? 0
                throw Mismatch(description: "\(call): input \(rec.name) differs from the recording at byte \(at)")
            }
        }
        let produced = outputs[i]
        guard destinations.count == produced.count, variant.outputs == produced.map(\.name) else {
            throw Mismatch(description: "\(call): outputs \(variant.outputs), the recording has \(produced.map(\.name))")
        }
        for (tensor, rec) in zip(destinations, produced) {
            guard tensor.spec == rec.spec else {
                throw Mismatch(description: "\(call): output \(rec.name) goes into a \(tensor.spec) buffer, the recording has \(rec.spec)")
            }
            try tensor.setBytes(rec.bytes)
        }
        // A step's outputs are filed under the buffer they land in: the latent ("x") and each written slot; the
        // decoder's under their own names ("latent" is one of the two latent buffers, "image" its own).
        let outputNames = isDecode ? variant.outputs : ["x"] + variant.writes
        for (name, tensor) in zip(variant.inputs + outputNames, given + destinations) {
            buffersByName[name, default: []].insert(ObjectIdentifier(tensor))
        }
        cursor = (cursor + 1) % graphs.count
        calls += 1
        if isDecode { decodeCalls += 1 }
    }
}
