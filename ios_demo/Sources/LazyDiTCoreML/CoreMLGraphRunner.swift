#if canImport(CoreML)
import CoreML
import Dispatch
import Foundation
import LazyDiTCore

/// Runs a bundle's variants on Core ML: one `MLModel` per function of the multifunction package
/// (`MLModelConfiguration.functionName`), all loaded from the same compiled model, so they share its weights.
///
/// Buffers are `MLMultiArray`s made once. Each prediction writes straight into the destination buffers through
/// `MLPredictionOptions.outputBackings` when the output's element type matches the buffer's; otherwise (an fp16
/// output feeding an fp32 input) into a staging array made once per output name, converted in place after.
public final class CoreMLGraphRunner: GraphRunner {
    public typealias Tensor = MLMultiArray

    public let computeUnits: ComputeUnitsChoice
    /// Wall time of each function's `MLModel` load, by variant.
    public private(set) var loadMilliseconds: [String: Double] = [:]
    private let models: [String: MLModel]
    private let inputTypes: [String: MLMultiArrayDataType]
    private let outputTypes: [String: MLMultiArrayDataType]
    private var staging: [String: MLMultiArray] = [:]
    /// Turned off for good if Core ML ever refuses the backings, after which results are copied instead.
    private var useOutputBackings = true

    init(models: [String: MLModel], computeUnits: ComputeUnitsChoice) {
        self.models = models
        self.computeUnits = computeUnits
        var inputs: [String: MLMultiArrayDataType] = [:]
        var outputs: [String: MLMultiArrayDataType] = [:]
        for model in models.values {
            for (name, d) in model.modelDescription.inputDescriptionsByName {
                if let c = d.multiArrayConstraint { inputs[name] = c.dataType }
            }
            for (name, d) in model.modelDescription.outputDescriptionsByName {
                if let c = d.multiArrayConstraint { outputs[name] = c.dataType }
            }
        }
        inputTypes = inputs
        outputTypes = outputs
    }

    /// Loads every variant's function of the compiled model at `compiledModel`; `progress(loaded, total)` is called
    /// after each (the first load on the Neural Engine is the slow one).
    public static func load(compiledModel: URL, manifest: Manifest, computeUnits: ComputeUnitsChoice,
                            progress: ((Int, Int) -> Void)? = nil) async throws -> CoreMLGraphRunner {
        guard let target = manifest.targets.coreml else {
            throw LazyDiTError("bundle \(manifest.name ?? "?") has no Core ML graphs; export it with `lazydit export --targets coreml`")
        }
        var models: [String: MLModel] = [:]
        var times: [String: Double] = [:]
        for (i, variant) in manifest.variants.enumerated() {
            guard let function = target.functions[variant.name] else {
                throw LazyDiTError("manifest targets.coreml.functions has no entry for variant \(variant.name); re-export the bundle")
            }
            let config = MLModelConfiguration()
            config.computeUnits = computeUnits.mlComputeUnits
            config.functionName = function
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                models[variant.name] = try await MLModel.load(contentsOf: compiledModel, configuration: config)
            } catch {
                throw LazyDiTError("\(compiledModel.lastPathComponent): cannot load function \(function) "
                                   + "(\(error.localizedDescription)); clear the compiled-model cache or re-export the bundle")
            }
            times[variant.name] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            progress?(i + 1, manifest.variants.count)
        }
        let runner = CoreMLGraphRunner(models: models, computeUnits: computeUnits)
        runner.loadMilliseconds = times
        return runner
    }

    public func makeTensor(named name: String, spec: TensorSpec) throws -> MLMultiArray {
        // The graph's own input type wins over the manifest's (Core ML graphs compute in fp16 but may take fp32).
        let type = inputTypes[name] ?? outputTypes["new_" + name] ?? Self.dataType(spec.dtype)
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

    public func run(variant: Manifest.Variant, inputs: [MLMultiArray], outputs: [MLMultiArray]) throws {
        guard let model = models[variant.name] else {
            throw LazyDiTError("no Core ML function loaded for variant \(variant.name)")
        }
        var features: [String: MLFeatureValue] = [:]
        for (name, array) in zip(variant.inputs, inputs) { features[name] = MLFeatureValue(multiArray: array) }
        let provider = try MLDictionaryFeatureProvider(dictionary: features)
        var backings: [String: MLMultiArray] = [:]
        // A forecasting step reads a slot's old value and writes its new one: never let Core ML write into an
        // array it may still be reading; such an output is copied after the prediction instead.
        let inputIDs = Set(inputs.map { ObjectIdentifier($0) })
        for (name, destination) in zip(variant.outputs, outputs) where !inputIDs.contains(ObjectIdentifier(destination)) {
            backings[name] = try backing(for: name, destination: destination)
        }
        let result: MLFeatureProvider
        if useOutputBackings {
            let options = MLPredictionOptions()
            options.outputBackings = backings
            do {
                result = try model.prediction(from: provider, options: options)
            } catch {
                useOutputBackings = false
                result = try model.prediction(from: provider)
            }
        } else {
            result = try model.prediction(from: provider)
        }
        for (name, destination) in zip(variant.outputs, outputs) {
            guard let produced = result.featureValue(for: name)?.multiArrayValue else {
                throw LazyDiTError("Core ML function \(variant.name) returned no array \(name); re-export the bundle")
            }
            // Identity tells whether Core ML wrote into the backing we offered (its documented contract).
            if produced !== destination { try MultiArrayIO.copy(produced, into: destination) }
        }
    }

    /// The destination itself when Core ML produces its element type, else a staging array made once.
    private func backing(for output: String, destination: MLMultiArray) throws -> MLMultiArray {
        guard let type = outputTypes[output], type != destination.dataType else { return destination }
        if let s = staging[output], s.dataType == type, s.shape == destination.shape { return s }
        let s = try MLMultiArray(shape: destination.shape, dataType: type)
        staging[output] = s
        return s
    }

    static func dataType(_ dtype: DType) -> MLMultiArrayDataType {
        switch dtype {
        case .float32: return .float32
        case .float16: return .float16
        case .int32: return .int32
        }
    }
}
#endif
