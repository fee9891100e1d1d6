import Foundation

/// Keeps every path a manifest names inside its bundle (`contained_path` in the Python runtime, `Containment` in
/// the Android core).
///
/// A bundle is untrusted input: a folder someone copied onto the phone through Files, AirDrop or Finder. Without
/// this check a manifest could name `/var/mobile/...`, `../../x` or a symbolic link pointing out of the bundle, and
/// the app would hash that file and hand it to Core ML. A path is accepted when it is relative, normalised (no empty
/// or `.` component, no trailing slash), has no `..` component, and, with every symbolic link followed, still lies
/// inside the bundle folder's real path. The bundle folder itself may be a symbolic link: the comparison is against
/// where it leads.
public enum BundlePath {
    /// The end of every containment refusal, the same words on every port.
    public static let inside = "a bundle's paths must stay inside the bundle"

    /// Linux's own limit on links followed while resolving one path (MAXSYMLINKS); Darwin's is lower but a loop
    /// is a loop either way.
    static let maxLinks = 40

    /// Where `rel` leads under `root` with every symbolic link followed, once `rel` passes the rule above; nothing
    /// under `root` is opened. `namedBy` is the document that named `rel` (manifest.json, trace.json), for the
    /// message, which is one line ending with `inside`.
    ///
    /// The real path is returned, not `root/rel`, so that what is then opened is the file that was checked: a
    /// link inside the bundle is read through its target, never re-resolved later.
    public static func resolve(_ rel: String, in root: URL, namedBy: URL) throws -> URL {
        func refuse(_ problem: String) -> LazyDiTError {
            LazyDiTError("\(namedBy.path): path \(problem); \(inside)")
        }
        let shown = "'\(Self.oneLine(rel))'"
        let segments = rel.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if rel.isEmpty || rel.hasPrefix("/") || rel.contains("\\") || segments[0].contains(":") {
            throw refuse("\(shown) is not relative")
        }
        if rel.contains("\0") || rel.contains(where: \.isNewline) {
            throw refuse("\(shown) contains a control character")
        }
        if segments.contains("..") {
            throw refuse("\(shown) has a '..' component")
        }
        let kept = segments.filter { !$0.isEmpty && $0 != "." }
        if kept.count != segments.count {
            throw refuse("\(shown) is not normalised (write '\(kept.isEmpty ? "." : kept.joined(separator: "/"))')")
        }
        let realRoot = try realComponents(of: root, refuse: refuse, shown: shown)
        let target = try follow(segments, from: realRoot, refuse: refuse, shown: shown)
        if target.count < realRoot.count || Array(target.prefix(realRoot.count)) != realRoot {
            throw refuse("\(shown) leads outside the bundle through a symlink")
        }
        return url(of: target)
    }

    /// The bundle folder's real path (every link on the way followed), as components from `/`.
    static func realComponents(of root: URL, refuse: (String) -> LazyDiTError, shown: String) throws -> [String] {
        let absolute = root.standardizedFileURL.path
        let parts = absolute.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        return try follow(parts, from: [], refuse: refuse, shown: shown)
    }

    /// Where `segments` lead from the real folder `start` (components from `/`), every symbolic link followed as
    /// realpath(3) would, except that a missing file ends the walk instead of failing it.
    ///
    /// Links are followed by hand rather than with `resolvingSymlinksInPath()`, which keeps a path that does not
    /// exist unresolved (a dangling link pointing outside must be refused as outside, not reported later as a
    /// missing file, so that every port gives the same message) and on Darwin drops a leading `/private`.
    static func follow(_ segments: [String], from start: [String], refuse: (String) -> LazyDiTError,
                       shown: String) throws -> [String] {
        var current = start
        var todo = Array(segments.reversed())  // a stack: the next segment is last
        var links = 0
        while let s = todo.popLast() {
            if s.isEmpty || s == "." { continue }
            if s == ".." {
                // `current` never contains a link (each was replaced by its target), so its parent is the real one.
                _ = current.popLast()
                continue
            }
            let next = current + [s]
            // destinationOfSymbolicLink answers only for a link (nil for a file, a folder or nothing there).
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: url(of: next).path) else {
                current = next
                continue
            }
            links += 1
            if links > maxLinks { throw refuse("\(shown) goes through a loop of symlinks") }
            if link.hasPrefix("/") { current = [] }
            todo += link.split(separator: "/", omittingEmptySubsequences: false).map(String.init).reversed()
        }
        return current
    }

    static func url(of components: [String]) -> URL {
        URL(fileURLWithPath: "/" + components.joined(separator: "/"))
    }

    /// `text` with line breaks shown as `\n`, so that a hostile name cannot break an error into two lines.
    static func oneLine(_ text: String) -> String {
        text.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }
            .joined()
    }
}
