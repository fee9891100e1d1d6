import Foundation
import XCTest
@testable import LazyDiTCore

/// The shared bundle contract (tests/contract/bundle_cases.json), which the Python runtime, the native runner and
/// the Java core run too: every bundle to refuse throws a one-line `LazyDiTError` with one of the case's words,
/// every bundle to accept loads with every checksum verified.
///
/// The cases are real bundle folders exported by the Python tests (tests/contract_cases.py builds them from the
/// tiny ExecuTorch bundle) and listed in an index.json whose path tests/test_ios_swift.py passes in
/// `LAZYDIT_CONTRACT_INDEX`. Without the variable the tests skip, except under CI (`CI=true`), where a missing
/// index means the contract silently stopped running here and is a failure.
///
/// Each case prints one `CONTRACT` line, so that the pytest wrapper can check that every case of the index ran.
/// Disagreements are collected and reported together: one run shows every case this port gets wrong.
final class BundleContractTests: XCTestCase {
    static let environmentKey = "LAZYDIT_CONTRACT_INDEX"

    private struct Case {
        let name: String
        let kind: String
        let expect: String
        let bundle: URL
        let errorAny: [String]
    }

    private var cases: [Case] = []

    override func setUpWithError() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env[Self.environmentKey], !path.isEmpty else {
            let reason = "\(Self.environmentKey) is not set: the bundle contract did not run "
                + "(tests/test_ios_swift.py builds the cases and sets the variable)"
            if env["CI"]?.lowercased() == "true" {
                XCTFail(reason)
                throw LazyDiTError(reason)
            }
            throw XCTSkip(reason)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let index = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(index["format"] as? String, "lazydit-bundle-contract-index/1")
        for item in try XCTUnwrap(index["cases"] as? [[String: Any]]) {
            cases.append(Case(name: try XCTUnwrap(item["name"] as? String), kind: try XCTUnwrap(item["class"] as? String),
                              expect: try XCTUnwrap(item["expect"] as? String),
                              bundle: URL(fileURLWithPath: try XCTUnwrap(item["bundle"] as? String), isDirectory: true),
                              errorAny: try XCTUnwrap(item["error_any"] as? [String])))
        }
        XCTAssertEqual(Set(cases.map(\.expect)), ["refuse", "accept"], "the index needs cases of both kinds, and no other")
    }

    private func report(_ c: Case, _ problem: String?, _ detail: String) {
        print("CONTRACT \(c.expect) \(c.name) \(c.kind) \(problem == nil ? "ok" : "FAIL") \(detail)")
    }

    func testEveryBundleToRefuseIsRefusedInOneLineWithTheCasesWords() throws {
        let refuse = cases.filter { $0.expect == "refuse" }
        XCTAssertFalse(refuse.isEmpty, "an empty side would pass without checking anything")
        var wrong: [String] = []
        for c in refuse {
            let problem: String?
            var message = ""
            do {
                _ = try LazyDiTBundle.load(at: c.bundle, fileCheck: .full)
                problem = "was accepted"
            } catch let error as LazyDiTError {
                message = error.message
                let low = message.lowercased()
                if message.contains(where: \.isNewline) {
                    problem = "message spans lines"
                } else if !c.errorAny.contains(where: { low.contains($0.lowercased()) }) {
                    problem = "message has none of \(c.errorAny)"
                } else {
                    problem = nil
                }
            } catch {
                // Anything but a LazyDiTError reaches the app as an unexplained Foundation error.
                message = "\(error)"
                problem = "threw \(type(of: error)) instead of LazyDiTError"
            }
            report(c, problem, message)
            if let problem { wrong.append("\(c.name): \(problem) (\(message))") }
        }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(refuse.count) bundles to refuse:\n" + wrong.joined(separator: "\n"))
    }

    func testEveryBundleToAcceptLoadsWithItsChecksums() throws {
        let accept = cases.filter { $0.expect == "accept" }
        XCTAssertFalse(accept.isEmpty, "an empty side would pass without checking anything")
        var wrong: [String] = []
        for c in accept {
            var problem: String?
            do {
                let bundle = try LazyDiTBundle.load(at: c.bundle, fileCheck: .full)
                // Every listed file must also be reachable through the checked path the app opens files with.
                for (rel, entry) in bundle.manifest.files.sorted(by: { $0.key < $1.key }) {
                    if LazyDiTBundle.regularFileSize(try bundle.url(rel)) != entry.bytes {
                        problem = "\(rel) is not reachable with its size through LazyDiTBundle.url"
                    }
                }
                if let program = bundle.manifest.targets.executorch?.file,
                   LazyDiTBundle.regularFileSize(try bundle.url(program)) == nil {
                    problem = "its executorch program is not a file"
                }
            } catch {
                problem = "refused: \(error)"
            }
            report(c, problem, problem ?? "")
            if let problem { wrong.append("\(c.name): \(problem)") }
        }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(accept.count) bundles to accept:\n" + wrong.joined(separator: "\n"))
    }
}
