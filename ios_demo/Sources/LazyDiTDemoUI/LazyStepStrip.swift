#if canImport(SwiftUI) && canImport(CoreML)
import SwiftUI

/// One bar per sampling step: orange where the step skips modules and reuses the cache, blue where it computes
/// everything; bar heights follow the measured step times once a run has them.
struct LazyStepStrip: View {
    let lazyMask: [Bool]
    let stepMilliseconds: [Double]
    /// Steps finished so far while a run is in progress (later bars are dimmed).
    let finished: Int?

    var body: some View {
        let longest = max(stepMilliseconds.max() ?? 0, 1e-6)
        VStack(alignment: .leading, spacing: 6) {
            HStack(alignment: .bottom, spacing: 2) {
                ForEach(lazyMask.indices, id: \.self) { i in
                    RoundedRectangle(cornerRadius: 2)
                        .fill(lazyMask[i] ? Color.orange : Color.blue)
                        .opacity(finished.map { i < $0 ? 1 : 0.3 } ?? 1)
                        .frame(maxWidth: .infinity)
                        .frame(height: i < stepMilliseconds.count ? max(6, 44 * stepMilliseconds[i] / longest) : 24)
                        .accessibilityLabel(label(i))
                }
            }
            .frame(height: 44, alignment: .bottom)
            HStack(spacing: 12) {
                Label("lazy (cache reused)", systemImage: "square.fill").foregroundStyle(.orange)
                Label("full", systemImage: "square.fill").foregroundStyle(.blue)
            }
            .font(.caption)
        }
    }

    private func label(_ i: Int) -> String {
        let kind = lazyMask[i] ? "lazy" : "full"
        if i < stepMilliseconds.count { return "step \(i + 1), \(kind), \(String(format: "%.1f", stepMilliseconds[i])) ms" }
        return "step \(i + 1), \(kind)"
    }
}
#endif
