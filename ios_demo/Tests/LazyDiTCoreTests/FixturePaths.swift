import Foundation

/// The committed fixtures, read from the source tree (they are excluded from the target, see Package.swift).
enum FixturePaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    /// manifest.json, golden/* and the recorded steps of the tiny bundle (its graphs stripped).
    static let tiny = root.appendingPathComponent("tiny", isDirectory: true)

    /// A complete Core ML-only export of the same tiny model: every file its manifest lists.
    static let tinyCoreML = root.appendingPathComponent("tiny-coreml", isDirectory: true)

    /// A fresh copy of `folder` in a temporary directory, for tests that damage a bundle.
    static func temporaryCopy(of folder: URL) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("lazydit-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent(folder.lastPathComponent, isDirectory: true)
        try FileManager.default.copyItem(at: folder, to: copy)
        return copy
    }
}
