#if canImport(SwiftUI) && canImport(CoreML)
import CoreGraphics
import Foundation
import LazyDiTCore

extension RGBAImage {
    /// The pixels as a `CGImage` for SwiftUI's `Image(decorative:scale:)`.
    var cgImage: CGImage? {
        guard let provider = CGDataProvider(data: Data(pixels) as CFData) else { return nil }
        return CGImage(width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: width * 4,
                       space: CGColorSpaceCreateDeviceRGB(),
                       bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.noneSkipLast.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)
    }
}
#endif
