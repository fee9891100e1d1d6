import Foundation

/// Checksums of a latent as `lazydit.runtime.golden.checksums` computes them: float64 sums over the float32
/// values in C order, and the first 8 values.
public struct Checksums: Codable, Sendable, Equatable {
    public var sum: Double
    public var absSum: Double
    public var sumSq: Double
    public var first: [Double]

    enum CodingKeys: String, CodingKey {
        case sum
        case absSum = "abs_sum"
        case sumSq = "sum_sq"
        case first
    }

    public init(of values: [Float]) {
        var s = 0.0, a = 0.0, q = 0.0
        for v in values {
            let d = Double(v)
            s += d
            a += abs(d)
            q += d * d
        }
        sum = s
        absSum = a
        sumSq = q
        first = values.prefix(8).map { Double($0) }
    }
}

/// `golden/trace.json`: what a correct scheduler does at every step of one run (format `lazydit-golden/1`).
public struct GoldenTrace: Codable, Sendable {
    public static let formatName = "lazydit-golden/1"

    public struct Step: Codable, Sendable {
        public var index: Int
        public var variant: String
        public var reads: [String]
        public var writes: [String]
        public var timestep: Int
        public var latent: Checksums
    }

    public var format: String
    public var backend: String
    public var seed: Int
    public var classes: [Int]
    public var shape: [Int]
    public var noiseFile: String
    public var finalFile: String
    /// The decoded image (`golden/image.bin`, float32 C order) of a bundle with a decoder, its shape and checksums.
    public var imageFile: String?
    public var imageShape: [Int]?
    public var imageChecksums: Checksums?
    public var tolerance: Double
    public var steps: [Step]
    /// Checksums of the last step's latent (`final`), also for a bundle with a decoder.
    public var finalChecksums: Checksums

    enum CodingKeys: String, CodingKey {
        case format, backend, seed, classes, shape
        case noiseFile = "noise"
        case finalFile = "final"
        case imageFile = "image"
        case imageShape = "image_shape"
        case imageChecksums = "image_checksums"
        case tolerance, steps
        case finalChecksums = "final_checksums"
    }

    /// Reads a trace and checks its format.
    public static func load(from url: URL) throws -> GoldenTrace {
        let trace: GoldenTrace
        do {
            trace = try JSONDecoder().decode(GoldenTrace.self, from: Data(contentsOf: url))
        } catch let error as DecodingError {
            throw LazyDiTError("\(url.path): invalid golden trace at \(ManifestValidator.describe(error))")
        } catch {
            throw LazyDiTError("\(url.path): cannot be read (\(error.localizedDescription)); the bundle has no golden trace")
        }
        guard trace.format == formatName else {
            throw LazyDiTError("\(url.path): format \(trace.format), expected \(formatName); re-export the bundle")
        }
        // Like a manifest's paths, the latents a trace names must stay inside its folder: refused here, before
        // anyone reads them.
        _ = try trace.noiseURL(besides: url)
        _ = try trace.finalURL(besides: url)
        _ = try trace.imageURL(besides: url)
        if (trace.imageFile == nil) != (trace.imageChecksums == nil) || (trace.imageFile == nil) != (trace.imageShape == nil) {
            throw LazyDiTError("\(url.path): image, image_shape and image_checksums go together; re-export the bundle")
        }
        return trace
    }

    /// The decoded image file (nil without a decoder), checked as `noiseURL(besides:)`.
    public func imageURL(besides traceURL: URL) throws -> URL? {
        try imageFile.map { try BundlePath.resolve($0, in: traceURL.deletingLastPathComponent(), namedBy: traceURL) }
    }

    /// The decoded image of the golden run (nil when the trace has none).
    public func loadImage(besides traceURL: URL) throws -> [Float]? {
        guard let url = try imageURL(besides: traceURL), let shape = imageShape else { return nil }
        return try RawTensorData.readFloat32File(url, count: shape.reduce(1, *))
    }

    /// The trace's initial noise file, where it really lies, refused unless it stays in the folder of `traceURL`.
    public func noiseURL(besides traceURL: URL) throws -> URL {
        try BundlePath.resolve(noiseFile, in: traceURL.deletingLastPathComponent(), namedBy: traceURL)
    }

    /// The trace's final latent file, checked as `noiseURL(besides:)`.
    public func finalURL(besides traceURL: URL) throws -> URL {
        try BundlePath.resolve(finalFile, in: traceURL.deletingLastPathComponent(), namedBy: traceURL)
    }

