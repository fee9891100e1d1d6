import Dispatch

/// What happened at one step, reported while a run is in progress.
public struct StepEvent: Sendable {
    public let index: Int
    public let count: Int
    public let variant: String
    public let isLazy: Bool
    public let milliseconds: Double
}

/// The outcome of one generation.
public struct RunResult: Sendable {
    /// The image, C order, shape `shape` (B, C, H, W), in the bundle's value range: the decoded image of a bundle
    /// with a decoder, the final latent otherwise.
    public let image: [Float]
    public let shape: [Int]
    public let plan: StepPlan.Kind
    public let stepMilliseconds: [Double]
    public let variants: [String]
    public let lazyMask: [Bool]
    /// Every step and the decode, as the Python scheduler times a run.
    public let totalMilliseconds: Double
    /// The latent after every step; filled only when the run was asked to record them (golden tests).
    public let latents: [[Float]]
    /// The last step's output, shape `latentShape` (the same values as `image` for a bundle without a decoder).
    public let latent: [Float]
    public let latentShape: [Int]
    /// Wall time of the decode graph; nil when the bundle has no decoder.
    public let decodeMilliseconds: Double?

    public init(image: [Float], shape: [Int], plan: StepPlan.Kind, stepMilliseconds: [Double], variants: [String],
                lazyMask: [Bool], totalMilliseconds: Double, latents: [[Float]], latent: [Float]? = nil,
                latentShape: [Int]? = nil, decodeMilliseconds: Double? = nil) {
        self.image = image
        self.shape = shape
        self.plan = plan
        self.stepMilliseconds = stepMilliseconds
        self.variants = variants
        self.lazyMask = lazyMask
        self.totalMilliseconds = totalMilliseconds
        self.latents = latents
        self.latent = latent ?? image
        self.latentShape = latentShape ?? shape
        self.decodeMilliseconds = decodeMilliseconds
    }

    /// Whether `image` came out of the bundle's decoder.
    public var isDecoded: Bool { decodeMilliseconds != nil }

    /// Step times grouped by variant name.
    public var perVariantMilliseconds: [String: [Double]] {
        var out: [String: [Double]] = [:]
        for (name, ms) in zip(variants, stepMilliseconds) { out[name, default: []].append(ms) }
        return out
    }
}

/// The Swift port of `lazydit.runtime.scheduler.Scheduler`: for each step it feeds the step's graph the latent,
/// timestep, labels, coefficients, (forecasting variants of schema 2) the step's forecast ratios, and the cache
/// slots it reads, and keeps the slots it writes.
///
/// Every buffer (two latents used in turn, labels, per-step timestep, coefficients and ratios, one per cache slot)
/// is made once here, and each plan's steps are bound to their buffers once, the first time the plan runs. A step
/// then only hands the runner a binding made earlier and stores its time in an array sized before the loop: the
/// step loop allocates nothing.
///
/// A slot that one step both reads and writes (a forecasting step reads a module's previous output and writes the
/// new one) gets a second buffer, and such steps write the buffer they do not read. No output is then ever an
/// input of its own step, so every runner can let the graph write its results in place, with no copy.
///
/// A forecasting step's `ratio` input (input index 4: after `coef`, before the slots) is one tensor per step of
/// shape `[len(ratio_slots)]` in the dtype of `tensors.coef`, written once here from the step's `ratio` values.
///
/// Cache slots start every run as zeros: the only slots a plan may read before writing them are the old outputs
/// of a forecasting full step (it writes their delta, the first time against zeros), and those buffers are
/// zeroed when a run starts, so each run reads what the first one did.
///
/// A bundle with a decoder also gets one image buffer, and each plan one more binding: the decode graph
/// (`Manifest.Decoder.graph`) reading the latent buffer the plan's last step writes (which of the two depends on
/// the plan's length) and writing the image buffer. It runs once after the last step, allocating nothing either.
public final class StepScheduler<Runner: GraphRunner> {
    public let manifest: Manifest
    public let runner: Runner
    private let xSpec: TensorSpec
    private let latentBuffers: [Runner.Tensor]
    private let labels: Runner.Tensor
    private let timesteps: [Runner.Tensor]
    private let coefficients: [Runner.Tensor]
    /// Per manifest step, its `ratio` tensor (nil for a step without forecast ratios).
    private let ratios: [Runner.Tensor?]
    /// Zeros of one cache slot, written into the slots a plan reads before writing them when a run starts; empty
    /// when no variant reads a slot before it is written.
    private let zeroSlot: [Float]
    /// Each slot's buffers: one, or two for a slot that some variant reads and writes in the same step.
    private let slots: [String: [Runner.Tensor]]
    /// The decode graph and its output buffer, for a bundle with a decoder.
    private let decoderGraph: Manifest.Variant?
    private let imageSpec: TensorSpec?
    private let imageBuffer: Runner.Tensor?
    /// The bound steps of the last plan of each kind (the screens alternate between LazyDiT and DDIM).
    private var prepared: [StepPlan.Kind: PreparedPlan] = [:]

