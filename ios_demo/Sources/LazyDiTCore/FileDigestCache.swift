import Foundation

/// SHA-256 digests of files, computed once per file version and remembered for the life of the process.
///
/// Verifying a bundle hashes every byte of its graphs (tens to hundreds of megabytes), which on a phone takes
/// seconds. The app verifies a bundle before its first use; reloading the same bundle (another compute-units
/// choice, reduced-memory mode, the benchmark after the generator) must not hash it again. A file is hashed again
/// only when its path, size or modification date changed. An edit that keeps both size and modification date is
/// not seen until the app restarts; the copy paths that damage bundles (Finder, the Files app, an interrupted copy)
/// all change the modification date.
public final class FileDigestCache: @unchecked Sendable {
    /// The app's cache (one per process).
    public static let shared = FileDigestCache()

    private struct Stamp: Equatable {
        let size: Int
        let modified: Date?
    }

    private let lock = NSLock()
    private var digests: [String: (stamp: Stamp, sha256: String)] = [:]
    private var hashed = 0

    public init() {}

    /// Files actually read and hashed so far (not answered from the cache).
    public var filesHashed: Int {
        lock.lock()
        defer { lock.unlock() }
        return hashed
    }

    /// The lower-case hex SHA-256 of the file at `url`; `onBytes` is told how many bytes each chunk had (the whole
    /// size at once when the digest was known).
    public func sha256Hex(ofFile url: URL, onBytes: ((Int) -> Void)? = nil) throws -> String {
        let key = url.standardizedFileURL.path
        let stamp = try Self.stamp(of: url)
        lock.lock()
        let known = digests[key]
        lock.unlock()
        if let known, known.stamp == stamp {
            onBytes?(stamp.size)
            return known.sha256
        }
        let digest = try FileDigest.sha256Hex(ofFile: url, onBytes: onBytes)
        lock.lock()
        digests[key] = (stamp, digest)
        hashed += 1
        lock.unlock()
        return digest
    }

    /// Forgets every digest (the next verification hashes everything again).
    public func removeAll() {
        lock.lock()
        digests.removeAll()
        lock.unlock()
    }

    private static func stamp(of url: URL) throws -> Stamp {
        let values = try url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey])
        guard let size = values.fileSize else {
            throw LazyDiTError("\(url.path): cannot read its size; check that the file exists")
        }
        return Stamp(size: size, modified: values.contentModificationDate)
    }
}
