#if canImport(SwiftUI) && canImport(CoreML)
import Foundation
import LazyDiTCore
import LazyDiTCoreML

/// Benchmark mode: LazyDiT, DDIM on the same timesteps, and DDIM with fewer steps (when that bundle is present)
/// timed with the host benchmark's protocol; the file goes to the app's Documents/benchmarks folder.
@MainActor
final class BenchmarkModel: ObservableObject {
    @Published private(set) var status = "Starting"
    @Published private(set) var fraction: Double?
    @Published private(set) var reportURL: URL?
    @Published private(set) var summary: [String] = []
    @Published private(set) var errorMessage: String?
    let options: BenchmarkOptions
    private var started = false
    private var notes: [String] = []

    init(options: BenchmarkOptions) {
        self.options = options
    }

    private var runnerInfo: BenchmarkReport.RunnerInfo { .init(computeUnits: options.computeUnits.rawValue) }

    func start() async {
        guard !started else { return }
        started = true
        let file: BenchmarkFile
        do {
            file = try await measure()
            status = "Done"
        } catch {
            let message = (error as? LazyDiTError)?.message ?? error.localizedDescription
            errorMessage = message
            status = "Failed"
            // A failed benchmark still leaves a file, with `error` set, so a reader polling for it learns why.
            file = BenchmarkFile(runner: runnerInfo, device: DeviceInfo.current(),
                                 protocolInfo: .init(warmup: options.warmup, repeats: options.repeats),
                                 reports: [], notes: notes, error: message)
        }
        do {
            let url = try write(file)
            reportURL = url
            // One greppable line for the Xcode console and `devicectl ... --console`.
            print("lazydit-benchmark report: \(url.path)")
        } catch {
            errorMessage = "cannot write the report: \(error.localizedDescription)"
        }
        if let message = errorMessage { print("lazydit-benchmark error: \(message)") }
    }

    private func measure() async throws -> BenchmarkFile {
        let o = options
        let entries = await BundleCatalog.scan().entries
        guard let entry = BundleCatalog.pick(o.bundle, from: entries) else {
            let names = entries.map(\.folderName).joined(separator: ", ")
            throw LazyDiTError(o.bundle.map { "-bundle \($0): no such bundle (found: \(names.isEmpty ? "none" : names))" }
                               ?? "no bundle found; add one to App/Bundles or the app's Documents folder")
        }
        let main = try await load(entry)
        var cases = [try Self.benchmarkCase(main, plan: main.lazyPlan, entry: entry,
                                            method: entry.isDense ? "ddim" : "lazydit", options: o)]
        if !entry.isDense, let dense = main.densePlan {
            cases.append(try Self.benchmarkCase(main, plan: dense, entry: entry, method: "ddim", options: o))
        }
        if !entry.isDense {
            let fewer = Int((Double(entry.numSteps) * (1 - entry.laziness)).rounded())
            let baseline: BundleEntry?
            if let name = o.ddimBundle {
                guard let e = entries.first(where: { $0.folderName == name || $0.name == name }) else {
                    throw LazyDiTError("-ddim-bundle \(name): no such bundle")
                }
                baseline = e
            } else {
                baseline = BundleCatalog.ddimBaseline(for: entry, steps: fewer, in: entries)
            }
            if let b = baseline {
                let p = try await load(b)
                cases.append(try Self.benchmarkCase(p, plan: p.lazyPlan, entry: b, method: "ddim", options: o))
            } else {
                notes.append("no DDIM-\(fewer) bundle of this model found; export one with "
                             + "`lazydit export --targets coreml --schedule ddim --steps \(fewer)` for that baseline")
            }
        }
        summary += notes
        status = "Measuring \(cases.map(\.plan.name).joined(separator: ", "))"
        let measured = cases, runner = runnerInfo, device = DeviceInfo.current()
        let reportOptions = BenchmarkReport.Options(
            warmup: o.warmup, repeats: o.repeats, classIndex: o.classIndex, seed: o.seed,
            classes: [Int](repeating: o.classIndex, count: main.bundle.manifest.batch), loadMode: o.residency.loadMode)
        let reports = try await Task.detached(priority: .userInitiated) {
            try Benchmark.measure(measured, runner: runner, device: device, options: reportOptions) { done, total, _ in
                Task { @MainActor in self.fraction = Double(done) / Double(max(total, 1)) }
            }
        }.value
        let file = BenchmarkFile(runner: runner, device: DeviceInfo.current(),
                                 protocolInfo: .init(warmup: o.warmup, repeats: o.repeats), reports: reports,
                                 notes: notes)
        for r in file.reports {
            let golden = r.golden.ok.map { $0 ? ", golden ok" : ", golden differs" } ?? ""
            let decode = r.decodeMs.map { ", decode \(String(format: "%.1f", $0.median)) ms" } ?? ""
            summary.append("\(r.plan.name): median \(String(format: "%.1f", r.totalMs.median)) ms, "
                           + "p90 \(String(format: "%.1f", r.totalMs.p90)) ms, step "
                           + "\(String(format: "%.2f", r.stepMs.median)) ms\(decode)\(golden)")
        }
        for c in file.comparisons {
            summary.append("\(c.candidate) vs \(c.baseline): \(String(format: "%.2f", c.speedup))x"
                           + (c.idealSpeedup.map { " (ideal \(String(format: "%.2f", $0))x)" } ?? ""))
        }
        return file
    }

