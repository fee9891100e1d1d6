import Foundation
import XCTest
@testable import LazyDiTCore

/// Manifest decoding and the refusal of damaged bundles before anything runs, on real exported bundles.
final class ManifestTests: XCTestCase {
    func testFixtureManifestsDecodeAndValidate() throws {
        let tiny = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip)
        let m = tiny.manifest
        XCTAssertEqual(m.schemaVersion, 1)
        XCTAssertEqual(m.steps.count, m.schedule.numSteps)
        XCTAssertEqual(m.tensorSpec("cache_0_attn"), m.tensors["cache"])
        XCTAssertNotNil(m.targets.coreml)
        XCTAssertEqual(Set(try XCTUnwrap(m.targets.coreml).functions.keys), Set(m.variants.map(\.name)))
    }

    func testCompleteBundleVerifiesEveryChecksum() throws {
        var fractions: [Double] = []
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tinyCoreML, fileCheck: .full) { fractions.append($0) }
        XCTAssertEqual(fractions.last, 1)
        XCTAssertEqual(fractions, fractions.sorted())
        XCTAssertFalse(bundle.manifest.files.isEmpty)
        for (rel, entry) in bundle.manifest.files {
            XCTAssertEqual(try FileDigest.sha256Hex(ofFile: try bundle.url(rel)), entry.sha256, rel)
        }
    }

    func testFileSizesAreReadOnThisFoundation() throws {
        // The size check must see real sizes here too: a size that reads as missing would refuse every bundle.
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tinyCoreML, fileCheck: .skip)
        for (rel, entry) in bundle.manifest.files {
            XCTAssertEqual(LazyDiTBundle.regularFileSize(try bundle.url(rel)), entry.bytes, rel)
        }
        XCTAssertNil(LazyDiTBundle.regularFileSize(try bundle.url("coreml")), "a folder is not a file")
        XCTAssertNil(LazyDiTBundle.regularFileSize(try bundle.url("no-such-file")))
    }

    func testEditedByteIsRefusedWithTheFileNamed() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let target = copy.appendingPathComponent("schedule.json")
        var bytes = try RawTensorData.readFile(target)
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: target)
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy)) { error in
            XCTAssertTrue("\(error)".hasSuffix("schedule.json: sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it"), "\(error)")
        }
        // Sizes alone cannot see an edited byte.
        XCTAssertNoThrow(try LazyDiTBundle.load(at: copy, fileCheck: .sizes))
    }

    func testMissingAndTruncatedFilesAreRefused() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let weights = copy.appendingPathComponent("coreml/model.mlpackage/Data/com.apple.CoreML/weights/weight.bin")
        let bytes = try RawTensorData.readFile(weights)
        try Data(bytes.dropLast()).write(to: weights)
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy, fileCheck: .sizes)) { error in
            XCTAssertTrue("\(error)".contains("weight.bin: has \(bytes.count - 1) bytes, the manifest says \(bytes.count)"), "\(error)")
        }
        try FileManager.default.removeItem(at: weights)
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy, fileCheck: .sizes)) { error in
            XCTAssertTrue("\(error)".contains("weight.bin: listed in the manifest but missing"), "\(error)")
        }
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy.appendingPathComponent("nowhere"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("bundle folder not found"), "\(error)")
        }
    }

    func testUnknownSchemaVersionIsRefused() throws {
        XCTAssertEqual(LazyDiTBundle.supportedSchemaVersions, [1, 2])
        for (value, shown) in [(3 as Any, "3"), (0 as Any, "0"), ("1" as Any, "\"1\"")] {
            let copy = try edited { $0["schema_version"] = value }
            XCTAssertThrowsError(try LazyDiTBundle.load(at: copy)) { error in
                XCTAssertTrue("\(error)".contains("manifest.json: unknown schema_version \(shown) (this app reads 1, 2)"), "\(error)")
            }
        }
        let missing = try edited { _ = $0.removeValue(forKey: "schema_version") }
        XCTAssertThrowsError(try LazyDiTBundle.load(at: missing)) { error in
            XCTAssertTrue("\(error)".contains("unknown schema_version missing"), "\(error)")
        }
    }

    func testInconsistentManifestsAreRefused() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("tensor x has shape [1, 1, 8, 8], the model config needs [1, 1, 16, 16]", { m in
                var tensors = m["tensors"] as! [String: Any]
                tensors["x"] = ["shape": [1, 1, 8, 8], "dtype": "float32"]
                m["tensors"] = tensors
            }),
            ("variant v1 uses undeclared cache slot cache_9_attn", { m in
                var variants = m["variants"] as! [[String: Any]]
                variants[1]["reads"] = ["cache_9_attn"]
                m["variants"] = variants
            }),
            ("step 1 uses unknown variant nope", { m in
                var steps = m["steps"] as! [[String: Any]]
                steps[1]["variant"] = "nope"
                m["steps"] = steps
            }),
            ("step 0 reads cache_0_attn before any step writes it", { m in
                var steps = m["steps"] as! [[String: Any]]
                steps.swapAt(0, 1)
                steps[0]["index"] = 0
                steps[1]["index"] = 1
                m["steps"] = steps
            }),
            ("invalid manifest at (top level): missing steps", { m in _ = m.removeValue(forKey: "steps") }),
            ("format is other, expected lazydit-bundle", { m in m["format"] = "other" }),
        ]
        for (expected, change) in cases {
            let copy = try edited(change)
            XCTAssertThrowsError(try LazyDiTBundle.load(at: copy, fileCheck: .skip)) { error in
                XCTAssertTrue("\(error)".contains(expected), "expected …\(expected)…, got \(error)")
            }
        }
    }

    func testNotJSONIsRefused() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        try Data("{ not json".utf8).write(to: copy.appendingPathComponent("manifest.json"))
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy)) { error in
            XCTAssertTrue("\(error)".contains("manifest.json: not valid JSON"), "\(error)")
        }
    }

    /// A temporary copy of the complete fixture with its manifest changed by `change`.
    private func edited(_ change: (inout [String: Any]) -> Void) throws -> URL {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let url = copy.appendingPathComponent("manifest.json")
        var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&manifest)
        try JSONSerialization.data(withJSONObject: manifest).write(to: url)
        return copy
    }
}
