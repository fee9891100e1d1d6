import Foundation

/// A bundle folder whose manifest has been read and checked, mirroring `lazydit.runtime.bundle.load_bundle`.
public struct LazyDiTBundle: Sendable {
    public static let supportedSchemaVersions = [1]

    public let root: URL
    public let manifest: Manifest

    /// How much of the manifest's `files` list to check against the folder.
    public enum FileCheck: Sendable {
        /// Every listed file exists with the listed size and SHA-256 (what the app does before first use).
        case full
        /// Every listed file exists with the listed size.
        case sizes
        /// Files are not looked at: for test fixtures that keep only the manifest and golden trace of a bundle.
        case skip
    }

    /// A bundle from an already validated manifest (see `ManifestValidator`); `load(at:)` is the usual way in.
    public init(root: URL, manifest: Manifest) {
        self.root = root
        self.manifest = manifest
    }

    public var name: String { manifest.name ?? root.lastPathComponent }

    public func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Reads and validates `root/manifest.json`, then checks the listed files as `fileCheck` says.
    ///
    /// With `digests`, a file whose digest that cache already holds for its current size and modification date
    /// is not hashed again (the app passes `FileDigestCache.shared`, so a bundle is hashed once, not on every
    /// reload). `progress` receives the share of bytes verified so far (0...1) while checksums are verified.
    public static func load(at root: URL, fileCheck: FileCheck = .full, digests: FileDigestCache? = nil,
                            progress: ((Double) -> Void)? = nil) throws -> LazyDiTBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw LazyDiTError("bundle folder not found: \(root.path); export one with `lazydit export --targets coreml`")
        }
        let manifestURL = root.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw LazyDiTError("\(manifestURL.path): missing; this folder is not a lazydit bundle")
        }
        let manifest = try ManifestValidator.decode(try Data(contentsOf: manifestURL), path: manifestURL.path)
        let bundle = LazyDiTBundle(root: root, manifest: manifest)
        if fileCheck != .skip {
            try bundle.checkFiles(verifyChecksums: fileCheck == .full, digests: digests, progress: progress)
        }
        return bundle
    }

    /// Size in bytes of the regular file at `url`, nil when it is missing or not a regular file.
    ///
    /// Read through typed URL resource values: `attributesOfItem(...)[.size]` is an `NSNumber` on Apple platforms
    /// but may be a plain `UInt64` on other Foundations, where an `as? NSNumber` cast silently fails.
    static func regularFileSize(_ url: URL) -> Int? {
        guard let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey]),
              values.isRegularFile == true else { return nil }
        return values.fileSize
    }

    private func checkFiles(verifyChecksums: Bool, digests: FileDigestCache?, progress: ((Double) -> Void)?) throws {
        let files = manifest.files
        let total = max(1, files.values.reduce(0) { $0 + $1.bytes })
        var done = 0
        for (rel, entry) in files.sorted(by: { $0.key < $1.key }) {
            let fileURL = self.url(rel)
            guard let size = Self.regularFileSize(fileURL) else {
                throw LazyDiTError("\(fileURL.path): listed in the manifest but missing; re-export or re-copy the bundle")
            }
            if size != entry.bytes {
                throw LazyDiTError("\(fileURL.path): has \(size) bytes, the manifest says \(entry.bytes); the bundle is damaged")
            }
            if verifyChecksums {
                let onBytes: (Int) -> Void = { n in
                    done += n
                    progress?(min(1, Double(done) / Double(total)))
                }
                let digest = try digests?.sha256Hex(ofFile: fileURL, onBytes: onBytes)
                    ?? FileDigest.sha256Hex(ofFile: fileURL, onBytes: onBytes)
                if digest != entry.sha256 {
                    throw LazyDiTError("\(fileURL.path): sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it")
                }
            }
        }
        for (target, path) in manifest.targets.requiredPaths {
            let prefix = path.hasSuffix("/") ? path : path + "/"
            if !files.keys.contains(where: { $0 == path || $0.hasPrefix(prefix) }) {
                throw LazyDiTError("\(self.url(path).path): \(target) graph missing from the manifest's file list")
            }
        }
        progress?(1)
    }
}
