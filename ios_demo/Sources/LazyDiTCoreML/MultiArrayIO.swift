#if canImport(CoreML)
import Accelerate
import CoreML
import Foundation
import LazyDiTCore

/// Reading, writing and converting `MLMultiArray` contents without per-element `NSNumber` traffic.
///
/// Arrays made by the runner are dense C order; arrays Core ML returns may be strided (padded rows), which the
/// slow path handles element by element.
enum MultiArrayIO {
    static func elementSize(_ type: MLMultiArrayDataType) throws -> Int {
        switch type {
        case .float16: return 2
        case .float32, .int32: return 4
        case .double: return 8
        default: throw LazyDiTError("unsupported Core ML array type \(type.rawValue); re-export the bundle")
        }
    }

    static func denseStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = running
            running *= shape[d]
        }
        return strides
    }

    /// Element offsets (in elements) of C-order positions, or nil when the layout is dense.
    static func offsets(shape: [Int], strides: [Int]) -> [Int]? {
        let count = shape.reduce(1, *)
        if strides == denseStrides(shape) || count <= 1 { return nil }
        var out = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<count {
            var off = 0
            for d in 0..<shape.count { off += index[d] * strides[d] }
            out[i] = off
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    static func zero(_ a: MLMultiArray) {
        a.withUnsafeMutableBytes { raw, _ in
            _ = raw.initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// All values of `a` as floats, C order.
    static func floats(_ a: MLMultiArray) throws -> [Float] {
        let shape = a.shape.map(\.intValue)
        let strides = a.strides.map(\.intValue)
        let count = shape.reduce(1, *)
        let type = a.dataType
        _ = try elementSize(type)
        let map = offsets(shape: shape, strides: strides)
        var out = [Float](repeating: 0, count: count)
        a.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            if map == nil, type == .float16 {
                out.withUnsafeMutableBufferPointer { dst in
                    convertHalfToFloat(UnsafeMutableRawPointer(mutating: base), UnsafeMutableRawPointer(dst.baseAddress!), count)
                }
                return
            }
            if map == nil, type == .float32 {
                out.withUnsafeMutableBytes { dst in dst.copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 4)) }
                return
            }
            for i in 0..<count {
                let j = map?[i] ?? i
                switch type {
                case .float16: out[i] = Half.toFloat(base.load(fromByteOffset: 2 * j, as: UInt16.self))
                case .float32: out[i] = base.load(fromByteOffset: 4 * j, as: Float.self)
                case .double: out[i] = Float(base.load(fromByteOffset: 8 * j, as: Double.self))
                case .int32: out[i] = Float(base.load(fromByteOffset: 4 * j, as: Int32.self))
                default: break
                }
            }
        }
        return out
    }

    /// Overwrites `a` with `values` (C order), converting to its element type.
    static func write(_ values: [Float], to a: MLMultiArray) throws {
        let count = a.shape.map(\.intValue).reduce(1, *)
        guard values.count == count else {
            throw LazyDiTError("array of shape \(a.shape) needs \(count) values, got \(values.count)")
        }
        let type = a.dataType
        _ = try elementSize(type)
        let shape = a.shape.map(\.intValue)
        a.withUnsafeMutableBytes { raw, strides in
            let base = raw.baseAddress!
            let map = offsets(shape: shape, strides: strides)
            if map == nil, type == .float16 {
                values.withUnsafeBufferPointer { src in convertFloatToHalf(src.baseAddress!, base, count) }
                return
            }
            for i in 0..<count {
                let j = map?[i] ?? i
                switch type {
                case .float16: base.storeBytes(of: Half.fromFloat(values[i]), toByteOffset: 2 * j, as: UInt16.self)
                case .float32: base.storeBytes(of: values[i], toByteOffset: 4 * j, as: Float.self)
                case .double: base.storeBytes(of: Double(values[i]), toByteOffset: 8 * j, as: Double.self)
                case .int32: base.storeBytes(of: Int32(values[i]), toByteOffset: 4 * j, as: Int32.self)
                default: break
                }
            }
        }
    }

    /// Overwrites an int32 (or float) array with integer `values`.
    static func write(_ values: [Int32], to a: MLMultiArray) throws {
        if a.dataType != .int32 { return try write(values.map { Float($0) }, to: a) }
        let count = a.shape.map(\.intValue).reduce(1, *)
        guard values.count == count else {
            throw LazyDiTError("array of shape \(a.shape) needs \(count) values, got \(values.count)")
        }
        let shape = a.shape.map(\.intValue)
        a.withUnsafeMutableBytes { raw, strides in
            let map = offsets(shape: shape, strides: strides)
            for i in 0..<count {
                raw.storeBytes(of: values[i], toByteOffset: 4 * (map?[i] ?? i), as: Int32.self)
            }
        }
    }

    /// Copies `src` into `dst` (same shape), converting element types; dense arrays of equal or half/float
    /// types take a vectorised path with no temporary buffer.
    static func copy(_ src: MLMultiArray, into dst: MLMultiArray) throws {
        let shape = src.shape.map(\.intValue)
        guard shape == dst.shape.map(\.intValue) else {
            throw LazyDiTError("Core ML returned shape \(src.shape), the bundle declares \(dst.shape); re-export the bundle")
        }
        let count = shape.reduce(1, *)
        let srcDense = src.strides.map(\.intValue) == denseStrides(shape)
        let dstDense = dst.strides.map(\.intValue) == denseStrides(shape)
        if srcDense, dstDense {
            let handled: Bool = src.withUnsafeBytes { s in
                dst.withUnsafeMutableBytes { d, _ in
                    let from = s.baseAddress!, to = d.baseAddress!
                    switch (src.dataType, dst.dataType) {
                    case (.float16, .float32):
                        convertHalfToFloat(UnsafeMutableRawPointer(mutating: from), to, count)
                    case (.float32, .float16):
                        convertFloatToHalf(from.assumingMemoryBound(to: Float.self), to, count)
                    case (let a, let b) where a == b:
                        to.copyMemory(from: from, byteCount: min(s.count, d.count))
                    default:
                        return false
                    }
                    return true
                }
            }
            if handled { return }
        }
        try write(try floats(src), to: dst)
    }

    private static func convertHalfToFloat(_ src: UnsafeMutableRawPointer, _ dst: UnsafeMutableRawPointer, _ count: Int) {
        var s = vImage_Buffer(data: src, height: 1, width: vImagePixelCount(count), rowBytes: count * 2)
        var d = vImage_Buffer(data: dst, height: 1, width: vImagePixelCount(count), rowBytes: count * 4)
        vImageConvert_Planar16FtoPlanarF(&s, &d, vImage_Flags(kvImageNoFlags))
    }

    private static func convertFloatToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ count: Int) {
        var s = vImage_Buffer(data: UnsafeMutableRawPointer(mutating: src), height: 1,
                              width: vImagePixelCount(count), rowBytes: count * 4)
        var d = vImage_Buffer(data: dst, height: 1, width: vImagePixelCount(count), rowBytes: count * 2)
        vImageConvert_PlanarFtoPlanar16F(&s, &d, vImage_Flags(kvImageNoFlags))
    }
}
#endif