    /// Differences between a run and the trace (empty when they match): the plan (variant, slots read and
    /// written, timestep of every step) must be identical and every checksum within `tolerance`, relative to
    /// max(1, |reference|), as `compare_to_golden` in Python.
    public func compare(plan: StepPlan, latents: [[Float]]) -> [String] {
        guard plan.count == steps.count, latents.count == steps.count else {
            return ["\(plan.count) steps planned and \(latents.count) latents recorded, trace has \(steps.count)"]
        }
        var problems: [String] = []
        for (i, (ref, entry)) in zip(steps, plan.entries).enumerated() {
            let v = entry.variant
            if v.name != ref.variant { problems.append("step \(i): variant \(v.name), trace says \(ref.variant)") }
            if v.reads != ref.reads { problems.append("step \(i): reads \(v.reads), trace says \(ref.reads)") }
            if v.writes != ref.writes { problems.append("step \(i): writes \(v.writes), trace says \(ref.writes)") }
            if entry.step.timestep != ref.timestep {
                problems.append("step \(i): timestep \(entry.step.timestep), trace says \(ref.timestep)")
            }
            problems += Self.compare(Checksums(of: latents[i]), ref.latent, tolerance: tolerance, label: "step \(i): latent")
        }
        return problems
    }

    /// Differences between a final image and the trace's final checksums.
    public func compareFinal(_ image: [Float]) -> [String] {
        Self.compare(Checksums(of: image), finalChecksums, tolerance: tolerance, label: "final")
    }

    /// Differences between a run's image and the trace's decoded image: both present or both absent (a run of
    /// a bundle with a decoder must have decoded), same shape, checksums within `tolerance`.
    public func compareImage(_ image: [Float], shape: [Int], decoded: Bool) -> [String] {
        switch (imageChecksums, decoded) {
        case (nil, false): return []
        case (nil, true): return ["image: the run decoded an image, the trace records none"]
        case (.some, false): return ["image: the trace records a decoded image, the run decoded none"]
        case (.some(let ref), true):
            if let want = imageShape, want != shape { return ["image: shape \(shape), trace says \(want)"] }
            return Self.compare(Checksums(of: image), ref, tolerance: tolerance, label: "image")
        }
    }

    static func compare(_ got: Checksums, _ ref: Checksums, tolerance: Double, label: String) -> [String] {
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }
        var problems: [String] = []
        for (key, a, b) in [("sum", got.sum, ref.sum), ("abs_sum", got.absSum, ref.absSum), ("sum_sq", got.sumSq, ref.sumSq)]
            where !close(a, b) {
            problems.append("\(label) \(key) \(a) vs \(b)")
        }
        for (j, (a, b)) in zip(got.first, ref.first).enumerated() where !close(a, b) {
            problems.append("\(label)[\(j)] \(a) vs \(b)")
        }
        return problems
    }
}

extension GoldenTrace {
    /// Runs `plan` on the trace's noise and classes and compares every step, the final latent and, for a bundle
    /// with a decoder, the decoded image with the trace; the largest differences from `expectedFinal` (final.bin)
    /// and `expectedImage` (image.bin) are reported when given. At most `maxProblems` differences are kept.
    public func check<Runner: GraphRunner>(_ scheduler: StepScheduler<Runner>, plan: StepPlan, noise: [Float],
                                           expectedFinal: [Float]?, expectedImage: [Float]? = nil,
                                           maxProblems: Int = 20) throws -> BenchmarkReport.GoldenCheck {
        let result = try scheduler.run(plan: plan, classes: classes, noise: noise, recordLatents: true)
        var problems = compare(plan: plan, latents: result.latents) + compareFinal(result.latent)
        problems += compareImage(result.image, shape: result.shape, decoded: result.isDecoded)
        func worst(_ got: [Float], _ reference: [Float]) -> Double {
            guard got.count == reference.count else { return .infinity }
            return zip(got, reference).reduce(0.0) { Swift.max($0, abs(Double($1.0) - Double($1.1))) }
        }
        var imageDiff: Double?
        if let expectedImage, result.isDecoded {
            let d = worst(result.image, expectedImage)
            imageDiff = d
            if !(d <= tolerance) { problems.append("image: largest difference from image.bin \(d) > \(tolerance)") }
        }
        return BenchmarkReport.GoldenCheck(checked: true, ok: problems.isEmpty, problems: Array(problems.prefix(maxProblems)),
                                           tolerance: tolerance, maxAbsDiffFinal: expectedFinal.map { worst(result.latent, $0) },
                                           maxAbsDiffImage: imageDiff)
    }
}
