import Foundation

/// Decoding and checking of `manifest.json`: what the JSON schema and `_validate_consistency` of the Python
/// runtime enforce, so that a bad bundle is refused before any graph runs.
public enum ManifestValidator {
    /// Decodes and validates manifest `data`; every error is one line naming `path`.
    ///
    /// With `bundleRoot`, every path the manifest names is checked to stay inside that folder (`BundlePath`)
    /// after decoding and before anything else, so that a refused bundle has read nothing outside it.
    public static func decode(_ data: Data, path: String, bundleRoot: URL? = nil) throws -> Manifest {
        let manifest = try parse(data, path: path)
        if let bundleRoot {
            let named = URL(fileURLWithPath: path)
            for rel in manifest.namedPaths {
                _ = try BundlePath.resolve(rel, in: bundleRoot, namedBy: named)
            }
        }
        try validate(manifest, path: path)
        return manifest
    }

    /// Decodes manifest `data` and checks its schema version, without the checks of `validate`.
    static func parse(_ data: Data, path: String) throws -> Manifest {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            // NaN and Infinity literals end up here too: strict JSON has no such numbers.
            throw LazyDiTError("\(path): not valid JSON (\(error.localizedDescription)); "
                               + "a manifest is strict JSON, without NaN or Infinity")
        }
        guard let top = object as? [String: Any] else {
            throw LazyDiTError("\(path): invalid manifest at (top level): not a JSON object")
        }
        let version = (try? JSONDecoder().decode(VersionProbe.self, from: data))?.schemaVersion
        guard let version, LazyDiTBundle.supportedSchemaVersions.contains(version) else {
            let shown = version.map(String.init)
                ?? top["schema_version"].map { $0 is String ? "\"\($0)\"" : "\($0)" } ?? "missing"
            let known = LazyDiTBundle.supportedSchemaVersions.map(String.init).joined(separator: ", ")
            throw LazyDiTError("\(path): unknown schema_version \(shown) (this app reads \(known)); "
                               + "update the app or re-export the bundle with a matching lazydit")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as DecodingError {
            throw LazyDiTError("\(path): invalid manifest at \(describe(error))")
        }
        return manifest
    }

