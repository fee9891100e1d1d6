#if canImport(SwiftUI) && canImport(CoreML)
import LazyDiTCore
import LazyDiTCoreML
import SwiftUI

/// The demo screen: bundle, class, seed, LazyDiT or DDIM, compute units, Generate; then the image (a latent
/// bundle's decoded RGB image), its latency (step and decode times) and the lazy-step strip.
public struct GeneratorView: View {
    @StateObject private var model = GeneratorModel()

    public init() {}

    public var body: some View {
        NavigationStack {
            Form {
                bundleSection
                settingsSection
                if let stage = model.loadStage { LoadProgressSection(stage: stage) }
                if let message = model.errorMessage {
                    Section { Text(message).foregroundStyle(.red).textSelection(.enabled) }
                }
                resultSection
            }
            .navigationTitle("LazyDiT")
            .task { await model.refresh() }
            .refreshable { await model.refresh() }
        }
    }

    @ViewBuilder private var bundleSection: some View {
        Section("Bundle") {
            if model.bundles.isEmpty {
                Text("No bundle found. Add an exported bundle folder to App/Bundles in Xcode, or copy it into this app's Documents with Finder file sharing, then pull to refresh.")
                    .font(.callout)
            } else {
                Picker("Bundle", selection: $model.selectedURL) {
                    ForEach(model.bundles) { entry in
                        Text(entry.title).tag(Optional(entry.url))
                    }
                }
            }
            ForEach(model.problems, id: \.self) { Text($0).font(.caption).foregroundStyle(.secondary) }
        }
    }

    @ViewBuilder private var settingsSection: some View {
        Section("Sampling") {
            Picker("Class", selection: $model.classIndex) {
                ForEach(Array((model.selected?.classNames ?? []).enumerated()), id: \.offset) { item in
                    Text("\(item.offset): \(item.element)").tag(item.offset)
                }
            }
            TextField("Seed", value: $model.seed, format: .number)
            #if os(iOS)
                .keyboardType(.numberPad)
            #endif
            Picker("Method", selection: $model.method) {
                ForEach(GeneratorModel.Method.allCases) { Text($0.rawValue).tag($0) }
            }
            .pickerStyle(.segmented)
            .disabled(model.selected?.isDense ?? false)
            Picker("Compute units", selection: $model.computeUnits) {
                ForEach(ComputeUnitsChoice.allCases) { Text($0.label).tag($0) }
            }
            Toggle("Reduce memory", isOn: $model.reduceMemory)
            Button(model.isBusy ? "Working…" : "Generate") { model.generate() }
                .disabled(model.isBusy || model.selected == nil)
            if let note = model.loadNote { Text(note).font(.caption).foregroundStyle(.secondary) }
        }
    }

    @ViewBuilder private var resultSection: some View {
        let mask = model.plannedLazyMask
        if let image = model.image {
            Section("Image") {
                Image(decorative: image, scale: 1)
                    .interpolation(.none)
                    .resizable()
                    .aspectRatio(contentMode: .fit)
                    .frame(maxWidth: .infinity, maxHeight: 280)
                if model.result?.isDecoded == true {
                    Text("Decoded from the latent by the bundle's VAE decoder")
                        .font(.caption).foregroundStyle(.secondary)
                }
            }
        }
        if !mask.isEmpty {
            Section("Steps") {
                if let finished = model.finishedSteps {
                    ProgressView(value: Double(finished), total: Double(max(mask.count, 1))) {
                        Text("Step \(finished) of \(mask.count)")
                    }
                }
                LazyStepStrip(lazyMask: mask,
                              stepMilliseconds: model.result?.stepMilliseconds ?? model.liveStepMilliseconds,
                              finished: model.finishedSteps)
            }
        }
        if let r = model.result {
            Section("Latency") {
                LabeledContent("Total", value: String(format: "%.1f ms", r.totalMilliseconds))
                LabeledContent("Per step, median", value: String(format: "%.2f ms", Statistics.median(r.stepMilliseconds)))
                if let decode = r.decodeMilliseconds {
                    LabeledContent("Decode", value: String(format: "%.2f ms", decode))
                }
                ForEach(r.perVariantMilliseconds.sorted(by: { $0.key < $1.key }), id: \.key) { item in
                    LabeledContent("\(item.key) × \(item.value.count)",
                                   value: String(format: "%.2f ms median", Statistics.median(item.value)))
                }
                LabeledContent("Lazy steps", value: "\(r.lazyMask.filter { $0 }.count) of \(r.lazyMask.count)")
            }
        }
    }
}

/// The slow first load, made visible: checksum verification, the one-time compile, then each function's load.
struct LoadProgressSection: View {
    let stage: CoreMLPipeline.Stage

    var body: some View {
        Section("Preparing the model") {
            switch stage {
            case .verifying(let fraction):
                ProgressView(value: fraction) { Text("Verifying bundle checksums") }
            case .compiling:
                ProgressView { Text("Compiling the Core ML model (first launch only; can take a minute)") }
            case .loading(let loaded, let total):
                ProgressView(value: Double(loaded), total: Double(max(total, 1))) {
                    Text("Loading graph \(min(loaded + 1, total)) of \(total) (the first Neural Engine load is slow)")
                }
            case .ready:
                Text("Ready")
            }
        }
    }
}
#endif
