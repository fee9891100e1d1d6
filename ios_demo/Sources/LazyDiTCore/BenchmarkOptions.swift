/// Benchmark mode as asked for on the app's command line, e.g.
/// `-benchmark 1 -bundle tiny -repeat 10 -warmup 1 -compute-units cpu_ne -ddim-bundle tiny-ddim5`.
public struct BenchmarkOptions: Equatable, Sendable {
    /// Bundle to benchmark (folder name); nil: the first one found.
    public var bundle: String?
    /// A dense bundle with fewer steps (the "DDIM at equal compute" baseline); nil: looked up by step count.
    public var ddimBundle: String?
    public var repeats = 10
    public var warmup = 1
    public var seed = 0
    public var classIndex = 0
    public var computeUnits: ComputeUnitsChoice = .all
    /// `-reduce-memory 1`: time the reduced-memory mode (functions loaded per use, released after each run).
    public var reduceMemory = false

    /// How the benchmarked pipelines hold their functions.
    public var residency: ResidencyPolicy { reduceMemory ? .lowMemory : .keepLoaded }

    public init() {}

    /// The options when `arguments` contain `-benchmark 1` (or `true`/`yes`), else nil. Arguments that are not
    /// ours (Xcode and the system add some) are ignored; a bad value of ours is a one-line error.
    public static func parse(_ rawArguments: [String]) throws -> BenchmarkOptions? {
        // "-repeat 10" may arrive as one argument (a scheme entry that was not split): split it here.
        let arguments = rawArguments.flatMap { arg -> [String] in
            arg.hasPrefix("-") && arg.contains(" ") ? arg.split(separator: " ").map(String.init) : [arg]
        }
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg.hasPrefix("-"), i + 1 < arguments.count, !arguments[i + 1].hasPrefix("-") {
                values[String(arg.drop(while: { $0 == "-" }))] = arguments[i + 1]
                i += 2
            } else {
                i += 1
            }
        }
        guard let flag = values["benchmark"], ["1", "true", "yes", "YES"].contains(flag) else { return nil }
        var o = BenchmarkOptions()
        o.bundle = values["bundle"]
        o.ddimBundle = values["ddim-bundle"]
        func int(_ key: String, _ least: Int) throws -> Int? {
            guard let text = values[key] else { return nil }
            guard let n = Int(text), n >= least else {
                throw LazyDiTError("-\(key) \(text): expected a whole number of at least \(least)")
            }
            return n
        }
        o.repeats = try int("repeat", 1) ?? o.repeats
        o.warmup = try int("warmup", 0) ?? o.warmup
        o.seed = try int("seed", 0) ?? o.seed
        o.classIndex = try int("class", 0) ?? o.classIndex
        if let text = values["reduce-memory"] {
            guard let flag = ["1": true, "true": true, "yes": true, "0": false, "false": false, "no": false][text] else {
                throw LazyDiTError("-reduce-memory \(text): expected 1 or 0")
            }
            o.reduceMemory = flag
        }
        if let text = values["compute-units"] {
            guard let units = ComputeUnitsChoice(rawValue: text) else {
                let known = ComputeUnitsChoice.allCases.map(\.rawValue).joined(separator: ", ")
                throw LazyDiTError("-compute-units \(text): choose one of \(known)")
            }
            o.computeUnits = units
        }
        return o
    }
}
