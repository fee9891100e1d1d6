import Foundation

/// A bundle folder whose manifest has been read and checked, mirroring `lazydit.runtime.bundle.load_bundle`.
public struct LazyDiTBundle: Sendable {
    public static let supportedSchemaVersions = [1, 2]

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

    /// The file or folder `relativePath` of the bundle, where it really lies, refused unless it stays inside the
    /// bundle (`BundlePath`). Checked on every call, not only in `load`: the folder may have changed since, and
    /// callers pass paths the manifest does not list (golden/trace.json). This is the one way to a bundle's files.
    public func url(_ relativePath: String) throws -> URL {
        try BundlePath.resolve(relativePath, in: root, namedBy: manifestURL)
    }

    /// `root/manifest.json`, as errors name it.
    public var manifestURL: URL { root.appendingPathComponent("manifest.json") }

    /// Where `relativePath` is shown in errors: under the folder the user chose, not the real path behind links.
    func shown(_ relativePath: String) -> String {
        root.appendingPathComponent(relativePath).path
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
        // manifest.json too must be the bundle's own, not a link to a file elsewhere on the phone.
        let realManifest = try BundlePath.resolve("manifest.json", in: root, namedBy: manifestURL)
        let data: Data
        do {
            data = try Data(contentsOf: realManifest)
        } catch {
            throw LazyDiTError("\(manifestURL.path): cannot be read (\(error.localizedDescription))")
        }
        // Every named path is checked before any of them is opened, so a refused bundle reads nothing outside.
        let manifest = try ManifestValidator.decode(data, path: manifestURL.path, bundleRoot: root)
        let bundle = LazyDiTBundle(root: root, manifest: manifest)
        if fileCheck != .skip {
            try bundle.checkFiles(verifyChecksums: fileCheck == .full, digests: digests, progress: progress)
        }
        return bundle
    }

    /// Size in bytes of the regular file at `url`, nil when it is missing or not a regular file (a link counts as
    /// not a regular file: pass the real path, as `url(_:)` returns it).
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
            // Sized and hashed where it really lies: a link inside the bundle is read through its target.
            let fileURL = try self.url(rel)
            let shown = self.shown(rel)
            guard let size = Self.regularFileSize(fileURL) else {
                throw LazyDiTError("\(shown): listed in the manifest but missing; re-export or re-copy the bundle")
            }
            if size != entry.bytes {
                throw LazyDiTError("\(shown): has \(size) bytes, the manifest says \(entry.bytes); the bundle is damaged")
            }
            if verifyChecksums {
                let onBytes: (Int) -> Void = { n in
                    done += n
                    progress?(min(1, Double(done) / Double(total)))
                }
                let digest: String
                do {
                    digest = try digests?.sha256Hex(ofFile: fileURL, onBytes: onBytes)
                        ?? FileDigest.sha256Hex(ofFile: fileURL, onBytes: onBytes)
                } catch let error as LazyDiTError {
                    throw error
                } catch {
                    throw LazyDiTError("\(shown): cannot be read (\(error.localizedDescription))")
                }
                if digest != entry.sha256 {
                    throw LazyDiTError("\(shown): sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it")
                }
            }
        }
        for (target, path) in manifest.targets.requiredPaths {
            let prefix = path.hasSuffix("/") ? path : path + "/"
            if !files.keys.contains(where: { $0 == path || $0.hasPrefix(prefix) }) {
                throw LazyDiTError("\(shown(path)): \(target) graph missing from the manifest's file list")
            }
        }
        progress?(1)
    }
}
