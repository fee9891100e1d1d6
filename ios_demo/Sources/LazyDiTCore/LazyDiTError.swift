import Foundation

/// A problem the user can act on, as one line that names what is wrong and how to fix it.
public struct LazyDiTError: Error, LocalizedError, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    /// `message` with any line break turned into a space: parts of it come from the bundle (file names, JSON keys)
    /// or from Foundation, and one line is what the app shows and what every port promises.
    public init(_ message: String) {
        self.message = message.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
            .joined(separator: " ")
    }

    public var errorDescription: String? { message }
    public var description: String { message }
}
