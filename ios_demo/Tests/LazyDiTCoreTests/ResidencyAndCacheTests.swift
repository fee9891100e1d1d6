import Foundation
import XCTest
@testable import LazyDiTCore

/// The lazy-load / release policy the Core ML runner applies to its functions, driven by real step plans.
final class ResidencyTests: XCTestCase {
    /// A set whose values are the key and the load that produced it, so a test can see which load it got.
    private func makeSet(_ policy: ResidencyPolicy) -> (ResidentSet<String, String>, () -> [String]) {
        var log: [String] = []
        let set = ResidentSet<String, String>(policy: policy) { key in
            log.append(key)
            return "\(key)#\(log.count)"
        }
        return (set, { log })
    }

    func testKeepLoadedLoadsEachFunctionOnceAndKeepsIt() throws {
        let (set, log) = makeSet(.keepLoaded)
        try set.prewarm(["v0", "v1"])
        XCTAssertEqual(set.residentKeys, ["v0", "v1"])
        for key in ["v0", "v1", "v0", "v1"] { XCTAssertEqual(try set.value(for: key), key == "v0" ? "v0#1" : "v1#2") }
        set.runFinished()
        XCTAssertEqual(Set(set.residentKeys), ["v0", "v1"])
        XCTAssertEqual(log(), ["v0", "v1"])
        XCTAssertEqual(set.releases, 0)
    }

    func testReducedMemoryReleasesTheLeastRecentlyUsedAndEverythingAfterARun() throws {
        let (set, log) = makeSet(.reducedMemory(maxResident: 2))
        for key in ["a", "b", "a", "c", "b"] { _ = try set.value(for: key) }
        // a, b loaded; a hit (now most recent); c evicts b; b evicts a.
        XCTAssertEqual(log(), ["a", "b", "c", "b"])
        XCTAssertEqual(set.residentKeys, ["c", "b"])
        set.runFinished()
        XCTAssertEqual(set.residentKeys, [])
        XCTAssertEqual(set.releases, 4)
    }

    func testPrewarmInReducedMemoryModeReleasesEachFunctionAfterItsLoad() throws {
        let (set, log) = makeSet(.reducedMemory(maxResident: 1))
        var seen: [String: String] = [:]
        try set.prewarm(["v0", "v1", "v2"]) { key, value in
            seen[key] = value
            XCTAssertEqual(set.residentKeys, [key], "only the function being described is loaded")
        }
        XCTAssertEqual(seen, ["v0": "v0#1", "v1": "v1#2", "v2": "v2#3"])
        XCTAssertEqual(set.residentKeys, [])
        XCTAssertEqual(log(), ["v0", "v1", "v2"])
    }

    func testAFailedLoadLeavesNothingBehind() {
        let set = ResidentSet<String, Int>(policy: .reducedMemory(maxResident: 0)) { key in
            throw LazyDiTError("cannot load \(key)")
        }
        XCTAssertEqual(set.policy, .reducedMemory(maxResident: 1), "at least one function must fit")
        XCTAssertThrowsError(try set.value(for: "v0")) { XCTAssertEqual("\($0)", "cannot load v0") }
        XCTAssertEqual(set.residentKeys, [])
        XCTAssertEqual(set.loads, 0)
    }

    func testLoadsPerRunOfTheTinySchedule() throws {
        // interval:2 alternates v0 and v1: one resident function reloads at every step, two load once each.
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tiny, fileCheck: .skip)
        let sequence = try StepPlan.lazy(bundle.manifest).entries.map(\.variant.name)
        XCTAssertEqual(sequence.count, 10)
        for (limit, loads) in [(1, 10), (2, 2)] {
            let (set, _) = makeSet(.reducedMemory(maxResident: limit))
            for name in sequence { _ = try set.value(for: name) }
            XCTAssertEqual(set.loads, loads, "maxResident \(limit)")
            XCTAssertLessThanOrEqual(set.residentKeys.count, limit)
        }
        XCTAssertEqual(ResidencyPolicy.keepLoaded.loadMode, "mlmodelc")
        XCTAssertEqual(ResidencyPolicy.reducedMemory(maxResident: 2).loadMode, "mlmodelc-reduced-memory-2")
    }
}

