#if canImport(SwiftUI) && canImport(CoreML)
import CoreGraphics
import Foundation
import LazyDiTCore
import LazyDiTCoreML
import SwiftUI

/// State of the generator screen: the chosen bundle, class, seed, method and compute units, the loaded
/// pipeline, and the last result.
@MainActor
public final class GeneratorModel: ObservableObject {
    public enum Method: String, CaseIterable, Identifiable {
        case lazyDiT = "LazyDiT"
        case ddim = "DDIM"
        public var id: String { rawValue }
    }

    @Published public var bundles: [BundleEntry] = []
    @Published public var problems: [String] = []
    @Published public var selectedURL: URL? { didSet { if selectedURL != oldValue { resetResult() } } }
    @Published public var classIndex = 0
    @Published public var seed = 0
    @Published public var method: Method = .lazyDiT { didSet { if method != oldValue { resetResult() } } }
    @Published public var computeUnits: ComputeUnitsChoice = .all
    /// Load each graph when a step needs it and release them after every run (slower steps, less memory).
    @Published public var reduceMemory = false
    @Published public private(set) var loadStage: CoreMLPipeline.Stage?
    @Published public private(set) var loadNote: String?
    @Published public private(set) var isBusy = false
    @Published public private(set) var finishedSteps: Int?
    @Published public private(set) var liveStepMilliseconds: [Double] = []
    @Published public private(set) var image: CGImage?
    @Published public private(set) var result: RunResult?
    @Published public private(set) var errorMessage: String?

    private var pipeline: CoreMLPipeline?
    private var pipelineUnits: ComputeUnitsChoice?
    private var pipelineResidency: ResidencyPolicy?

    public init() {}

    public var selected: BundleEntry? { bundles.first { $0.url == selectedURL } }

    /// The plan the next Generate runs, for the strip shown before any run.
    public var plannedLazyMask: [Bool] {
        if let result { return result.lazyMask }
        guard let entry = selected else { return [] }
        if method == .ddim || entry.isDense { return [Bool](repeating: false, count: entry.numSteps) }
        if let p = pipeline, p.bundle.root == entry.url { return p.lazyPlan.lazyMask }
        return []
    }

    /// Rescans the bundle folders; the scan runs on a background task (it reads and validates every manifest).
    public func refresh() async {
        let found = await BundleCatalog.scan()
        bundles = found.entries
        problems = found.problems
        if selected == nil { selectedURL = BundleCatalog.pick(nil, from: bundles)?.url }
        if classIndex >= (selected?.classNames.count ?? 1) { classIndex = 0 }
    }

    public func generate() {
        guard !isBusy, let entry = selected else { return }
        isBusy = true
        errorMessage = nil
        Task {
            defer { isBusy = false }
            do {
                let pipeline = try await loadedPipeline(entry)
                let plan: StepPlan
                if method == .ddim, !entry.isDense {
                    guard let dense = pipeline.densePlan else {
                        throw LazyDiTError("\(entry.name) has no fully computing variant; export a DDIM bundle with `lazydit export --schedule ddim`")
                    }
                    plan = dense
                } else {
                    plan = pipeline.lazyPlan
                }
                finishedSteps = 0
                liveStepMilliseconds = []
                let chosenClass = self.classIndex
                let chosenSeed = UInt64(max(0, self.seed))
                let run = try await Task.detached(priority: .userInitiated) {
                    try pipeline.generate(plan: plan, classIndex: chosenClass, seed: chosenSeed) { event in
                        Task { @MainActor in
                            // Updates that arrive after the run has been shown are dropped.
                            guard self.finishedSteps != nil else { return }
                            self.finishedSteps = event.index + 1
                            self.liveStepMilliseconds.append(event.milliseconds)
                        }
                    }
                }.value
                let m = pipeline.bundle.manifest
                // A latent bundle's run.image is already the decoded RGB image (B, 3, 8h, 8w) in [-1, 1].
                image = try LatentImage.render(run.image, shape: run.shape, valueRange: m.image.valueRange).cgImage
                result = run
                finishedSteps = nil
            } catch {
                errorMessage = (error as? LazyDiTError)?.message ?? error.localizedDescription
                finishedSteps = nil
            }
        }
    }

    /// The pipeline for `entry`, loading it (validate, compile once, load functions) when it is not the current one.
    private func loadedPipeline(_ entry: BundleEntry) async throws -> CoreMLPipeline {
        let residency: ResidencyPolicy = reduceMemory ? .lowMemory : .keepLoaded
        if let p = pipeline, p.bundle.root == entry.url, pipelineUnits == computeUnits, pipelineResidency == residency {
            return p
        }
        // Release the old pipeline's functions before loading new ones: never two bundles' graphs at once.
        pipeline = nil
        loadStage = .verifying(fraction: 0)
        defer { loadStage = nil }
        let units = computeUnits
        let url = entry.url
        // Checksums of an already verified bundle come from FileDigestCache.shared: a reload hashes nothing.
        let p = try await Task.detached(priority: .userInitiated) {
            try await CoreMLPipeline.load(bundleAt: url, computeUnits: units, residency: residency) { stage in
                Task { @MainActor in if self.loadStage != nil { self.loadStage = stage } }
            }
        }.value
        pipeline = p
        pipelineUnits = units
        pipelineResidency = residency
        let how = p.compiledNow ? "Compiled and loaded" : "Loaded (compiled model from cache)"
        let lean = residency == .keepLoaded ? "" : ", graphs loaded per use"
        loadNote = "\(how) in \(String(format: "%.1f", p.loadMilliseconds / 1000)) s on \(units.label)\(lean)"
        return p
    }

    private func resetResult() {
        result = nil
        image = nil
        liveStepMilliseconds = []
    }
}
#endif
