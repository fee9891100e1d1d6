import Dispatch
import Foundation

/// A bundle folder the app can run, with what the screens show about it.
public struct BundleEntry: Identifiable, Hashable, Sendable {
    public enum Source: String, Sendable {
        /// Shipped inside the app (the `Bundles` folder reference of the Xcode project).
        case app
        /// Copied into the app's Documents folder (Finder file sharing or the Files app).
        case documents
    }

    public let url: URL
    public let folderName: String
    public let source: Source
    public let name: String
    public let schedule: String
    public let numSteps: Int
    public let laziness: Double
    public let fingerprint: String
    public let classNames: [String]

    public var id: URL { url }

    /// A bundle exported with `--schedule ddim`: no step skips anything.
    public var isDense: Bool { schedule.hasPrefix("ddim") || laziness == 0 }

    public var title: String {
        let kind = isDense ? "DDIM \(numSteps) steps" : "\(schedule), \(numSteps) steps, \(Int((laziness * 100).rounded()))% lazy"
        return "\(name) (\(kind))"
    }
}

/// Finds bundles in the app's resources and in its Documents folder.
public enum BundleCatalog {
    /// Folders searched, in order: `<app>/Bundles/*` and `Documents/*`.
    public static func roots() -> [(URL, BundleEntry.Source)] {
        var roots: [(URL, BundleEntry.Source)] = []
        if let resources = Bundle.main.resourceURL {
            roots.append((resources.appendingPathComponent("Bundles", isDirectory: true), .app))
        }
        if let documents = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask).first {
            roots.append((documents, .documents))
        }
        return roots
    }

    /// Every folder with a readable manifest in `roots` (default: the app's), and one line per folder that has a
    /// manifest but cannot be used.
    ///
    /// Scanning reads and validates every manifest, so it runs on a background task, never on the caller's
    /// executor: a screen on the main actor awaits it without blocking its frames.
    public static func scan(roots given: [(URL, BundleEntry.Source)]? = nil) async
        -> (entries: [BundleEntry], problems: [String]) {
        let searched = given ?? roots()
        return await Task.detached(priority: .userInitiated) { scanNow(searched) }.value
    }

    /// The synchronous scan behind `scan(roots:)`; internal so that nothing on the main thread calls it.
    static func scanNow(_ roots: [(URL, BundleEntry.Source)]) -> (entries: [BundleEntry], problems: [String]) {
        dispatchPrecondition(condition: .notOnQueue(.main))
        var entries: [BundleEntry] = []
        var problems: [String] = []
        for (root, source) in roots {
            let children = (try? FileManager.default.contentsOfDirectory(
                at: root, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])) ?? []
            for folder in children.sorted(by: { $0.lastPathComponent < $1.lastPathComponent }) {
                let manifestURL = folder.appendingPathComponent("manifest.json")
                guard FileManager.default.fileExists(atPath: manifestURL.path) else { continue }
                do {
                    // The same containment as loading: a bundle whose paths leave it is listed as a problem.
                    let real = try BundlePath.resolve("manifest.json", in: folder, namedBy: manifestURL)
                    let m = try ManifestValidator.decode(try Data(contentsOf: real), path: manifestURL.path,
                                                         bundleRoot: folder)
                    guard m.targets.coreml != nil else {
                        problems.append("\(folder.lastPathComponent): no Core ML graphs; export with `lazydit export --targets coreml`")
                        continue
                    }
                    entries.append(BundleEntry(
                        url: folder, folderName: folder.lastPathComponent, source: source,
                        name: m.name ?? folder.lastPathComponent, schedule: m.schedule.source,
                        numSteps: m.steps.count, laziness: m.schedule.laziness, fingerprint: m.model.fingerprint,
                        classNames: m.classes.names.isEmpty ? (0..<m.classes.count).map(String.init) : m.classes.names))
                } catch {
                    problems.append("\(folder.lastPathComponent): \((error as? LazyDiTError)?.message ?? error.localizedDescription)")
                }
            }
        }
        return (entries, problems)
    }

    /// The bundle called `name` (folder or manifest name), else the first LazyDiT bundle, else the first one.
    public static func pick(_ name: String?, from entries: [BundleEntry]) -> BundleEntry? {
        if let name { return entries.first { $0.folderName == name || $0.name == name } }
        return entries.first { !$0.isDense } ?? entries.first
    }

    /// The dense bundle of the same model with `steps` steps: the "DDIM at equal compute" baseline.
    public static func ddimBaseline(for entry: BundleEntry, steps: Int, in entries: [BundleEntry]) -> BundleEntry? {
        entries.first { $0.isDense && $0.numSteps == steps && $0.fingerprint == entry.fingerprint && $0.url != entry.url }
    }
}
