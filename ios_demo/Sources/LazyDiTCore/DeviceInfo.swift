import Foundation
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// What a report says about the machine it ran on (the counterpart of the Android app report's `device`).
public struct DeviceInfo: Codable, Sendable, Equatable {
    /// "Apple" on Apple platforms.
    public var manufacturer: String
    /// Hardware model identifier, e.g. "iPhone17,1" (`uname -m`; the architecture on a Mac or Linux).
    public var model: String
    /// Operating system and version, e.g. "iOS 18.2.0".
    public var os: String
    public var cpus: Int
    public var memTotalMb: Int
    /// "nominal", "fair", "serious" or "critical" when the report was made; nil where unknown.
    public var thermalState: String?
    public var lowPowerMode: Bool?

    enum CodingKeys: String, CodingKey {
        case manufacturer, model, os, cpus
        case memTotalMb = "mem_total_mb"
        case thermalState = "thermal_state"
        case lowPowerMode = "low_power_mode"
    }

    public init(manufacturer: String, model: String, os: String, cpus: Int, memTotalMb: Int,
                thermalState: String?, lowPowerMode: Bool?) {
        self.manufacturer = manufacturer
        self.model = model
        self.os = os
        self.cpus = cpus
        self.memTotalMb = memTotalMb
        self.thermalState = thermalState
        self.lowPowerMode = lowPowerMode
    }

    /// This machine, now.
    public static func current() -> DeviceInfo {
        let info = ProcessInfo.processInfo
        let v = info.operatingSystemVersion
        #if os(iOS)
        let system = "iOS"
        #elseif os(macOS)
        let system = "macOS"
        #elseif os(Linux)
        let system = "Linux"
        #else
        let system = "unknown"
        #endif
        #if canImport(Darwin)
        let manufacturer = "Apple"
        let thermal: String? = {
            switch info.thermalState {
            case .nominal: return "nominal"
            case .fair: return "fair"
            case .serious: return "serious"
            case .critical: return "critical"
            @unknown default: return "unknown"
            }
        }()
        let lowPower: Bool? = info.isLowPowerModeEnabled
        #else
        let manufacturer = "unknown"
        let thermal: String? = nil
        let lowPower: Bool? = nil
        #endif
        return DeviceInfo(manufacturer: manufacturer, model: machineIdentifier(),
                          os: "\(system) \(v.majorVersion).\(v.minorVersion).\(v.patchVersion)",
                          cpus: info.processorCount, memTotalMb: Int(info.physicalMemory / (1 << 20)),
                          thermalState: thermal, lowPowerMode: lowPower)
    }

    /// `uname().machine`: the device model on iPhone ("iPhone17,1"), the architecture elsewhere.
    static func machineIdentifier() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &u.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// Peak resident memory of this process.
public enum ProcessMemory {
    /// The high-water mark of resident memory in KiB (0 where it cannot be read).
    public static func peakResidentKilobytes() -> Int {
        #if canImport(Darwin)
        var usage = rusage()
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) / 1024  // bytes on Darwin
        #else
        // Linux: VmHWM in /proc/self/status, already in kB.
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.dropFirst().compactMap { Int($0) }.first ?? 0
        }
        return 0
        #endif
    }
}
