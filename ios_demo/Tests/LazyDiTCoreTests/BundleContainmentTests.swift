import Foundation
import XCTest
@testable import LazyDiTCore

/// A bundle is untrusted input: every path its manifest (or golden trace) names must stay inside it, checked
/// before any file is read, with one-line errors. Run on copies of the complete Core ML fixture with an `outside`
/// folder beside each, holding a second copy that a hostile manifest or link could point at.
final class BundleContainmentTests: XCTestCase {
    private let fm = FileManager.default

    /// A fresh copy of the complete fixture (`bundle`) and another one beside it (`outside`).
    private func sandbox() throws -> (bundle: URL, outside: URL) {
        let bundle = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let dir = bundle.deletingLastPathComponent()
        let renamed = dir.appendingPathComponent("bundle", isDirectory: true)
        try fm.moveItem(at: bundle, to: renamed)
        let outside = dir.appendingPathComponent("outside", isDirectory: true)
        try fm.copyItem(at: FixturePaths.tinyCoreML, to: outside)
        return (renamed, outside)
    }

    private func editManifest(_ bundle: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = bundle.appendingPathComponent("manifest.json")
        var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&manifest)
        try JSONSerialization.data(withJSONObject: manifest).write(to: url)
    }

    private func replaceWithLink(_ item: URL, to target: String) throws {
        try? fm.removeItem(at: item)
        try fm.createSymbolicLink(atPath: item.path, withDestinationPath: target)
    }

    /// Asserts that loading `bundle` (checksums verified) is refused with one line containing `expected` and
    /// ending with the containment words, and that not one file was hashed first.
    private func assertRefusedOutside(_ bundle: URL, _ expected: String, file: StaticString = #filePath,
                                      line: UInt = #line) {
        let digests = FileDigestCache()
        XCTAssertThrowsError(try LazyDiTBundle.load(at: bundle, fileCheck: .full, digests: digests),
                             file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(expected), "expected …\(expected)…, got \(message)", file: file, line: line)
            XCTAssertTrue(message.hasSuffix(BundlePath.inside), message, file: file, line: line)
            XCTAssertFalse(message.contains(where: \.isNewline), message, file: file, line: line)
        }
        XCTAssertEqual(digests.filesHashed, 0, "a refused bundle hashed a file", file: file, line: line)
    }

    func testPathsThatAreNotPlainRelativePathsAreRefusedBeforeAnyFileIsHashed() throws {
        typealias Edit = (inout [String: Any], URL) -> Void
        func schedule(_ key: String, _ value: String) -> Edit {
            { m, _ in
                var s = m["schedule"] as! [String: Any]
                s[key] = value
                m["schedule"] = s
            }
        }
        func package(_ value: String) -> Edit {
            { m, _ in
                var targets = m["targets"] as! [String: Any]
                var coreml = targets["coreml"] as! [String: Any]
                coreml["package"] = value
                targets["coreml"] = coreml
                m["targets"] = targets
            }
        }
        func renameListed(_ old: String, _ new: String) -> Edit {
            { m, _ in
                var files = m["files"] as! [String: Any]
                files[new] = files.removeValue(forKey: old)
                m["files"] = files
            }
        }
        let cases: [(String, Edit)] = [
            ("is not relative", { m, outside in schedule("file", outside.appendingPathComponent("schedule.json").path)(&m, outside) }),
            ("'../outside/schedule.json' has a '..' component", schedule("file", "../outside/schedule.json")),
            ("has a '..' component", package("coreml/../coreml/model.mlpackage")),
            ("'./schedule.png' is not normalised (write 'schedule.png')", schedule("heatmap", "./schedule.png")),
            ("is not normalised (write 'schedule.json')", renameListed("schedule.json", "schedule.json/")),
            ("is not normalised", renameListed("schedule.json", "a//schedule.json")),
            ("is not relative", package("C:\\coreml\\model.mlpackage")),
            ("'schedule\\n.json' contains a control character", schedule("file", "schedule\n.json")),
        ]
        for (expected, change) in cases {
            let (bundle, outside) = try sandbox()
            try editManifest(bundle) { change(&$0, outside) }
            assertRefusedOutside(bundle, expected)
        }
    }

    func testLinksOutOfTheBundleAreRefusedWhereverTheyPoint() throws {
        let cases: [(String, (URL, URL) throws -> Void)] = [
            // A listed file that is a link to a file elsewhere (absolute target).
            ("'schedule.json' leads outside", { b, o in
                try self.replaceWithLink(b.appendingPathComponent("schedule.json"), to: o.appendingPathComponent("schedule.json").path)
            }),
            // The Core ML package's folder behind a relative link out of the bundle (the listed files inside it
            // come first, in sorted order).
            ("'coreml/model.mlpackage/Data/com.apple.CoreML/model.mlmodel' leads outside", { b, _ in
                try self.replaceWithLink(b.appendingPathComponent("coreml"), to: "../outside/coreml")
            }),
            // A dangling link is refused as outside, not as a missing file: every port gives the same message.
            ("'schedule.json' leads outside", { b, _ in
                try self.replaceWithLink(b.appendingPathComponent("schedule.json"), to: "../nowhere/schedule.json")
            }),
            ("goes through a loop of symlinks", { b, _ in
                try self.replaceWithLink(b.appendingPathComponent("schedule.json"), to: "schedule.json")
            }),
            // manifest.json itself must be the bundle's own.
            ("'manifest.json' leads outside", { b, o in
                try self.replaceWithLink(b.appendingPathComponent("manifest.json"), to: o.appendingPathComponent("manifest.json").path)
            }),
        ]
        for (expected, damage) in cases {
            let (bundle, outside) = try sandbox()
            try damage(bundle, outside)
            assertRefusedOutside(bundle, expected)
        }
    }

    func testLinksThatStayInsideTheBundleAreFollowed() throws {
        let (bundle, _) = try sandbox()
        // The package's folder under another name, and a listed file behind a link whose target wanders but stays.
        try fm.moveItem(at: bundle.appendingPathComponent("coreml"), to: bundle.appendingPathComponent("coreml-real"))
        try fm.createSymbolicLink(atPath: bundle.appendingPathComponent("coreml").path, withDestinationPath: "coreml-real")
        try fm.createDirectory(at: bundle.appendingPathComponent("data"), withIntermediateDirectories: true)
        try fm.moveItem(at: bundle.appendingPathComponent("schedule.json"), to: bundle.appendingPathComponent("data/schedule.json"))
        try fm.createSymbolicLink(atPath: bundle.appendingPathComponent("schedule.json").path,
                                  withDestinationPath: "data/../data/schedule.json")

        let loaded = try LazyDiTBundle.load(at: bundle, fileCheck: .full)
        // What is opened is the file that was checked: the real path behind the links.
        let schedule = try loaded.url("schedule.json")
        XCTAssertTrue(schedule.path.hasSuffix("/bundle/data/schedule.json"), schedule.path)
        XCTAssertEqual(LazyDiTBundle.regularFileSize(schedule), loaded.manifest.files["schedule.json"]?.bytes)
        let package = try loaded.url("coreml/model.mlpackage")
        XCTAssertTrue(package.path.hasSuffix("/bundle/coreml-real/model.mlpackage"), package.path)
    }

    func testABundleReachedThroughASymlinkedFolderLoads() throws {
        let (bundle, _) = try sandbox()
        let dir = bundle.deletingLastPathComponent()
        // Two links in a row (a link to a link to the folder), as a shared folder mounted under another name gives.
        let first = dir.appendingPathComponent("first-link")
        let second = dir.appendingPathComponent("second-link")
        try fm.createSymbolicLink(atPath: first.path, withDestinationPath: bundle.lastPathComponent)
        try fm.createSymbolicLink(atPath: second.path, withDestinationPath: first.path)

        var fractions: [Double] = []
        let loaded = try LazyDiTBundle.load(at: second, fileCheck: .full) { fractions.append($0) }
        XCTAssertEqual(fractions.last, 1)
        XCTAssertEqual(loaded.root, second, "the bundle keeps the folder the user chose")
        for (rel, entry) in loaded.manifest.files {
            XCTAssertEqual(try FileDigest.sha256Hex(ofFile: try loaded.url(rel)), entry.sha256, rel)
        }
        // Errors name the folder the user chose, not the real path behind it.
        try fm.removeItem(at: bundle.appendingPathComponent("verification.json"))
        XCTAssertThrowsError(try LazyDiTBundle.load(at: second, fileCheck: .sizes)) { error in
            XCTAssertTrue("\(error)".hasPrefix(second.appendingPathComponent("verification.json").path), "\(error)")
            XCTAssertTrue("\(error)".contains("listed in the manifest but missing"), "\(error)")
        }
    }

    func testAPathIsCheckedAgainWhenItIsUsed() throws {
        // The Core ML runner compiles the package through `LazyDiTBundle.url`, after the bundle was loaded: a
        // package swapped for a link in between is refused then, not compiled.
        let (bundle, outside) = try sandbox()
        let loaded = try LazyDiTBundle.load(at: bundle, fileCheck: .full)
        let package = try XCTUnwrap(loaded.manifest.targets.coreml).package
        XCTAssertNoThrow(try loaded.url(package))
        try replaceWithLink(bundle.appendingPathComponent("coreml"), to: outside.appendingPathComponent("coreml").path)
        XCTAssertThrowsError(try loaded.url(package)) { error in
            XCTAssertTrue("\(error)".hasSuffix("leads outside the bundle through a symlink; \(BundlePath.inside)"), "\(error)")
        }
    }

    func testGoldenTraceLatentsStayInsideTheTraceFolder() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tiny.appendingPathComponent("golden"))
        let traceURL = copy.appendingPathComponent("trace.json")
        let good = try GoldenTrace.load(from: traceURL)
        XCTAssertEqual(try RawTensorData.readFloat32File(try good.noiseURL(besides: traceURL)),
                       try RawTensorData.readFloat32File(copy.appendingPathComponent("noise.bin")))

        let original = try Data(contentsOf: traceURL)
        var trace = try XCTUnwrap(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        trace["noise"] = "../noise.bin"
        try JSONSerialization.data(withJSONObject: trace).write(to: traceURL)
        XCTAssertThrowsError(try GoldenTrace.load(from: traceURL)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(traceURL.path): path '../noise.bin' has a '..' component"), "\(error)")
        }
        try original.write(to: traceURL)
        try fm.copyItem(at: copy.appendingPathComponent("final.bin"), to: copy.deletingLastPathComponent().appendingPathComponent("final.bin"))
        try replaceWithLink(copy.appendingPathComponent("final.bin"), to: "../final.bin")
        XCTAssertThrowsError(try GoldenTrace.load(from: traceURL)) { error in
            XCTAssertTrue("\(error)".contains("'final.bin' leads outside"), "\(error)")
        }
    }
}

