/// An 8-bit RGBA picture, rows top to bottom.
public struct RGBAImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]
}

/// Turns a final latent (B, C, H, W) into pixels: the batch side by side, 1 channel as grey, 3 as RGB.
public enum LatentImage {
    public static func render(_ values: [Float], shape: [Int], valueRange: [Double]?) throws -> RGBAImage {
        guard shape.count == 4, values.count == shape.reduce(1, *) else {
            throw LazyDiTError("cannot show a tensor of shape \(shape) as images; expected (batch, channels, height, width)")
        }
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let lo = valueRange?.first ?? -1
        let hi = valueRange?.last ?? 1
        let scale = hi > lo ? 1 / (hi - lo) : 1
        var pixels = [UInt8](repeating: 255, count: b * w * h * 4)
        func byte(_ v: Float) -> UInt8 {
            let unit = min(1, max(0, (Double(v) - lo) * scale))
            return UInt8((unit * 255).rounded())
        }
        for n in 0..<b {
            for row in 0..<h {
                for col in 0..<w {
                    let at = ((row * b * w) + n * w + col) * 4
                    for k in 0..<3 {
                        let channel = c >= 3 ? k : 0  // grey for 1 channel; first channel for latent-only bundles
                        pixels[at + k] = byte(values[((n * c + channel) * h + row) * w + col])
                    }
                }
            }
        }
        return RGBAImage(width: b * w, height: h, pixels: pixels)
    }
}
