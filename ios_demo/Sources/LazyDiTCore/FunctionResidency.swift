/// When the functions of a multifunction model are loaded and released.
///
/// Memory grows with every loaded function of a Core ML multifunction model (each gets its own compiled program
/// and working buffers, even though the weights file is shared), so a phone short of memory should not hold all of
/// them. This follows the pattern of apple/ml-stable-diffusion's `ManagedMLModel` and its `reduceMemory` option: a
/// model is a handle that loads on first use and can be released, and in reduced-memory mode nothing stays loaded
/// longer than it is needed.
public enum ResidencyPolicy: Sendable, Equatable {
    /// Every function is loaded once, up front, and stays loaded: the fastest steps, the most memory.
    case keepLoaded
    /// Each function is loaded when a step first needs it; at most `maxResident` stay loaded at once (the least
    /// recently used is released first), and all are released after every run.
    case reducedMemory(maxResident: Int)

    /// The app's reduced-memory mode: two resident functions. The exported `interval:2` schedules alternate
    /// between a full and a lazy variant (a forecasting one of schema 2 too: its ratios are fed per step), so two
    /// hold every function of the embedded bundle and load each only once per run (see EmbeddedGoldenReplayTests);
    /// a schema-1 forecasting bundle has four, and two still load each once per run.
    public static let lowMemory = ResidencyPolicy.reducedMemory(maxResident: 2)

    /// The name the benchmark report gives this policy (`options.load_mode`).
    public var loadMode: String {
        switch self {
        case .keepLoaded: return "mlmodelc"
        case .reducedMemory(let n): return "mlmodelc-reduced-memory-\(n)"
        }
    }
}

/// A set of lazily loaded values (Core ML functions on device) kept as `ResidencyPolicy` says.
///
/// Pure Swift, so the policy is tested on any platform; the Core ML runner supplies the loader. Not thread-safe:
/// the scheduler that owns it runs one generation at a time.
public final class ResidentSet<Key: Hashable, Value> {
    public let policy: ResidencyPolicy
    private let loader: (Key) throws -> Value
    private var loaded: [Key: Value] = [:]
    /// Loaded keys, least recently used first. At most a handful of functions, so an array is the cheapest LRU.
    private var recency: [Key] = []
    /// Loads and releases so far, for the load report and the tests.
    public private(set) var loads = 0
    public private(set) var releases = 0

    public init(policy: ResidencyPolicy, loader: @escaping (Key) throws -> Value) {
        if case .reducedMemory(let n) = policy, n < 1 {
            self.policy = .reducedMemory(maxResident: 1)
        } else {
            self.policy = policy
        }
        self.loader = loader
        recency.reserveCapacity(8)
    }

    /// Keys loaded now, least recently used first.
    public var residentKeys: [Key] { recency }

    /// The value for `key`, loading it first (and, in reduced-memory mode, releasing the least recently used one
    /// when the set is full). A hit moves no memory: `recency` keeps its capacity.
    public func value(for key: Key) throws -> Value {
        if let value = loaded[key] {
            if recency.last != key, let i = recency.firstIndex(of: key) {
                recency.remove(at: i)
                recency.append(key)
            }
            return value
        }
        if case .reducedMemory(let limit) = policy {
            while recency.count >= limit { release(recency[0]) }
        }
        let value = try loader(key)
        loads += 1
        loaded[key] = value
        recency.append(key)
        return value
    }

    /// Loads `keys` once each: in keep-loaded mode they stay (so no step waits for a load); in reduced-memory mode
    /// each is released right after, which still leaves the system's compiled-model cache warm (the
    /// "prewarm" of ml-stable-diffusion). `each(key, value)` sees every loaded value, e.g. to read its description.
    public func prewarm(_ keys: [Key], each: (Key, Value) throws -> Void = { _, _ in }) throws {
        for key in keys {
            let value = try self.value(for: key)
            try each(key, value)
            if policy != .keepLoaded { release(key) }
        }
    }

    /// End of a run: reduced-memory mode releases everything; keep-loaded mode keeps everything.
    public func runFinished() {
        if policy != .keepLoaded { releaseAll() }
    }

    public func releaseAll() {
        while let key = recency.first { release(key) }
    }

    private func release(_ key: Key) {
        guard loaded.removeValue(forKey: key) != nil else { return }
        recency.removeAll { $0 == key }
        releases += 1
    }
}
