#if canImport(CoreML)
import CoreML
import Foundation
import LazyDiTCore

/// Compiles a bundle's `.mlpackage` once and keeps the `.mlmodelc` in Application Support.
///
/// Compiling (and the first Neural Engine load after it) takes seconds to minutes on a phone, so the compiled
/// model is cached under a key made from the package's checksums in the manifest: a re-exported bundle gets a
/// fresh compile, an unchanged one never compiles again.
public enum CompiledModelCache {
    /// `Application Support/LazyDiT/CompiledModels`, created on demand and excluded from backups (it can be rebuilt).
    public static func defaultDirectory() throws -> URL {
        let base = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                               appropriateFor: nil, create: true)
        var dir = base.appendingPathComponent("LazyDiT", isDirectory: true)
            .appendingPathComponent("CompiledModels", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? dir.setResourceValues(values)
        return dir
    }

    /// Cache file name for the bundle's Core ML package: bundle name plus a hash of the package's file checksums.
    public static func cacheName(for bundle: LazyDiTBundle) throws -> String {
        guard let target = bundle.manifest.targets.coreml else { throw noCoreML(bundle) }
        let prefix = target.package + "/"
        let lines = bundle.manifest.files.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
            .map { "\($0.key) \($0.value.sha256)" }
        let key = FileDigest.sha256Hex(of: Data((lines.joined(separator: "\n")).utf8)).prefix(16)
        let safeName = String(bundle.name.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
        return "\(safeName)-\(key).mlmodelc"
    }

    /// The compiled model of `bundle`, compiling it first when the cache has none; `compiled` tells which.
    public static func compiledModel(for bundle: LazyDiTBundle, in directory: URL? = nil) async throws
        -> (url: URL, compiled: Bool) {
        guard let target = bundle.manifest.targets.coreml else { throw noCoreML(bundle) }
        let dir = try directory ?? defaultDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let destination = dir.appendingPathComponent(try cacheName(for: bundle), isDirectory: true)
        if FileManager.default.fileExists(atPath: destination.path) {
            return (destination, false)
        }
        // Only through the bundle's checked path: a package that is (or sits behind) a link out of the bundle
        // is refused here, before Core ML reads a byte of it.
        let package = try bundle.url(target.package)
        let temporary: URL
        do {
            temporary = try await MLModel.compileModel(at: package)
        } catch {
            throw LazyDiTError("\(package.path): Core ML could not compile it (\(error.localizedDescription)); "
                               + "re-export with `lazydit export --targets coreml` and a coremltools that targets iOS 18")
        }
        // Compile into a temporary folder, then move: a half-written cache entry is never picked up.
        let staging = dir.appendingPathComponent(".\(UUID().uuidString).mlmodelc", isDirectory: true)
        do {
            try FileManager.default.moveItem(at: temporary, to: staging)
        } catch {
            try FileManager.default.copyItem(at: temporary, to: staging)
            try? FileManager.default.removeItem(at: temporary)
        }
        if FileManager.default.fileExists(atPath: destination.path) {
            try? FileManager.default.removeItem(at: staging)  // another load finished first
        } else {
            try FileManager.default.moveItem(at: staging, to: destination)
        }
        return (destination, true)
    }

    /// Deletes every cached compiled model.
    public static func clear(in directory: URL? = nil) throws {
        let dir = try directory ?? defaultDirectory()
        for item in try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil) {
            try FileManager.default.removeItem(at: item)
        }
    }

    static func noCoreML(_ bundle: LazyDiTBundle) -> LazyDiTError {
        LazyDiTError("\(bundle.root.path): bundle has no Core ML graphs; export it with `lazydit export --targets coreml`")
    }
}
#endif
