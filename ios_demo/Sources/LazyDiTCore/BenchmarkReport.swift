import Foundation

/// The latency report of one configuration (one bundle with one plan), format `lazydit-ios-report/1`.
///
/// Laid out like the Android app's `lazydit-app-report/1` and the native runner's `lazydit-native-report/1`
/// (runs with per-step times, `{median, p90, min, max, mean, count}` blocks, per-variant step times, load times,
/// peak memory, golden check), so one host parser reads all three; fields are listed in ios_demo/README.md.
public struct BenchmarkReport: Codable, Sendable {
    public static let formatName = "lazydit-ios-report/1"

    public struct RunnerInfo: Codable, Sendable, Equatable {
        public var name: String
        public var backend: String
        public var computeUnits: String
        enum CodingKeys: String, CodingKey {
            case name, backend
            case computeUnits = "compute_units"
        }
        public init(name: String = "lazydit-ios-app", backend: String = "coreml", computeUnits: String) {
            self.name = name
            self.backend = backend
            self.computeUnits = computeUnits
        }
    }

    public struct BundleInfo: Codable, Sendable, Equatable {
        public var path: String
        public var name: String
        public var fingerprint: String
        public var package: String?
        public var steps: Int
        public var variants: Int
        public var batch: Int
        public var dtype: String
        public var schedule: String
        public var laziness: Double
        public var lazySteps: Int
        enum CodingKeys: String, CodingKey {
            case path, name, fingerprint, package, steps, variants, batch, dtype, schedule, laziness
            case lazySteps = "lazy_steps"
        }

        /// What the report says about `bundle`; `path` is how the bundle was named (its folder), not a full path.
        public init(_ bundle: LazyDiTBundle, path: String) throws {
            let m = bundle.manifest
            self.path = path
            name = bundle.name
            fingerprint = m.model.fingerprint
            package = m.targets.coreml?.package
            steps = m.steps.count
            variants = m.variants.count
            batch = m.batch
            dtype = m.targets.coreml?.dtype ?? m.dtype
            schedule = m.schedule.source
            laziness = m.schedule.laziness
            lazySteps = try StepPlan.lazy(m).lazyMask.filter { $0 }.count
        }
    }

    /// The plan that was timed: the bundle's LazyDiT schedule, or DDIM (its dense variant at every step).
    public struct PlanInfo: Codable, Sendable, Equatable {
        public var name: String
        public var method: String
        public var kind: String
        public var steps: Int
        public var laziness: Double
        public var lazySteps: Int
        public var macsPerImage: Int?
        enum CodingKeys: String, CodingKey {
            case name, method, kind, steps, laziness
            case lazySteps = "lazy_steps"
            case macsPerImage = "macs_per_image"
        }
        public init(name: String, method: String, plan: StepPlan) {
            self.name = name
            self.method = method
            kind = plan.kind.rawValue
            steps = plan.count
            laziness = plan.laziness
            lazySteps = plan.lazyMask.filter { $0 }.count
            macsPerImage = plan.macsPerImage
        }
    }

    public struct Options: Codable, Sendable, Equatable {
        public var warmup: Int
        public var repeats: Int
        public var classIndex: Int
        public var seed: Int
        public var classes: [Int]
        public var loadMode: String
        enum CodingKeys: String, CodingKey {
            case warmup
            case repeats = "repeat"
            case classIndex = "class"
            case seed, classes
            case loadMode = "load_mode"
        }
        public init(warmup: Int, repeats: Int, classIndex: Int, seed: Int, classes: [Int], loadMode: String) {
            self.warmup = warmup
            self.repeats = repeats
            self.classIndex = classIndex
            self.seed = seed
            self.classes = classes
            self.loadMode = loadMode
        }
    }

    /// Load times, measured after checksum verification: the one-time compile (0 when the cache had it) and
    /// each function's `MLModel` load.
    public struct LoadTimes: Codable, Sendable, Equatable {
        public var compile: Double
        public var compiledNow: Bool
        public var methods: [String: Double]
        public var methodsTotal: Double
        public var total: Double
        enum CodingKeys: String, CodingKey {
            case compile
            case compiledNow = "compiled_now"
            case methods
            case methodsTotal = "methods_total"
            case total
        }
        public init(compile: Double, compiledNow: Bool, methods: [String: Double]) {
            self.compile = compile
            self.compiledNow = compiledNow
            self.methods = methods
            methodsTotal = methods.values.reduce(0, +)
            total = compile + methodsTotal
        }
    }

