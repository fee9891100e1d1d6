#if canImport(CoreML)
import CoreML
import Dispatch
import Foundation
import LazyDiTCore

/// Runs a bundle's variants on Core ML: one `MLModel` per function of the multifunction package
/// (`MLModelConfiguration.functionName`), all from the same compiled model.
///
/// Functions are held in a `ResidentSet`: loaded up front and kept (`.keepLoaded`), or loaded when a step needs
/// them and released after every run (`.reducedMemory`), because memory grows with each loaded function.
///
/// Buffers are `MLMultiArray`s of the graphs' own element types (float16 for every float tensor of a current
/// export), made once. Each step is bound once to a feature provider over its input arrays and to prediction
/// options whose output backings are its destination arrays, so a step converts nothing, copies nothing and
/// allocates nothing of its own: Core ML writes the next latent and the new cache values in place. An output whose
/// type differs from its destination's (a bundle exported before inputs and outputs shared one type) gets no
/// backing and is converted after the prediction; re-export such a bundle.
///
/// A latent bundle's decoder (`targets.coreml.decoder`, a function of the same package) is held in the same set
/// under the manifest's decoder name and bound like a step: its input is the latent buffer the last step wrote,
/// its output backing the scheduler's image buffer.
public final class CoreMLGraphRunner: GraphRunner {
    public typealias Tensor = MLMultiArray

    /// One step's function, its inputs as a feature provider, and options that back its outputs.
    public struct Binding {
        let variant: String
        let provider: MLFeatureProvider
        let options: MLPredictionOptions
        let outputs: [(name: String, destination: MLMultiArray)]
    }

    public let computeUnits: ComputeUnitsChoice
    public let residency: ResidencyPolicy
    /// Wall time of each function's first load, by variant (in reduced-memory mode, the prewarm load).
    public let loadMilliseconds: [String: Double]
    private let functions: ResidentSet<String, MLModel>
    private let inputTypes: [String: MLMultiArrayDataType]
    private let outputTypes: [String: MLMultiArrayDataType]
    /// Options without backings, for when Core ML refuses them once (then used for good).
    private let plainOptions = MLPredictionOptions()
    private var useOutputBackings = true

    /// Loads (or, in reduced-memory mode, prewarms: loads, reads and releases) every variant's function of the
    /// compiled model at `compiledModel`; `progress(loaded, total)` is called after each. Blocking: call it off the
    /// main thread (the first Neural Engine load of a function can take seconds).
    public init(compiledModel: URL, manifest: Manifest, computeUnits: ComputeUnitsChoice,
                residency: ResidencyPolicy = .keepLoaded, progress: ((Int, Int) -> Void)? = nil) throws {
        guard let target = manifest.targets.coreml else {
            throw LazyDiTError("bundle \(manifest.name ?? "?") has no Core ML graphs; export it with `lazydit export --targets coreml`")
        }
        var functionNames: [String: String] = [:]
        for variant in manifest.variants {
            guard let function = target.functions[variant.name] else {
                throw LazyDiTError("manifest targets.coreml.functions has no entry for variant \(variant.name); re-export the bundle")
            }
            functionNames[variant.name] = function
        }
        if let decoder = manifest.decoder {
            guard let function = target.decoder else {
                throw LazyDiTError("the bundle has a decoder but targets.coreml has no decoder function; re-export the bundle")
            }
            functionNames[decoder.name] = function
        }
        let units = computeUnits.mlComputeUnits
        let clock = LoadClock()
        let functionsByVariant = functionNames
        let set = ResidentSet<String, MLModel>(policy: residency) { variant in
            let config = MLModelConfiguration()
            config.computeUnits = units
            config.functionName = functionsByVariant[variant]
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let model = try MLModel(contentsOf: compiledModel, configuration: config)
                clock.record(variant, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                return model
            } catch {
                throw LazyDiTError("\(compiledModel.lastPathComponent): cannot load function \(functionsByVariant[variant] ?? variant) "
                                   + "(\(error.localizedDescription)); clear the compiled-model cache or re-export the bundle")
            }
        }
        var inputs: [String: MLMultiArrayDataType] = [:]
        var outputs: [String: MLMultiArrayDataType] = [:]
        var described = 0
        // The decoder is prewarmed too: its load time is reported and its output type backs the image buffer.
        let names = manifest.variants.map(\.name) + (manifest.decoder.map { [$0.name] } ?? [])
        try set.prewarm(names) { _, model in
            for (name, d) in model.modelDescription.inputDescriptionsByName {
                if let c = d.multiArrayConstraint { inputs[name] = c.dataType }
            }
            for (name, d) in model.modelDescription.outputDescriptionsByName {
                if let c = d.multiArrayConstraint { outputs[name] = c.dataType }
            }
            described += 1
            progress?(described, names.count)
        }
        self.computeUnits = computeUnits
        self.residency = set.policy
        functions = set
        inputTypes = inputs
        outputTypes = outputs
        loadMilliseconds = clock.first
    }

