/// Which processors Core ML may use; mapped to `MLComputeUnits` by the Core ML runner.
public enum ComputeUnitsChoice: String, CaseIterable, Codable, Sendable, Identifiable {
    case all
    case cpuAndGPU = "cpu_gpu"
    case cpuAndNeuralEngine = "cpu_ne"
    case cpuOnly = "cpu"

    public var id: String { rawValue }

    public var label: String {
        switch self {
        case .all: return "All"
        case .cpuAndGPU: return "CPU + GPU"
        case .cpuAndNeuralEngine: return "CPU + Neural Engine"
        case .cpuOnly: return "CPU only"
        }
    }
}
