/// Which graph runs at each sampling step: the bundle's LazyDiT schedule, or dense DDIM on the same timesteps.
public struct StepPlan: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The manifest's steps as exported: some steps skip modules and read cached outputs.
        case lazy
        /// Every step on the variant that computes every module: plain DDIM with the same timesteps.
        case dense
    }

    public struct Entry: Sendable, Equatable {
        /// The manifest step (timestep and coefficients; `index` addresses its preallocated inputs).
        public let step: Manifest.Step
        public let variant: Manifest.Variant

        /// Whether this step skips modules and reuses cached outputs.
        // A forecasting full step reads old outputs without skipping anything: count skips, not reads.
        public var isLazy: Bool { (variant.skippedModules ?? variant.reads.count) > 0 }
    }

    public let kind: Kind
    public let entries: [Entry]
    /// Modules (attention and MLP of every block) a dense step evaluates.
    public let modulesPerStep: Int

    /// The schedule exported in the manifest.
    public static func lazy(_ m: Manifest) throws -> StepPlan {
        let entries = try m.steps.map { step -> Entry in
            guard let v = m.variant(named: step.variant) else {
                throw LazyDiTError("step \(step.index) uses unknown variant \(step.variant)")
            }
            return Entry(step: step, variant: v)
        }
        return StepPlan(kind: .lazy, entries: entries, modulesPerStep: 2 * m.model.config.depth)
    }

    /// DDIM with the bundle's timesteps: its fully computing variant at every step (cache writes are unused).
    ///
    /// A variant that skips nothing and reads no slot is preferred. A forecasting schedule of schema 2 may have
    /// none: its full step reads each module's old output (to write the delta) and skips nothing, so it computes
    /// everything too; run at every step it reads zeros first, then what the step before wrote.
    public static func dense(_ m: Manifest) throws -> StepPlan {
        let full = m.variants.first { $0.reads.isEmpty && ($0.skippedModules ?? 0) == 0 }
            ?? m.variants.first { v in
                !v.takesRatio && v.skippedModules == 0 && v.reads.allSatisfy { v.oldOutputReads.contains($0) }
            }
        guard let full else {
            throw LazyDiTError("bundle \(m.name ?? "?") has no fully computing variant, so it cannot run as DDIM; "
                               + "export a dense bundle with `lazydit export --schedule ddim`")
        }
        return StepPlan(kind: .dense, entries: m.steps.map { Entry(step: $0, variant: full) },
                        modulesPerStep: 2 * m.model.config.depth)
    }

    public var count: Int { entries.count }

    /// One flag per step: true where modules are skipped.
    public var lazyMask: [Bool] { entries.map(\.isLazy) }

    /// Share of module evaluations skipped over the whole run.
    public var laziness: Double {
        let skipped = entries.reduce(0) { $0 + ($1.variant.skippedModules ?? $1.variant.reads.count) }
        return Double(skipped) / Double(max(1, modulesPerStep * entries.count))
    }

    /// Multiply-accumulates per image over the whole run, when the manifest gives them per variant.
    public var macsPerImage: Int? {
        var total = 0
        for e in entries {
            guard let macs = e.variant.macsPerImage else { return nil }
            total += macs
        }
        return total
    }
}
