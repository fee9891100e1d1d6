import Foundation

/// Reproducible Gaussian noise for the app's seed field: SplitMix64 uniforms through Box-Muller.
///
/// The Python runtime draws noise from numpy's PCG64 generator, which is not reimplemented here: the same seed
/// gives a different (equally valid) image in the app than in `lazydit sample`. Golden tests use the recorded
/// `golden/noise.bin` instead.
public struct SeededNoise {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    private mutating func nextUInt64() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    private mutating func nextUniform() -> Double {
        Double(nextUInt64() >> 11) * 0x1.0p-53
    }

    /// `count` standard normal values.
    public mutating func normals(count: Int) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count + 1)
        while out.count < count {
            let u1 = 1 - nextUniform()  // in (0, 1]: log stays finite
            let u2 = nextUniform()
            let r = (-2 * log(u1)).squareRoot()
            out.append(Float(r * cos(2 * Double.pi * u2)))
            out.append(Float(r * sin(2 * Double.pi * u2)))
        }
        return Array(out.prefix(count))
    }
}