    /// Functions loaded so far, prewarm included (a reduced-memory run loads each function it needs again).
    public var functionLoads: Int { functions.loads }

    public func makeTensor(named name: String, spec: TensorSpec) throws -> MLMultiArray {
        // The graph's own input type wins over the manifest's (Core ML graphs compute in float16; "ratio" takes
        // the type the forecasting functions declare for it); the decoder's "image" is only an output.
        let type = inputTypes[name] ?? outputTypes["new_" + name] ?? outputTypes[name] ?? Self.dataType(spec.dtype)
        let array = try MLMultiArray(shape: spec.shape.map { NSNumber(value: $0) }, dataType: type)
        MultiArrayIO.zero(array)
        return array
    }

    public func writeFloats(_ values: [Float], to tensor: MLMultiArray) throws {
        try MultiArrayIO.write(values, to: tensor)
    }

    public func writeInts(_ values: [Int32], to tensor: MLMultiArray) throws {
        try MultiArrayIO.write(values, to: tensor)
    }

    public func readFloats(_ tensor: MLMultiArray) throws -> [Float] {
        try MultiArrayIO.floats(tensor)
    }

    public func bind(variant: Manifest.Variant, inputs: [MLMultiArray], outputs: [MLMultiArray]) throws -> Binding {
        // Every input by its name, a forecasting graph's `ratio` (index 4) included: a count that differs from
        // the graph's names would bind arrays to the wrong names.
        guard inputs.count == variant.inputs.count, outputs.count == variant.outputs.count else {
            throw LazyDiTError("Core ML function \(variant.name) takes \(variant.inputs) and returns \(variant.outputs); "
                               + "the scheduler bound \(inputs.count) inputs and \(outputs.count) outputs")
        }
        var features: [String: MLFeatureValue] = [:]
        for (name, array) in zip(variant.inputs, inputs) { features[name] = MLFeatureValue(multiArray: array) }
        // The provider holds the arrays themselves: what the scheduler writes into them later is what Core ML reads.
        let provider = try MLDictionaryFeatureProvider(dictionary: features)
        var backings: [String: MLMultiArray] = [:]
        for (name, destination) in zip(variant.outputs, outputs) where outputTypes[name] == destination.dataType {
            backings[name] = destination
        }
        let options = MLPredictionOptions()
        options.outputBackings = backings
        return Binding(variant: variant.name, provider: provider, options: options,
                       outputs: zip(variant.outputs, outputs).map { (name: $0.0, destination: $0.1) })
    }

    public func run(_ binding: Binding) throws {
        let model = try functions.value(for: binding.variant)
        let result: MLFeatureProvider
        if useOutputBackings {
            do {
                result = try model.prediction(from: binding.provider, options: binding.options)
            } catch {
                useOutputBackings = false
                result = try model.prediction(from: binding.provider, options: plainOptions)
            }
        } else {
            result = try model.prediction(from: binding.provider, options: plainOptions)
        }
        for (name, destination) in binding.outputs {
            guard let produced = result.featureValue(for: name)?.multiArrayValue else {
                throw LazyDiTError("Core ML function \(binding.variant) returned no array \(name); re-export the bundle")
            }
            // Identity tells whether Core ML wrote into the backing we offered (its documented contract).
            if produced !== destination { try MultiArrayIO.copy(produced, into: destination) }
        }
    }

    public func runFinished() {
        functions.runFinished()
    }

    static func dataType(_ dtype: DType) -> MLMultiArrayDataType {
        switch dtype {
        case .float32: return .float32
        case .float16: return .float16
        case .int32: return .int32
        }
    }
}

/// First load time of each function, written by the loader closure (which cannot capture the runner it builds).
private final class LoadClock {
    private(set) var first: [String: Double] = [:]

    func record(_ variant: String, _ ms: Double) {
        if first[variant] == nil { first[variant] = ms }
    }
}
#endif
