import Foundation
import XCTest
@testable import LazyDiTCore

final class DigestTests: XCTestCase {
    private let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    func testPureSHA256MatchesFIPSVectors() {
        for (message, digest) in vectors {
            var h = PureSHA256()
            h.update(Array(message.utf8))
            XCTAssertEqual(hexString(h.finalize()), digest, message)
            // The platform's implementation (CryptoKit on Apple platforms) agrees.
            XCTAssertEqual(FileDigest.sha256Hex(of: Data(message.utf8)), digest, message)
        }
    }

    func testPureSHA256InUnevenChunks() {
        // One million "a" fed in 997-byte pieces: exercises the partial-block path.
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 997)
        var h = PureSHA256()
        var fed = 0
        while fed < 1_000_000 {
            let n = min(chunk.count, 1_000_000 - fed)
            h.update(Array(chunk.prefix(n)))
            fed += n
        }
        XCTAssertEqual(hexString(h.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testFileDigestOfAFixtureFileMatchesTheManifest() throws {
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tinyCoreML, fileCheck: .skip)
        let entry = try XCTUnwrap(bundle.manifest.files["schedule.json"])
        XCTAssertEqual(try FileDigest.sha256Hex(ofFile: try bundle.url("schedule.json"), chunkSize: 100), entry.sha256)
    }
}

final class HalfTests: XCTestCase {
    func testKnownValues() {
        // Expected bits from numpy: np.float32(v).astype(np.float16).view(np.uint16).
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3c00), (-2.0, 0xc000), (65504, 0x7bff), (65520, 0x7c00), (1e-8, 0x0000),
            (5.9604645e-8, 0x0001), (0.1, 0x2e66), (3.0e-5, 0x01f7), (1.00048828125, 0x3c00),
            (1.00146484375, 0x3c02), (.infinity, 0x7c00), (-0.0, 0x8000),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(Half.fromFloat(value), bits, "\(value)")
        }
        XCTAssertTrue(Half.toFloat(Half.fromFloat(.nan)).isNaN)
    }

    func testEveryHalfSurvivesARoundTrip() {
        for bits in 0...UInt16.max where (bits & 0x7c00) != 0x7c00 || (bits & 0x03ff) == 0 {
            XCTAssertEqual(Half.fromFloat(Half.toFloat(bits)), bits, String(bits, radix: 16))
        }
        XCTAssertEqual(Half.toFloat(0x3555), 0.333251953125)
    }

    func testRawDataRoundTrips() throws {
        let values: [Float] = [0, -1.5, 3.25, 1e-3]
        XCTAssertEqual(try RawTensorData.floats(from: RawTensorData.bytes(from: values, dtype: .float32), dtype: .float32), values)
        XCTAssertEqual(RawTensorData.bytes(from: [Float(1)], dtype: .float32), [0x00, 0x00, 0x80, 0x3f])
        XCTAssertEqual(RawTensorData.bytes(from: [Int32(-2)], dtype: .int32), [0xfe, 0xff, 0xff, 0xff])
        XCTAssertEqual(try RawTensorData.floats(from: [0x00, 0x3c], dtype: .float16), [1])
        XCTAssertThrowsError(try RawTensorData.floats(from: [1, 2, 3], dtype: .float32))
    }
}