    public struct StepTime: Codable, Sendable, Equatable {
        public var index: Int
        public var variant: String
        public var ms: Double
    }

    /// One timed generation; `decode_ms` (the decode graph, included in `total_ms`) only for bundles with a
    /// decoder, so a pixel bundle's report keeps the fields of the other reports.
    public struct Run: Codable, Sendable, Equatable {
        public var totalMs: Double
        public var steps: [StepTime]
        public var decodeMs: Double?
        enum CodingKeys: String, CodingKey {
            case totalMs = "total_ms"
            case steps
            case decodeMs = "decode_ms"
        }
    }

    public struct Memory: Codable, Sendable, Equatable {
        public var peakRssKb: Int
        enum CodingKeys: String, CodingKey { case peakRssKb = "peak_rss_kb" }
    }

    /// The golden-trace check made before timing; `ok` is null when it did not run.
    public struct GoldenCheck: Codable, Sendable, Equatable {
        public var checked: Bool
        public var ok: Bool?
        public var problems: [String]
        public var tolerance: Double?
        public var maxAbsDiffFinal: Double?
        /// Largest difference of the decoded image from golden/image.bin (bundles with a decoder).
        public var maxAbsDiffImage: Double?
        enum CodingKeys: String, CodingKey {
            case checked, ok, problems, tolerance
            case maxAbsDiffFinal = "max_abs_diff_final"
            case maxAbsDiffImage = "max_abs_diff_image"
        }

        public static let notChecked = GoldenCheck(checked: false, ok: nil, problems: [], tolerance: nil,
                                                   maxAbsDiffFinal: nil)

        public init(checked: Bool, ok: Bool?, problems: [String], tolerance: Double?, maxAbsDiffFinal: Double?,
                    maxAbsDiffImage: Double? = nil) {
            self.checked = checked
            self.ok = ok
            self.problems = problems
            self.tolerance = tolerance
            self.maxAbsDiffFinal = maxAbsDiffFinal
            self.maxAbsDiffImage = maxAbsDiffImage
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(checked, forKey: .checked)
            try c.encode(ok, forKey: .ok)  // null when not checked, as in the other reports
            try c.encode(problems, forKey: .problems)
            try c.encodeIfPresent(tolerance, forKey: .tolerance)
            try c.encodeIfPresent(maxAbsDiffFinal, forKey: .maxAbsDiffFinal)
            try c.encodeIfPresent(maxAbsDiffImage, forKey: .maxAbsDiffImage)
        }
    }

    public var format: String = BenchmarkReport.formatName
    public var runner: RunnerInfo
    public var device: DeviceInfo
    public var bundle: BundleInfo
    public var plan: PlanInfo
    public var options: Options
    public var loadMs: LoadTimes
    public var runs: [Run]
    public var totalMs: TimeStats
    public var stepMs: TimeStats
    public var perVariantStepMs: [String: TimeStats]
    public var perStepMedianMs: [Double]
    /// The decode graph's time over the runs, beside `step_ms`; absent for a bundle without a decoder.
    public var decodeMs: TimeStats?
    public var memory: Memory
    public var golden: GoldenCheck

    enum CodingKeys: String, CodingKey {
        case format, runner, device, bundle, plan, options
        case loadMs = "load_ms"
        case runs
        case totalMs = "total_ms"
        case stepMs = "step_ms"
        case decodeMs = "decode_ms"
        case perVariantStepMs = "per_variant_step_ms"
        case perStepMedianMs = "per_step_median_ms"
        case memory, golden
    }

    /// Summarises the timed generations `results` of one configuration.
    public init(runner: RunnerInfo, device: DeviceInfo, bundle: BundleInfo, plan: PlanInfo, options: Options,
                load: LoadTimes, golden: GoldenCheck, results: [RunResult], peakRssKb: Int) {
        self.runner = runner
        self.device = device
        self.bundle = bundle
        self.plan = plan
        self.options = options
        loadMs = load
        self.golden = golden
        memory = Memory(peakRssKb: peakRssKb)
        runs = results.map { r in
            Run(totalMs: r.totalMilliseconds,
                steps: zip(r.variants, r.stepMilliseconds).enumerated().map { i, pair in
                    StepTime(index: i, variant: pair.0, ms: pair.1)
                }, decodeMs: r.decodeMilliseconds)
        }
        let decodes = results.compactMap(\.decodeMilliseconds)
        decodeMs = decodes.isEmpty ? nil : TimeStats(decodes)
        totalMs = TimeStats(results.map(\.totalMilliseconds))
        stepMs = TimeStats(results.flatMap(\.stepMilliseconds))
        var byVariant: [String: [Double]] = [:]
        for r in results {
            for (name, times) in r.perVariantMilliseconds { byVariant[name, default: []] += times }
        }
        perVariantStepMs = byVariant.mapValues { TimeStats($0) }
        let steps = results.map(\.stepMilliseconds.count).min() ?? 0
        perStepMedianMs = (0..<steps).map { i in Statistics.median(results.map { $0.stepMilliseconds[i] }) }
    }
}

