import Foundation
#if canImport(CryptoKit)
import CryptoKit
#endif

/// SHA-256 of files and byte buffers: CryptoKit where the platform has it, `PureSHA256` elsewhere.
public enum FileDigest {
    /// Lower-case hex SHA-256 of the file at `url`, read in chunks; `onBytes` is told how many bytes each chunk had.
    public static func sha256Hex(ofFile url: URL, chunkSize: Int = 1 << 20,
                                 onBytes: ((Int) -> Void)? = nil) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        #if canImport(CryptoKit)
        var hasher = SHA256()
        #else
        var hasher = PureSHA256()
        #endif
        while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
            #if canImport(CryptoKit)
            hasher.update(data: chunk)
            #else
            chunk.withUnsafeBytes { hasher.update(bytes: $0) }
            #endif
            onBytes?(chunk.count)
        }
        return hexString(hasher.finalize())
    }

    /// Lower-case hex SHA-256 of `data`.
    public static func sha256Hex(of data: Data) -> String {
        #if canImport(CryptoKit)
        return hexString(SHA256.hash(data: data))
        #else
        var hasher = PureSHA256()
        data.withUnsafeBytes { hasher.update(bytes: $0) }
        return hexString(hasher.finalize())
        #endif
    }
}