/// Numbers a scheduler multiplies by must be finite, every variant needs its graph, and every error is one line.
final class ManifestNumbersAndGraphsTests: XCTestCase {
    private func fixtureManifest() throws -> Manifest {
        let url = FixturePaths.tinyCoreML.appendingPathComponent("manifest.json")
        return try ManifestValidator.decode(Data(contentsOf: url), path: url.path)
    }

    func testNaNAndInfinityLiteralsAreNotJSON() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let url = copy.appendingPathComponent("manifest.json")
        var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        manifest["guidance_scale"] = 987654321  // a placeholder that serialises as itself, replaced below
        let text = String(decoding: try JSONSerialization.data(withJSONObject: manifest), as: UTF8.self)
        XCTAssertTrue(text.contains("987654321"))
        for literal in ["NaN", "Infinity", "-Infinity", "1e999"] {
            try Data(text.replacingOccurrences(of: "987654321", with: literal).utf8).write(to: url)
            XCTAssertThrowsError(try LazyDiTBundle.load(at: copy), literal) { error in
                XCTAssertTrue("\(error)".contains("not valid JSON"), "\(literal): \(error)")
                XCTAssertTrue("\(error)".contains("without NaN or Infinity"), "\(literal): \(error)")
                XCTAssertFalse("\(error)".contains(where: \.isNewline), "\(literal): \(error)")
            }
        }
    }

    func testNonFiniteNumbersAreRefusedEvenWhenAParserLetsThemThrough() throws {
        // Decoded values edited in memory: what a JSON parser with a NaN extension would hand over.
        let path = "bundle/manifest.json"
        let edits: [(String, (inout Manifest) -> Void)] = [
            ("guidance_scale is nan, not a finite number", { $0.guidanceScale = .nan }),
            ("step 2 coef is inf, not a finite number", { $0.steps[2].coef[0] = .infinity }),
            ("step 0 coef is -inf, not a finite number", { $0.steps[0].coef[3] = -.infinity }),
            ("variant v1 forecast ratio is nan, not a finite number", { $0.variants[1].forecast = ["cache_0_attn": .nan] }),
        ]
        for (expected, edit) in edits {
            var m = try fixtureManifest()
            edit(&m)
            XCTAssertThrowsError(try ManifestValidator.validate(m, path: path)) { error in
                XCTAssertEqual("\(error)", "\(path): \(expected); the manifest is damaged, re-export it")
            }
        }
        var finite = try fixtureManifest()
        finite.variants[1].forecast = ["cache_0_attn": 1.5]
        XCTAssertNoThrow(try ManifestValidator.validate(finite, path: path))
    }

    func testEveryVariantNeedsItsCoreMLFunction() throws {
        var m = try fixtureManifest()
        m.targets.coreml?.functions.removeValue(forKey: "v1")
        XCTAssertThrowsError(try ManifestValidator.validate(m, path: "m.json")) { error in
            XCTAssertEqual("\(error)", "m.json: variant v1 has no coreml function; re-export the bundle")
        }
        m = try fixtureManifest()
        m.targets.executorch = Manifest.ExecuTorchTarget(file: "executorch/model.pte", methods: ["v0": "v0"])
        XCTAssertThrowsError(try ManifestValidator.validate(m, path: "m.json")) { error in
            XCTAssertEqual("\(error)", "m.json: variant v1 has no executorch method; re-export the bundle")
        }
    }

    func testErrorsAreOneLineWhateverTheyQuote() {
        XCTAssertEqual(LazyDiTError("bad\nname\r\n: missing").message, "bad name : missing")
        XCTAssertEqual(BundlePath.oneLine("a\nb\tc"), "a\\nb\\tc")
    }
}