    /// Checks what decoding alone cannot: constants, name patterns, and the consistency of shapes and slots.
    public static func validate(_ m: Manifest, path: String) throws {
        func fail(_ message: String) -> LazyDiTError { LazyDiTError("\(path): \(message)") }
        if m.format != "lazydit-bundle" { throw fail("format is \(m.format), expected lazydit-bundle") }
        if !["float32", "float16"].contains(m.dtype) { throw fail("dtype \(m.dtype) is neither float32 nor float16") }
        if m.variants.isEmpty || m.steps.isEmpty { throw fail("needs at least one variant and one step") }
        if Set(m.slots).count != m.slots.count { throw fail("slots are listed twice") }
        for slot in m.slots where !isSlotName(slot) {
            throw fail("invalid manifest at slots: \(slot) is not of the form cache_<block>_<attn|mlp>[_delta]")
        }
        for (rel, entry) in m.files {
            if !isSHA256Hex(entry.sha256) { throw fail("invalid manifest at files/\(rel)/sha256: not 64 lower-case hex digits") }
            if entry.bytes < 0 { throw fail("invalid manifest at files/\(rel)/bytes: negative") }
        }
        if m.targets.requiredPaths.isEmpty { throw fail("invalid manifest at targets: no known target") }
        // A JSON parser with an extension for NaN (or a number too large for a Double) must not let one through:
        // the scheduler would turn every latent into NaN without an error.
        func finite(_ value: Double, _ what: String) throws {
            if !value.isFinite {
                throw fail("\(what) is \(value), not a finite number; the manifest is damaged, re-export it")
            }
        }
        try finite(m.guidanceScale, "guidance_scale")
        for s in m.steps {
            for c in s.coef { try finite(c, "step \(s.index) coef") }
        }
        for (i, v) in m.variants.enumerated() {
            if let ratioSlots = v.ratioSlots, ratioSlots.isEmpty {
                throw fail("invalid manifest at variants/\(i)/ratio_slots: needs at least one delta slot")
            }
            // Schema 2 feeds a forecasting graph its ratios per step; schema 1 graphs bake them in.
            if m.schemaVersion >= 2, v.forecast != nil {
                throw fail("variant \(v.name) has a schema-1 forecast table; schema 2 feeds ratios per step "
                           + "(ratio_slots); re-export the bundle")
            }
            if m.schemaVersion < 2, v.ratioSlots != nil {
                throw fail("variant \(v.name) has ratio_slots, which need schema_version 2")
            }
            for (_, ratio) in (v.forecast ?? [:]).sorted(by: { $0.key < $1.key }) {
                try finite(ratio, "variant \(v.name) forecast ratio")
            }
        }
        for s in m.steps {
            for r in s.ratio ?? [] { try finite(r, "step \(s.index) ratio") }
        }
        if let gap = m.targets.variantsWithoutGraph(m.variants.map(\.name)).first {
            throw fail("variant \(gap.variant) has no \(gap.target) \(gap.what); re-export the bundle")
        }

        if let d = m.decoder {
            // The Python runtime refuses the same: a target without the decode graph could not finish a run.
            if d.inputs != ["latent"] || d.outputs != ["image"] {
                throw fail("decoder \(d.name) must take [\"latent\"] and return [\"image\"]; "
                           + "it has \(d.inputs) and \(d.outputs)")
            }
            if let scale = d.latentScale { try finite(scale, "decoder latent_scale") }
            if m.variant(named: d.name) != nil {
                throw fail("decoder \(d.name) has the name of a variant; re-export the bundle")
            }
            if let target = m.targets.targetsWithoutDecoder.first {
                throw fail("the bundle has a decoder but its \(target) target has no decoder graph")
            }
            let want = [m.batch, m.image.channels, m.image.height, m.image.width]
            if let spec = m.imageSpec, spec.shape != want {
                throw fail("tensor image has shape \(spec.shape), the manifest's image and batch need \(want)")
            }
            if m.imageSpec == nil { throw fail("the decoder's image has no tensors.image spec") }
        }

        let cfg = m.model.config
        let guided = m.guidanceScale != 1.0
        let wantX = [m.batch, cfg.inChannels, cfg.inputSize, cfg.inputSize]
        let tokens = (cfg.inputSize / cfg.patchSize) * (cfg.inputSize / cfg.patchSize)
        let wantCache = [m.batch * (guided ? 2 : 1), tokens, cfg.hiddenSize]
        let wanted: [(String, [Int])] = [("x", wantX), ("x_next", wantX), ("t", [1]), ("y", [m.batch]),
                                         ("coef", [4]), ("cache", wantCache)]
        for (name, shape) in wanted {
            guard let spec = m.tensors[name] else { throw fail("invalid manifest at tensors: missing \(name)") }
            if spec.shape != shape { throw fail("tensor \(name) has shape \(spec.shape), the model config needs \(shape)") }
        }
        let slots = Set(m.slots)
        for v in m.variants {
            for s in v.reads + v.writes where !slots.contains(s) {
                throw fail("variant \(v.name) uses undeclared cache slot \(s)")
            }
            if v.inputs != v.expectedInputs {
                let order = v.takesRatio ? "x, t, y, coef, ratio, then its reads" : "x, t, y, coef, then its reads"
                throw fail("variant \(v.name) inputs must be \(order)")
            }
            for s in v.ratioSlots ?? [] where !s.hasSuffix("_delta") || !v.reads.contains(s) {
                throw fail("variant \(v.name) ratio slot \(s) is not a delta slot it reads")
            }
            if v.outputs.count != 1 + v.writes.count {
                throw fail("variant \(v.name) has \(v.outputs.count) outputs, expected x_next and one per written slot")
            }
        }
        var written = Set<String>()
        for (i, s) in m.steps.enumerated() {
            if s.index != i { throw fail("steps must be listed in order 0..N-1") }
            guard let v = m.variant(named: s.variant) else { throw fail("step \(s.index) uses unknown variant \(s.variant)") }
            if s.reads != v.reads || s.writes != v.writes { throw fail("step \(s.index) slots disagree with variant \(v.name)") }
            if s.coef.count != 4 { throw fail("invalid manifest at steps/\(i)/coef: needs 4 numbers") }
            // A step carries `ratio` exactly when its variant takes one, with one number per ratio slot.
            let given = s.ratio?.count ?? 0
            if given != v.ratioCount || (s.ratio != nil) != v.takesRatio {
                throw fail("step \(s.index) has \(given) forecast ratios, variant \(v.name) takes \(v.ratioCount); "
                           + "re-export the bundle")
            }
            // A module that writes a delta reads its old output, which is the slot's initial zeros the first time.
            let olds = v.oldOutputReads
            if let missing = s.reads.first(where: { !written.contains($0) && !olds.contains($0) }) {
                throw fail("step \(s.index) reads \(missing) before any step writes it")
            }
            written.formUnion(s.writes)
        }
    }

    private struct VersionProbe: Decodable {
        var schemaVersion: Int?
        enum CodingKeys: String, CodingKey { case schemaVersion = "schema_version" }
    }

    static func isSlotName(_ s: String) -> Bool {
        // ^cache_[0-9]+_(attn|mlp)(_delta)?$: a module's cached output, or the difference a forecast extrapolates by.
        let parts = s.split(separator: "_", omittingEmptySubsequences: false)
        return (parts.count == 3 || (parts.count == 4 && parts[3] == "delta")) && parts[0] == "cache" && !parts[1].isEmpty
            && parts[1].allSatisfy { "0123456789".contains($0) } && (parts[2] == "attn" || parts[2] == "mlp")
    }

    static func isSHA256Hex(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// "path/in/the/json: what is wrong" for a decoding error.
    static func describe(_ error: DecodingError) -> String {
        func where_(_ path: [CodingKey]) -> String {
            let text = path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
            return text.isEmpty ? "(top level)" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(where_(context.codingPath)): missing \(key.stringValue)"
        case .typeMismatch(let type, let context):
            return "\(where_(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(where_(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            return "\(where_(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