/// What benchmark mode writes: every configuration's report, measured interleaved in one session, and the
/// speed-ups between them. Format `lazydit-ios-bench/1`.
public struct BenchmarkFile: Codable, Sendable {
    public static let formatName = "lazydit-ios-bench/1"

    public struct ProtocolInfo: Codable, Sendable, Equatable {
        public var warmup: Int
        public var repeats: Int
        public var interleaved: Bool
        enum CodingKeys: String, CodingKey {
            case warmup
            case repeats = "repeat"
            case interleaved
        }
        public init(warmup: Int, repeats: Int, interleaved: Bool = true) {
            self.warmup = warmup
            self.repeats = repeats
            self.interleaved = interleaved
        }
    }

    /// Speed of `candidate` over `baseline` (ratio of median totals) beside the ideal ratio from MACs.
    public struct Comparison: Codable, Sendable, Equatable {
        public var baseline: String
        public var candidate: String
        public var speedup: Double
        public var idealSpeedup: Double?
        public var achievedOverIdeal: Double?
        enum CodingKeys: String, CodingKey {
            case baseline, candidate, speedup
            case idealSpeedup = "ideal_speedup"
            case achievedOverIdeal = "achieved_over_ideal"
        }
    }

    public var format: String = BenchmarkFile.formatName
    public var createdAt: String
    public var runner: BenchmarkReport.RunnerInfo
    public var device: DeviceInfo
    public var protocolInfo: ProtocolInfo
    public var reports: [BenchmarkReport]
    public var comparisons: [Comparison]
    public var notes: [String]
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case format
        case createdAt = "created_at"
        case runner, device
        case protocolInfo = "protocol"
        case reports, comparisons, notes, error
    }

    public init(runner: BenchmarkReport.RunnerInfo, device: DeviceInfo, protocolInfo: ProtocolInfo,
                reports: [BenchmarkReport], notes: [String] = [], error: String? = nil, createdAt: Date = Date()) {
        self.createdAt = ISO8601DateFormatter().string(from: createdAt)
        self.runner = runner
        self.device = device
        self.protocolInfo = protocolInfo
        self.reports = reports
        comparisons = Self.comparisons(reports)
        self.notes = notes
        self.error = error
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(runner, forKey: .runner)
        try c.encode(device, forKey: .device)
        try c.encode(protocolInfo, forKey: .protocolInfo)
        try c.encode(reports, forKey: .reports)
        try c.encode(comparisons, forKey: .comparisons)
        try c.encode(notes, forKey: .notes)
        try c.encode(error, forKey: .error)  // null on success, so a reader can poll one field
    }

    /// Every LazyDiT configuration against every DDIM one.
    static func comparisons(_ reports: [BenchmarkReport]) -> [Comparison] {
        var out: [Comparison] = []
        for candidate in reports where candidate.plan.method == "lazydit" {
            for baseline in reports where baseline.plan.method == "ddim" {
                let speedup = baseline.totalMs.median / Swift.max(candidate.totalMs.median, 1e-9)
                var ideal: Double?
                if let b = baseline.plan.macsPerImage, let c = candidate.plan.macsPerImage, c > 0 {
                    ideal = Double(b) / Double(c)
                }
                out.append(Comparison(baseline: baseline.plan.name, candidate: candidate.plan.name, speedup: speedup,
                                      idealSpeedup: ideal, achievedOverIdeal: ideal.map { speedup / $0 }))
            }
        }
        return out
    }

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Writes the file as `folder/name` (atomically) and returns its URL.
    @discardableResult
    public func write(to folder: URL, name: String) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try jsonData().write(to: url, options: .atomic)
        return url
    }
}
