import Foundation

/// Element types a bundle's tensors may have (the manifest's `tensors.*.dtype`).
public enum DType: String, Codable, Sendable, CaseIterable {
    case float32, float16, int32

    /// Bytes per element.
    public var byteSize: Int { self == .float16 ? 2 : 4 }
}

/// Shape and element type of one graph input or output, as the manifest declares it.
public struct TensorSpec: Codable, Equatable, Sendable {
    public var shape: [Int]
    public var dtype: DType

    public init(shape: [Int], dtype: DType) {
        self.shape = shape
        self.dtype = dtype
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Bytes of the tensor stored densely in C order.
    public var byteCount: Int { count * dtype.byteSize }
}
