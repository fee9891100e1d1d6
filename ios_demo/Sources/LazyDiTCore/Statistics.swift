/// Order statistics with numpy's default ("linear") interpolation, as the native runner and the Android app use.
public enum Statistics {
    /// The `q`-th percentile (0...100) of `values`, as `numpy.percentile(values, q)`; 0 for no values.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let position = Swift.min(Swift.max(q, 0), 100) / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    public static func median(_ values: [Double]) -> Double { percentile(values, 50) }

    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}

/// `{median, p90, min, max, mean, count}` of a set of times, the statistics block of every report.
public struct TimeStats: Codable, Sendable, Equatable {
    public var median: Double
    public var p90: Double
    public var min: Double
    public var max: Double
    public var mean: Double
    public var count: Int

    public init(_ values: [Double]) {
        median = Statistics.median(values)
        p90 = Statistics.percentile(values, 90)
        min = values.min() ?? 0
        max = values.max() ?? 0
        mean = Statistics.mean(values)
        count = values.count
    }
}