/// Hashing a bundle once per file version, not on every load.
final class FileDigestCacheTests: XCTestCase {
    func testABundleIsHashedOnceAcrossReloads() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let cache = FileDigestCache()
        let fileCount = try LazyDiTBundle.load(at: copy, fileCheck: .skip).manifest.files.count
        var fractions: [Double] = []
        _ = try LazyDiTBundle.load(at: copy, digests: cache)
        XCTAssertEqual(cache.filesHashed, fileCount)
        // A reload (another compute-units choice) verifies again from the cache: nothing is read, progress still ends at 1.
        _ = try LazyDiTBundle.load(at: copy, digests: cache) { fractions.append($0) }
        XCTAssertEqual(cache.filesHashed, fileCount)
        XCTAssertEqual(fractions.last, 1)
        XCTAssertEqual(fractions, fractions.sorted())
    }

    func testAnEditedFileIsHashedAgainAndRefused() throws {
        let copy = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML)
        let cache = FileDigestCache()
        _ = try LazyDiTBundle.load(at: copy, digests: cache)
        let hashed = cache.filesHashed
        let target = copy.appendingPathComponent("schedule.json")
        var bytes = try RawTensorData.readFile(target)
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: target)
        // Same size: only the modification date tells. Set it explicitly so a coarse file-system clock cannot hide it.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: target.path)
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy, digests: cache)) { error in
            XCTAssertTrue("\(error)".hasSuffix("schedule.json: sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it"), "\(error)")
        }
        XCTAssertEqual(cache.filesHashed, hashed + 1, "only the edited file is hashed again")
        cache.removeAll()
        XCTAssertThrowsError(try LazyDiTBundle.load(at: copy, digests: cache))
    }

    func testCachedDigestsAreTheFileDigests() throws {
        let cache = FileDigestCache()
        let bundle = try LazyDiTBundle.load(at: FixturePaths.tinyCoreML, fileCheck: .skip)
        for (rel, entry) in bundle.manifest.files {
            XCTAssertEqual(try cache.sha256Hex(ofFile: try bundle.url(rel)), entry.sha256, rel)
            XCTAssertEqual(try cache.sha256Hex(ofFile: try bundle.url(rel)), entry.sha256, rel)
        }
        XCTAssertEqual(cache.filesHashed, bundle.manifest.files.count)
    }
}

/// Finding bundles, on a background task.
final class BundleCatalogTests: XCTestCase {
    func testScanFindsCoreMLBundlesAndNamesTheUnusableOnes() async throws {
        let root = try FixturePaths.temporaryCopy(of: FixturePaths.tinyCoreML).deletingLastPathComponent()
        let broken = root.appendingPathComponent("broken", isDirectory: true)
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: broken.appendingPathComponent("manifest.json"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("not-a-bundle"), withIntermediateDirectories: true)

        let found = await BundleCatalog.scan(roots: [(root, .documents)])
        XCTAssertEqual(found.entries.map(\.folderName), ["tiny-coreml"])
        let entry = try XCTUnwrap(found.entries.first)
        XCTAssertEqual(entry.numSteps, 10)
        XCTAssertEqual(entry.source, .documents)
        XCTAssertFalse(entry.isDense)
        XCTAssertEqual(found.problems.count, 1)
        XCTAssertTrue(found.problems[0].hasPrefix("broken: "), found.problems[0])
        XCTAssertEqual(BundleCatalog.pick(nil, from: found.entries)?.folderName, "tiny-coreml")
        XCTAssertNil(BundleCatalog.pick("nope", from: found.entries))
    }
}
