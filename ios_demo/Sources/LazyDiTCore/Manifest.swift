import Foundation

/// `manifest.json` of a bundle, schema version 1 or 2 (runtime/manifest.schema.json in the Python package).
///
/// Only the fields a scheduler needs are decoded; unknown fields are ignored, as the schema allows. Version 2
/// differs in forecasting variants: their ratios are not baked into the graphs but fed per step, as the variant's
/// `ratio` input (`Variant.ratioSlots`, `Step.ratio`); version 1 variants record them in `forecast` instead.
public struct Manifest: Codable, Sendable {
    public var schemaVersion: Int
    public var format: String
    public var name: String?
    public var model: Model
    public var image: ImageInfo
    public var classes: Classes
    public var batch: Int
    public var guidanceScale: Double
    public var clipDenoised: Bool?
    public var dtype: String
    public var schedule: Schedule
    public var tensors: [String: TensorSpec]
    public var slots: [String]
    public var variants: [Variant]
    public var steps: [Step]
    public var targets: Targets
    public var files: [String: FileEntry]
    /// The decode graph of a latent model: run once after the last step on its latent.
    public var decoder: Decoder?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case format, name, model, image, classes, batch
        case guidanceScale = "guidance_scale"
        case clipDenoised = "clip_denoised"
        case dtype, schedule, tensors, slots, variants, steps, targets, files, decoder
    }

    /// `decoder` of a latent bundle: graph `name` turns the last step's `x_next` (input `latent`) into the image
    /// (output `image`, shape `tensors.image`, in `image.value_range`). The graph applies `latent_scale` itself.
    public struct Decoder: Codable, Sendable, Equatable {
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        public var latentScale: Double?

        enum CodingKeys: String, CodingKey {
            case name, inputs, outputs
            case latentScale = "latent_scale"
        }

        public init(name: String, inputs: [String] = ["latent"], outputs: [String] = ["image"], latentScale: Double? = nil) {
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
            self.latentScale = latentScale
        }

        /// The decoder as a graph a `GraphRunner` binds like a step's: one input, one output, no cache slots.
        public var graph: Variant {
            Variant(name: name, inputs: inputs, outputs: outputs, reads: [], writes: [])
        }
    }

    public struct ModelConfig: Codable, Sendable {
        public var inputSize: Int
        public var patchSize: Int
        public var inChannels: Int
        public var hiddenSize: Int
        public var depth: Int
        public var numHeads: Int
        public var numClasses: Int
        public var learnSigma: Bool

        enum CodingKeys: String, CodingKey {
            case inputSize = "input_size"
            case patchSize = "patch_size"
            case inChannels = "in_channels"
            case hiddenSize = "hidden_size"
            case depth
            case numHeads = "num_heads"
            case numClasses = "num_classes"
            case learnSigma = "learn_sigma"
        }
    }

    public struct Model: Codable, Sendable {
        public var config: ModelConfig
        public var fingerprint: String
        public var parameters: Int
        /// True for a model whose steps produce VAE latents (the bundle then has a `decoder`).
        public var latent: Bool?
    }

    public struct ImageInfo: Codable, Sendable {
        public var channels: Int
        public var height: Int
        public var width: Int
        public var valueRange: [Double]?

        enum CodingKeys: String, CodingKey {
            case channels, height, width
            case valueRange = "value_range"
        }
    }

    public struct Classes: Codable, Sendable {
        public var count: Int
        public var nullClass: Int
        public var names: [String]

        enum CodingKeys: String, CodingKey {
            case count
            case nullClass = "null_class"
            case names
        }
    }

    public struct Schedule: Codable, Sendable {
        public var file: String
        public var heatmap: String?
        public var source: String
        public var numSteps: Int
        public var laziness: Double
        public var maxCacheAge: Int

        enum CodingKeys: String, CodingKey {
            case file, heatmap, source
            case numSteps = "num_steps"
            case laziness
            case maxCacheAge = "max_cache_age"
        }
    }

    /// One exported graph: which cache slots it reads (skipped modules) and writes (computed modules).
    public struct Variant: Codable, Sendable, Equatable {
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        public var reads: [String]
        public var writes: [String]
        public var skippedModules: Int?
        public var macsPerImage: Int?
        /// Schema 1 only: the extrapolation ratio per forecast slot that the graph bakes in (read only to refuse
        /// non-finite values). Schema 2 refuses the table: its ratios are fed per step.
        public var forecast: [String: Double]?
        /// Schema 2: the delta slot each element of the graph's `ratio` input scales, in order (a forecasting
        /// variant's; nil for one that takes no ratios).
        public var ratioSlots: [String]?

        enum CodingKeys: String, CodingKey {
            case name, inputs, outputs, reads, writes, forecast
            case skippedModules = "skipped_modules"
            case macsPerImage = "macs_per_image"
            case ratioSlots = "ratio_slots"
        }

        public init(name: String, inputs: [String], outputs: [String], reads: [String], writes: [String],
                    skippedModules: Int? = nil, macsPerImage: Int? = nil, forecast: [String: Double]? = nil,
                    ratioSlots: [String]? = nil) {
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
            self.reads = reads
            self.writes = writes
            self.skippedModules = skippedModules
            self.macsPerImage = macsPerImage
            self.forecast = forecast
            self.ratioSlots = ratioSlots
        }

        /// Forecast ratios the graph takes per step: the length of its `ratio` input, 0 when it has none.
        public var ratioCount: Int { ratioSlots?.count ?? 0 }

        /// Whether the graph takes a `ratio` input (input index 4, after `coef`, before the cache slots).
        public var takesRatio: Bool { ratioCount > 0 }

        /// The inputs the graph must have: x, t, y, coef, (forecasting) ratio, then the slots it reads.
        public var expectedInputs: [String] {
            ["x", "t", "y", "coef"] + (takesRatio ? ["ratio"] : []) + reads
        }

        /// Slots this graph may read before any step wrote them: the old value of each module it writes a delta
        /// for (`S` for a written `S_delta`), which is the slot's initial zeros the first time.
        public var oldOutputReads: Set<String> {
            Set(writes.filter { $0.hasSuffix("_delta") }.map { String($0.dropLast("_delta".count)) })
        }
    }

    /// One sampling step: its DDIM timestep, update coefficients and graph.
    public struct Step: Codable, Sendable, Equatable {
        public var index: Int
        public var timestep: Int
        public var variant: String
        public var coef: [Double]
        public var reads: [String]
        public var writes: [String]
        /// Schema 2: the forecast ratios fed to the variant's `ratio` input, one per `ratio_slots` entry; nil for
        /// a step whose variant takes none.
        public var ratio: [Double]?

        public init(index: Int, timestep: Int, variant: String, coef: [Double], reads: [String], writes: [String],
                    ratio: [Double]? = nil) {
            self.index = index
            self.timestep = timestep
            self.variant = variant
            self.coef = coef
            self.reads = reads
            self.writes = writes
            self.ratio = ratio
        }
    }

    public struct CoreMLTarget: Codable, Sendable {
        public var package: String
        public var functions: [String: String]
        public var dtype: String?
        /// The decoder's function in the same package (latent bundles).
        public var decoder: String?
    }

    public struct ExecuTorchTarget: Codable, Sendable {
        public var file: String
        public var methods: [String: String]
        /// The decoder's method in the same program (latent bundles).
        public var decoder: String?
    }

    public struct ONNXTarget: Codable, Sendable {
        public var graphs: [String: String]
        public var weights: String
        public var decoder: String?
    }

    public struct TorchTarget: Codable, Sendable {
        public var weights: String
        public var decoder: String?
    }

    public struct Targets: Codable, Sendable {
        public var coreml: CoreMLTarget?
        public var executorch: ExecuTorchTarget?
        public var onnx: ONNXTarget?
        public var torch: TorchTarget?

        /// Files or folders each present target needs, relative to the bundle root.
        public var requiredPaths: [(target: String, path: String)] {
            var out: [(target: String, path: String)] = []
            if let t = executorch { out.append(("executorch", t.file)) }
            if let t = onnx {
                for file in t.graphs.values.sorted() { out.append(("onnx", file)) }
                out.append(("onnx", t.weights))
                if let d = t.decoder { out.append(("onnx", d)) }
            }
            if let t = coreml { out.append(("coreml", t.package)) }
            if let t = torch {
                out.append(("torch", t.weights))
                if let d = t.decoder { out.append(("torch", d)) }
            }
            return out
        }

        /// Present targets that carry no decoder graph (a bundle with a decoder needs one in each).
        var targetsWithoutDecoder: [String] {
            var out: [String] = []
            if let t = executorch, t.decoder == nil { out.append("executorch") }
            if let t = onnx, t.decoder == nil { out.append("onnx") }
            if let t = coreml, t.decoder == nil { out.append("coreml") }
            if let t = torch, t.decoder == nil { out.append("torch") }
            return out
        }

        /// Per target, the variants it has no graph for (an ExecuTorch method, an ONNX graph, a Core ML
        /// function): a step that used one would fail only when it ran.
        func variantsWithoutGraph(_ names: [String]) -> [(target: String, what: String, variant: String)] {
            var out: [(target: String, what: String, variant: String)] = []
            let have: [(String, String, [String: String]?)] = [("executorch", "method", executorch?.methods),
                                                               ("onnx", "graph", onnx?.graphs),
                                                               ("coreml", "function", coreml?.functions)]
            for (target, what, graphs) in have {
                guard let graphs else { continue }
                for v in names where graphs[v] == nil { out.append((target, what, v)) }
            }
            return out
        }
    }

    public struct FileEntry: Codable, Sendable {
        public var sha256: String
        public var bytes: Int
    }

    /// Every path the manifest names, relative to the bundle root: the listed files, each target's graphs and the
    /// schedule with its heat map (`manifest_paths` in the Python runtime). Each must stay inside the bundle.
    public var namedPaths: [String] {
        files.keys.sorted() + targets.requiredPaths.map(\.path) + [schedule.file] + (schedule.heatmap.map { [$0] } ?? [])
    }

    /// The spec of tensor `name`; every cache slot shares the spec of `cache`.
    public func tensorSpec(_ name: String) -> TensorSpec? {
        tensors[name.hasPrefix("cache_") ? "cache" : name]
    }

    /// The decoded image's spec: `tensors.image`, or (B, image.channels, image.height, image.width) in the
    /// bundle's dtype when the manifest does not list it. Nil for a bundle without a decoder.
    public var imageSpec: TensorSpec? {
        guard decoder != nil else { return nil }
        if let spec = tensors["image"] { return spec }
        guard let dtype = DType(rawValue: dtype) else { return nil }
        return TensorSpec(shape: [batch, image.channels, image.height, image.width], dtype: dtype)
    }

    /// Shape and dtype of `variant`'s `ratio` input (nil when it takes none): one value per `ratio_slots` entry,
    /// in the dtype of `tensors.coef` (`Bundle.ratio_spec` in the Python runtime).
    public func ratioSpec(of variant: Variant) -> TensorSpec? {
        guard variant.takesRatio, let coef = tensors["coef"] else { return nil }
        return TensorSpec(shape: [variant.ratioCount], dtype: coef.dtype)
    }

    /// The variant called `name`.
    public func variant(named name: String) -> Variant? {
        variants.first { $0.name == name }
    }
}