    private func write(_ file: BenchmarkFile) throws -> URL {
        guard let documents = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask).first else {
            throw LazyDiTError("the app has no Documents folder to write the report into")
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
        let bundle = file.reports.first?.bundle.path ?? options.bundle ?? "none"
        return try file.write(to: documents.appendingPathComponent("benchmarks", isDirectory: true),
                              name: "bench-\(bundle)-\(options.computeUnits.rawValue)-\(stamp).json")
    }

    private func load(_ entry: BundleEntry) async throws -> CoreMLPipeline {
        status = "Loading \(entry.name)"
        let url = entry.url, units = options.computeUnits, residency = options.residency
        return try await Task.detached(priority: .userInitiated) {
            try await CoreMLPipeline.load(bundleAt: url, computeUnits: units, residency: residency)
        }.value
    }

    /// Not isolated to the main actor: the closures it makes run on the benchmark's background task.
    private nonisolated static func benchmarkCase(_ p: CoreMLPipeline, plan: StepPlan, entry: BundleEntry,
                                                  method: String, options: BenchmarkOptions) throws -> BenchmarkCase {
        let name = "\(method)-\(plan.count)"
        let classIndex = options.classIndex
        let seed = UInt64(options.seed)
        var golden: (() throws -> BenchmarkReport.GoldenCheck)?
        let traceName = "golden/trace.json"
        // The trace describes the exported (lazy) schedule; a DDIM run of a lazy bundle has no trace to match.
        if plan.kind == .lazy, FileManager.default.fileExists(atPath: entry.url.appendingPathComponent(traceName).path) {
            golden = {
                // Through the bundle's checked paths: the trace and the latents it names stay inside the bundle.
                let traceURL = try p.bundle.url(traceName)
                let trace = try GoldenTrace.load(from: traceURL)
                let noise = try RawTensorData.readFloat32File(try trace.noiseURL(besides: traceURL))
                let expectedFinal = try? RawTensorData.readFloat32File(try trace.finalURL(besides: traceURL))
                // A latent bundle's trace also holds the decoded image: the decode graph is checked, not only the steps.
                let expectedImage = try trace.loadImage(besides: traceURL)
                return try trace.check(p.scheduler, plan: plan, noise: noise, expectedFinal: expectedFinal,
                                       expectedImage: expectedImage)
            }
        }
        return BenchmarkCase(bundle: try BenchmarkReport.BundleInfo(p.bundle, path: entry.folderName),
                             plan: BenchmarkReport.PlanInfo(name: name, method: method, plan: plan),
                             load: p.loadTimes, goldenCheck: golden) {
            try p.generate(plan: plan, classIndex: classIndex, seed: seed)
        }
    }
}
#endif