    private struct PreparedPlan {
        let plan: StepPlan
        let bindings: [Runner.Binding]
        /// Slot buffers the plan reads before any of its steps wrote them: zeroed when a run starts.
        let startsAsZeros: [Runner.Tensor]
        /// The decode graph bound to this plan's final latent buffer and the image buffer.
        let decode: Runner.Binding?
    }

    public init(manifest: Manifest, runner: Runner) throws {
        guard let x = manifest.tensorSpec("x"), let t = manifest.tensorSpec("t"), let y = manifest.tensorSpec("y"),
              let coef = manifest.tensorSpec("coef"), let cache = manifest.tensorSpec("cache") else {
            throw LazyDiTError("manifest lacks one of the tensors x, t, y, coef, cache; re-export the bundle")
        }
        self.manifest = manifest
        self.runner = runner
        xSpec = x
        // Two latent buffers: each step reads one and its graph writes the other, so no output aliases an input.
        latentBuffers = try [runner.makeTensor(named: "x", spec: x), runner.makeTensor(named: "x", spec: x)]
        labels = try runner.makeTensor(named: "y", spec: y)
        var ts: [Runner.Tensor] = []
        var cs: [Runner.Tensor] = []
        var rs: [Runner.Tensor?] = []
        for step in manifest.steps {
            let tBuffer = try runner.makeTensor(named: "t", spec: t)
            try runner.writeFloats([Float(step.timestep)], to: tBuffer)
            ts.append(tBuffer)
            let cBuffer = try runner.makeTensor(named: "coef", spec: coef)
            try runner.writeFloats(step.coef.map { Float($0) }, to: cBuffer)
            cs.append(cBuffer)
            // Converted to the coef dtype here, once: a step only hands over the tensor.
            if let ratio = step.ratio, !ratio.isEmpty {
                let spec = TensorSpec(shape: [ratio.count], dtype: coef.dtype)
                let rBuffer = try runner.makeTensor(named: "ratio", spec: spec)
                try runner.writeFloats(ratio.map { Float($0) }, to: rBuffer)
                rs.append(rBuffer)
            } else {
                rs.append(nil)
            }
        }
        timesteps = ts
        coefficients = cs
        ratios = rs
        let readsOldOutputs = manifest.variants.contains { !$0.oldOutputReads.isDisjoint(with: $0.reads) }
        zeroSlot = readsOldOutputs ? [Float](repeating: 0, count: cache.count) : []
        let readAndWritten = Self.slotsReadAndWrittenTogether(manifest)
        var slotBuffers: [String: [Runner.Tensor]] = [:]
        for slot in manifest.slots {
            let count = readAndWritten.contains(slot) ? 2 : 1
            slotBuffers[slot] = try (0..<count).map { _ in try runner.makeTensor(named: slot, spec: cache) }
        }
        slots = slotBuffers
        if let decoder = manifest.decoder {
            guard let spec = manifest.imageSpec else {
                throw LazyDiTError("manifest has a decoder but no tensors.image; re-export the bundle")
            }
            decoderGraph = decoder.graph
            imageSpec = spec
            imageBuffer = try runner.makeTensor(named: decoder.outputs.first ?? "image", spec: spec)
        } else {
            decoderGraph = nil
            imageSpec = nil
            imageBuffer = nil
        }
    }

    /// Slots that some variant reads and writes in one step: these get two buffers.
    static func slotsReadAndWrittenTogether(_ m: Manifest) -> Set<String> {
        m.variants.reduce(into: Set<String>()) { out, v in out.formUnion(Set(v.reads).intersection(v.writes)) }
    }

    /// Buffers held per slot (1 or 2), for tests and the memory estimate of the README.
    public func bufferCount(ofSlot slot: String) -> Int { slots[slot]?.count ?? 0 }

    /// Checks class labels like the Python scheduler: one per image of the batch, each in range.
    public func labelValues(_ classes: [Int]) throws -> [Int32] {
        let m = manifest
        guard classes.count == m.batch else {
            throw LazyDiTError("this bundle generates \(m.batch) image(s) per run; got \(classes.count) class labels")
        }
        for c in classes where !(0..<m.classes.count).contains(c) {
            throw LazyDiTError("class \(c) out of range 0..\(m.classes.count - 1)")
        }
        return classes.map { Int32($0) }
    }

