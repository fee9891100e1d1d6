import Foundation

/// A problem the user can act on, as one line that names what is wrong and how to fix it.
public struct LazyDiTError: Error, LocalizedError, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var errorDescription: String? { message }
    public var description: String { message }
}
