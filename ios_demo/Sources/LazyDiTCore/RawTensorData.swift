import Foundation

/// Little-endian raw tensor bytes (the layout of `golden/*.bin` and of the recorded step files) to and from values.
public enum RawTensorData {
    /// Decodes `bytes` holding elements of `dtype` into floats (int32 elements are converted).
    public static func floats(from bytes: [UInt8], dtype: DType) throws -> [Float] {
        guard bytes.count % dtype.byteSize == 0 else {
            throw LazyDiTError("\(bytes.count) bytes is not a whole number of \(dtype.rawValue) elements")
        }
        let n = bytes.count / dtype.byteSize
        var out = [Float](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                switch dtype {
                case .float32:
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .float16:
                    out[i] = Half.toFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .int32:
                    out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                }
            }
        }
        return out
    }

    /// Encodes `values` as little-endian elements of `dtype` (float16 rounds to nearest, int32 truncates).
    public static func bytes(from values: [Float], dtype: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                switch dtype {
                case .float32:
                    raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                case .float16:
                    raw.storeBytes(of: Half.fromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .int32:
                    raw.storeBytes(of: Int32(v).littleEndian, toByteOffset: 4 * i, as: Int32.self)
                }
            }
        }
        return out
    }

    /// Encodes integer `values` as little-endian elements of `dtype`.
    public static func bytes(from values: [Int32], dtype: DType) -> [UInt8] {
        if dtype != .int32 { return bytes(from: values.map { Float($0) }, dtype: dtype) }
        var out = [UInt8](repeating: 0, count: values.count * 4)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.littleEndian, toByteOffset: 4 * i, as: Int32.self)
            }
        }
        return out
    }

    /// The whole file at `url` as bytes.
    public static func readFile(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw LazyDiTError("\(url.path): cannot be read (\(error.localizedDescription)); check that the file exists")
        }
    }

    /// A little-endian float32 file (`golden/noise.bin`, `golden/final.bin`), checked to hold `count` values.
    public static func readFloat32File(_ url: URL, count: Int? = nil) throws -> [Float] {
        let raw = try readFile(url)
        if let count, raw.count != count * 4 {
            throw LazyDiTError("\(url.path): has \(raw.count) bytes, expected \(count * 4) (\(count) float32 values); "
                               + "re-record the fixture or re-export the bundle")
        }
        return try floats(from: raw, dtype: .float32)
    }
}

/// A tensor held in host memory as raw little-endian bytes of its spec's dtype.
///
/// The scheduler core moves tensors without looking into them; this is the storage the tests' graph runner uses.
public final class HostTensor {
    public let spec: TensorSpec
    public private(set) var bytes: [UInt8]

    /// A zero-filled tensor.
    public init(spec: TensorSpec) {
        self.spec = spec
        bytes = [UInt8](repeating: 0, count: spec.byteCount)
    }

    /// Replaces the contents with `newBytes`, which must have the spec's byte count.
    public func setBytes(_ newBytes: [UInt8]) throws {
        guard newBytes.count == spec.byteCount else {
            throw LazyDiTError("tensor of shape \(spec.shape) \(spec.dtype.rawValue) needs \(spec.byteCount) bytes, got \(newBytes.count)")
        }
        bytes = newBytes
    }

    public func setFloats(_ values: [Float]) throws {
        try checkCount(values.count)
        bytes = RawTensorData.bytes(from: values, dtype: spec.dtype)
    }

    public func setInts(_ values: [Int32]) throws {
        try checkCount(values.count)
        bytes = RawTensorData.bytes(from: values, dtype: spec.dtype)
    }

    public func floats() throws -> [Float] {
        try RawTensorData.floats(from: bytes, dtype: spec.dtype)
    }

    private func checkCount(_ n: Int) throws {
        guard n == spec.count else {
            throw LazyDiTError("tensor of shape \(spec.shape) has \(spec.count) elements, got \(n) values")
        }
    }
}