    /// Generates one batch from `noise` (the initial latent, C order) with `plan`.
    ///
    /// `onStep` is called after every step; with `recordLatents` the latent after each step is read back (slow:
    /// for golden comparisons, not for timing).
    public func run(plan: StepPlan, classes: [Int], noise: [Float], recordLatents: Bool = false,
                    onStep: ((StepEvent) -> Void)? = nil) throws -> RunResult {
        guard noise.count == xSpec.count else {
            throw LazyDiTError("noise has \(noise.count) values, the bundle needs shape \(xSpec.shape) (\(xSpec.count) values)")
        }
        let prepared = try prepare(plan)
        let bindings = prepared.bindings
        try runner.writeInts(try labelValues(classes), to: labels)
        try runner.writeFloats(noise, to: latentBuffers[0])
        for buffer in prepared.startsAsZeros { try runner.writeFloats(zeroSlot, to: buffer) }
        defer { runner.runFinished() }
        var stepMs = [Double](repeating: 0, count: bindings.count)
        var recorded: [[Float]] = []
        if recordLatents { recorded.reserveCapacity(bindings.count) }
        let start = DispatchTime.now().uptimeNanoseconds
        for k in 0..<bindings.count {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try runner.run(bindings[k])
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            stepMs[k] = ms
            if recordLatents { recorded.append(try runner.readFloats(latentBuffers[(k + 1) % 2])) }
            if let onStep {
                let entry = plan.entries[k]
                onStep(StepEvent(index: entry.step.index, count: plan.count, variant: entry.variant.name,
                                 isLazy: entry.isLazy, milliseconds: ms))
            }
        }
        var decodeMs: Double?
        if let decode = prepared.decode {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try runner.run(decode)
            decodeMs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let latent = try runner.readFloats(latentBuffers[bindings.count % 2])
        var image = latent, shape = xSpec.shape
        if let imageBuffer, let imageSpec {
            image = try runner.readFloats(imageBuffer)
            shape = imageSpec.shape
        }
        return RunResult(image: image, shape: shape, plan: plan.kind, stepMilliseconds: stepMs,
                         variants: plan.entries.map(\.variant.name), lazyMask: plan.lazyMask, totalMilliseconds: total,
                         latents: recorded, latent: latent, latentShape: xSpec.shape, decodeMilliseconds: decodeMs)
    }

    /// The bound steps (and decode) of `plan`: made (and the plan checked) the first time it runs, reused after.
    private func prepare(_ plan: StepPlan) throws -> PreparedPlan {
        if let p = prepared[plan.kind], p.plan == plan { return p }
        try checkPlan(plan)
        var bindings: [Runner.Binding] = []
        bindings.reserveCapacity(plan.count)
        var latent = 0
        var slotIndex: [String: Int] = [:]  // which of a slot's buffers holds its current value
        var written = Set<String>()
        var startsAsZeros: [Runner.Tensor] = []
        for entry in plan.entries {
            let v = entry.variant
            let i = entry.step.index
            var inputs = [latentBuffers[latent], timesteps[i], labels, coefficients[i]]
            if v.takesRatio, let ratio = ratios[i] { inputs.append(ratio) }  // checkPlan made sure it is there
            for slot in v.reads {
                let buffer = slots[slot]![slotIndex[slot, default: 0]]
                if !written.contains(slot) { startsAsZeros.append(buffer) }
                inputs.append(buffer)
            }
            written.formUnion(v.writes)
            var outputs = [latentBuffers[1 - latent]]
            for slot in v.writes {
                let buffers = slots[slot]!
                var index = slotIndex[slot, default: 0]
                if v.reads.contains(slot) { index = (index + 1) % buffers.count }  // write the buffer not read
                slotIndex[slot] = index
                outputs.append(buffers[index])
            }
            bindings.append(try runner.bind(variant: v, inputs: inputs, outputs: outputs))
            latent = 1 - latent
        }
        var decode: Runner.Binding?
        if let decoderGraph, let imageBuffer {
            // `latent` now names the buffer the last step wrote.
            decode = try runner.bind(variant: decoderGraph, inputs: [latentBuffers[latent]], outputs: [imageBuffer])
        }
        let p = PreparedPlan(plan: plan, bindings: bindings, startsAsZeros: startsAsZeros, decode: decode)
        prepared[plan.kind] = p
        return p
    }

    /// A plan must address this manifest's steps, feed every forecasting variant a step with as many ratios as it
    /// takes, and never read a slot before writing it (except a forecasting full step's old outputs, zeros at first).
    private func checkPlan(_ plan: StepPlan) throws {
        var written = Set<String>()
        for entry in plan.entries {
            let i = entry.step.index
            guard i >= 0, i < timesteps.count else {
                throw LazyDiTError("plan step \(i) is not a step of this bundle (it has \(timesteps.count))")
            }
            guard manifest.variant(named: entry.variant.name) == entry.variant else {
                throw LazyDiTError("plan uses variant \(entry.variant.name), which this bundle does not define")
            }
            let v = entry.variant
            let given = manifest.steps[i].ratio?.count ?? 0
            if v.takesRatio, given != v.ratioCount {
                throw LazyDiTError("plan step \(i) has \(given) forecast ratios, variant \(v.name) takes \(v.ratioCount)")
            }
            let olds = v.oldOutputReads
            if let missing = v.reads.first(where: { !written.contains($0) && !olds.contains($0) }) {
                throw LazyDiTError("plan step \(i) reads \(missing) before any step writes it")
            }
            written.formUnion(entry.variant.writes)
        }
    }
}
