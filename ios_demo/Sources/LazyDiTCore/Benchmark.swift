/// One configuration to time: what the report says about it, an optional golden check, and a closure that
/// generates once.
///
/// Sendable only so that a benchmark can move to a background task: `Benchmark.measure` calls the closures one
/// after another, never concurrently.
public struct BenchmarkCase: @unchecked Sendable {
    public let bundle: BenchmarkReport.BundleInfo
    public let plan: BenchmarkReport.PlanInfo
    public let load: BenchmarkReport.LoadTimes
    public let goldenCheck: (() throws -> BenchmarkReport.GoldenCheck)?
    public let generate: () throws -> RunResult

    public init(bundle: BenchmarkReport.BundleInfo, plan: BenchmarkReport.PlanInfo, load: BenchmarkReport.LoadTimes,
                goldenCheck: (() throws -> BenchmarkReport.GoldenCheck)?, generate: @escaping () throws -> RunResult) {
        self.bundle = bundle
        self.plan = plan
        self.load = load
        self.goldenCheck = goldenCheck
        self.generate = generate
    }
}

/// The benchmark protocol of the host and adb benchmarks: a golden check, warm-up runs, then repetitions
/// interleaved (A B C A B C ...) so that drift of the machine (heat, clocks) is shared by every configuration.
public enum Benchmark {
    /// Measures every case and returns one report per case; `progress(done, total, name)` is called before each
    /// generation.
    public static func measure(_ cases: [BenchmarkCase], runner: BenchmarkReport.RunnerInfo, device: DeviceInfo,
                               options: BenchmarkReport.Options,
                               progress: ((Int, Int, String) -> Void)? = nil) throws -> [BenchmarkReport] {
        guard options.repeats >= 1, options.warmup >= 0 else {
            throw LazyDiTError("benchmark needs -repeat of at least 1 and -warmup of at least 0")
        }
        let golden = try cases.map { try $0.goldenCheck?() ?? .notChecked }
        let rounds = options.warmup + options.repeats
        let total = cases.count * rounds
        var done = 0
        var results = [[RunResult]](repeating: [], count: cases.count)
        for round in 0..<rounds {
            for (i, c) in cases.enumerated() {
                progress?(done, total, c.plan.name)
                let r = try c.generate()
                if round >= options.warmup { results[i].append(r) }
                done += 1
            }
        }
        progress?(done, total, "")
        let peak = ProcessMemory.peakResidentKilobytes()
        return cases.indices.map { i in
            BenchmarkReport(runner: runner, device: device, bundle: cases[i].bundle, plan: cases[i].plan,
                            options: options, load: cases[i].load, golden: golden[i], results: results[i],
                            peakRssKb: peak)
        }
    }
}
