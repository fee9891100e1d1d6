#if canImport(SwiftUI) && canImport(CoreML)
import LazyDiTCore
import SwiftUI

/// The screen of benchmark mode: what is running, then the summary and where the report was written.
struct BenchmarkView: View {
    @StateObject private var model: BenchmarkModel

    init(options: BenchmarkOptions) {
        _model = StateObject(wrappedValue: BenchmarkModel(options: options))
    }

    var body: some View {
        NavigationStack {
            List {
                Section("Benchmark") {
                    Text(model.status)
                    if let f = model.fraction, model.reportURL == nil { ProgressView(value: f) }
                    LabeledContent("Repeats", value: "\(model.options.repeats) (+\(model.options.warmup) warm-up)")
                    LabeledContent("Compute units", value: model.options.computeUnits.label)
                    LabeledContent("Graphs", value: model.options.reduceMemory ? "loaded per use (reduced memory)" : "all loaded")
                }
                if !model.summary.isEmpty {
                    Section("Results") { ForEach(model.summary, id: \.self) { Text($0).font(.callout) } }
                }
                if let url = model.reportURL {
                    Section("Report") { Text("Documents/benchmarks/\(url.lastPathComponent)").textSelection(.enabled) }
                }
                if let message = model.errorMessage {
                    Section { Text(message).foregroundStyle(.red).textSelection(.enabled) }
                }
            }
            .navigationTitle("LazyDiT benchmark")
            .task { await model.start() }
        }
    }
}

/// The app's root: benchmark mode when launched with `-benchmark 1`, the generator screen otherwise.
public struct DemoRootView: View {
    private let launch: Result<BenchmarkOptions?, Error>

    public init(arguments: [String] = ProcessInfo.processInfo.arguments) {
        launch = Result { try BenchmarkOptions.parse(arguments) }
    }

    public var body: some View {
        switch launch {
        case .success(let options?):
            BenchmarkView(options: options)
        case .success(nil):
            GeneratorView()
        case .failure(let error):
            Text(error.localizedDescription).foregroundStyle(.red).padding()
        }
    }
}
#endif
