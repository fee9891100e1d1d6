"""Reading and validating a bundle before anything runs: schema, checksums, files, shapes.

Every problem is one :class:`~lazydit.errors.UserError` line naming the file. Imports no torch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from lazydit.errors import UserError

SUPPORTED_SCHEMA_VERSIONS = (1, 2)
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
DTYPES = {"float32": np.float32, "float16": np.float16, "int32": np.int32}


@dataclass
class Bundle:
    root: Path
    manifest: dict

    @property
    def num_steps(self) -> int:
        return len(self.manifest["steps"])

    @property
    def variants(self) -> dict[str, dict]:
        return {v["name"]: v for v in self.manifest["variants"]}

    def path(self, rel: str) -> Path:
        """A file the manifest names, inside the bundle (every such path was checked by :func:`load_bundle`)."""
        return contained_path(self.root, rel, self.root / "manifest.json")

    def tensor_spec(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        spec = self.manifest["tensors"]["cache" if name.startswith(("cache_", "new_cache_")) else name]
        return tuple(spec["shape"]), np.dtype(DTYPES[spec["dtype"]])

    def ratio_spec(self, variant: dict) -> tuple[tuple[int, ...], np.dtype] | None:
        """Shape and dtype of a variant's ``ratio`` input (schema 2; None when it takes none): one value per
        ``ratio_slots`` entry, in the dtype of ``coef``."""
        slots = variant.get("ratio_slots")
        return ((len(slots),), self.tensor_spec("coef")[1]) if slots else None

    def has_target(self, target: str) -> bool:
        return target in self.manifest["targets"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def contained_path(root: Path, rel: str, mpath: Path) -> Path:
    """``root/rel`` once ``rel`` is a relative, normalised path with no ``..`` component that resolves (symlinks
    followed) inside ``root``; the bundle folder itself may be a symlink. Checked before anything is opened."""
    inside = "a bundle's paths must stay inside the bundle"
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or "\\" in rel or ":" in p.parts[0]:
        raise UserError(f"{mpath}: path {rel!r} is not relative; {inside}")
    if ".." in p.parts:
        raise UserError(f"{mpath}: path {rel!r} has a '..' component; {inside}")
    if str(p) != rel:
        raise UserError(f"{mpath}: path {rel!r} is not normalised (write {str(p)!r}); {inside}")
    real_root = root.resolve()
    target = (root / rel).resolve()
    if target != real_root and real_root not in target.parents:
        raise UserError(f"{mpath}: path {rel!r} leads outside the bundle through a symlink; {inside}")
    return root / rel


def manifest_paths(m: dict) -> list[str]:
    """Every path a manifest names: listed files, graphs of every target, the schedule and its heat map."""
    paths = list(m["files"])
    for target, t in m["targets"].items():
        paths += _target_files(target, t)
    paths += [m["schedule"][k] for k in ("file", "heatmap") if k in m["schedule"]]
    return paths


def load_bundle(root: str | Path, verify_checksums: bool = True) -> Bundle:
    """Load ``root/manifest.json`` and refuse the bundle unless every check passes."""
    root = Path(root)
    mpath = root / "manifest.json"
    if not root.is_dir():
        raise UserError(f"bundle folder not found: {root}; export one with `lazydit export`")
    if not mpath.is_file():
        raise UserError(f"{mpath}: missing; this folder is not a lazydit bundle")
    contained_path(root, "manifest.json", mpath)  # the manifest itself may not be a link out of the bundle
    try:
        manifest = json.loads(mpath.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{mpath}: not valid JSON ({e})") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UserError(
            f"{mpath}: unknown schema_version {version!r} (this runtime reads "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}); upgrade lazydit or re-export the bundle"
        )
    _validate_schema(manifest, mpath)
    for rel in manifest_paths(manifest):
        contained_path(root, rel, mpath)
    _validate_consistency(manifest, mpath)
    files = manifest["files"]
    for rel, meta in files.items():
        p = root / rel
        if not p.is_file():
            raise UserError(f"{p}: listed in the manifest but missing; re-export or re-copy the bundle")
        if p.stat().st_size != meta["bytes"]:
            raise UserError(
                f"{p}: has {p.stat().st_size} bytes, the manifest says {meta['bytes']}; the bundle is damaged"
            )
        if verify_checksums and sha256_file(p) != meta["sha256"]:
            raise UserError(f"{p}: sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it")
    for target, t in manifest["targets"].items():
        for rel in _target_files(target, t):
            if not any(f == rel or f.startswith(rel.rstrip("/") + "/") for f in files):
                raise UserError(f"{root / rel}: {target} graph missing from the manifest's file list")
    return Bundle(root, manifest)


def _target_files(target: str, t: dict) -> list[str]:
    if target == "executorch":
        return [t["file"]]
    if target == "onnx":
        return list(t["graphs"].values()) + [t["weights"]] + ([t["decoder"]] if "decoder" in t else [])
    if target == "coreml":
        return [t["package"]]
    if target == "torch":
        return [t["weights"]] + ([t["decoder"]] if "decoder" in t else [])
    return []


def _validate_schema(manifest: dict, mpath: Path) -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(manifest, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise UserError(f"{mpath}: invalid manifest at {where}: {e.message}") from None


# Where each target keeps its per-variant graphs, and what one is called in an error.
_TARGET_GRAPHS = {"executorch": ("methods", "method"), "onnx": ("graphs", "graph"), "coreml": ("functions", "function")}


def _finite(value: float, what: str, mpath: Path) -> None:
    if not math.isfinite(value):
        raise UserError(f"{mpath}: {what} is {value}, not a finite number; the manifest is damaged, re-export it")


def _validate_consistency(m: dict, mpath: Path) -> None:
    _finite(m["guidance_scale"], "guidance_scale", mpath)
    for s in m["steps"]:
        for c in s["coef"]:
            _finite(c, f"step {s['index']} coef", mpath)
        _finite(s["timestep"], f"step {s['index']} timestep", mpath)
    version = m["schema_version"]
    for v in m["variants"]:
        if version >= 2 and "forecast" in v:
            raise UserError(
                f"{mpath}: variant {v['name']} has a schema-1 forecast table; schema 2 feeds ratios per step "
                "(ratio_slots); re-export the bundle"
            )
        if version < 2 and "ratio_slots" in v:
            raise UserError(f"{mpath}: variant {v['name']} has ratio_slots, which need schema_version 2")
        for r in (v.get("forecast") or {}).values():
            _finite(r, f"variant {v['name']} forecast ratio", mpath)
    for s in m["steps"]:
        for r in s.get("ratio", []):
            _finite(r, f"step {s['index']} ratio", mpath)
    for target, (key, what) in _TARGET_GRAPHS.items():
        if target in m["targets"]:
            have = m["targets"][target].get(key, {})
            for v in m["variants"]:
                if v["name"] not in have:
                    raise UserError(f"{mpath}: variant {v['name']} has no {target} {what}; re-export the bundle")
    cfg = m["model"]["config"]
    if m["classes"]["count"] != cfg["num_classes"]:
        raise UserError(
            f"{mpath}: classes.count {m['classes']['count']} differs from the model's "
            f"{cfg['num_classes']} classes; the bundle is damaged, re-export it"
        )
    batch = m["batch"]
    guided = m["guidance_scale"] != 1.0
    want_x = [batch, cfg["in_channels"], cfg["input_size"], cfg["input_size"]]
    want_cache = [batch * (2 if guided else 1), (cfg["input_size"] // cfg["patch_size"]) ** 2, cfg["hidden_size"]]
    checks = {"x": want_x, "x_next": want_x, "t": [1], "y": [batch], "coef": [4], "cache": want_cache}
    for name, shape in checks.items():
        got = m["tensors"][name]["shape"]
        if got != shape:
            raise UserError(f"{mpath}: tensor {name} has shape {got}, the model config needs {shape}")
    slots = set(m["slots"])
    names = set()
    for v in m["variants"]:
        names.add(v["name"])
        for s in v["reads"] + v["writes"]:
            if s not in slots:
                raise UserError(f"{mpath}: variant {v['name']} uses undeclared cache slot {s}")
        ratio_slots = v.get("ratio_slots", [])
        fed = ["ratio"] if ratio_slots else []
        if v["inputs"] != ["x", "t", "y", "coef", *fed, *v["reads"]]:
            order = "x, t, y, coef, ratio, then its reads" if fed else "x, t, y, coef, then its reads"
            raise UserError(f"{mpath}: variant {v['name']} inputs must be {order}")
        for s in ratio_slots:
            if not s.endswith("_delta") or s not in v["reads"]:
                raise UserError(f"{mpath}: variant {v['name']} ratio slot {s} is not a delta slot it reads")
    written: set[str] = set()
    for s in m["steps"]:
        if s["variant"] not in names:
            raise UserError(f"{mpath}: step {s['index']} uses unknown variant {s['variant']}")
        v = next(v for v in m["variants"] if v["name"] == s["variant"])
        if s["reads"] != v["reads"] or s["writes"] != v["writes"]:
            raise UserError(f"{mpath}: step {s['index']} slots disagree with variant {v['name']}")
        n_ratio = len(v.get("ratio_slots", []))
        if len(s.get("ratio", [])) != n_ratio or ("ratio" in s) != bool(n_ratio):
            raise UserError(
                f"{mpath}: step {s['index']} has {len(s.get('ratio', []))} forecast ratios, variant {v['name']} "
                f"takes {n_ratio}; re-export the bundle"
            )
        # A module that writes a delta reads its old output, which is the slot's initial zeros the first time.
        olds = {w[: -len("_delta")] for w in s["writes"] if w.endswith("_delta")}
        missing = [r for r in s["reads"] if r not in written and r not in olds]
        if missing:
            raise UserError(f"{mpath}: step {s['index']} reads {missing[0]} before any step writes it")
        written.update(s["writes"])
    if "decoder" in m:
        for target, t in m["targets"].items():
            if "decoder" not in t:
                raise UserError(f"{mpath}: the bundle has a decoder but its {target} target has no decoder graph")
    if [s["index"] for s in m["steps"]] != list(range(len(m["steps"]))):
        raise UserError(f"{mpath}: steps must be listed in order 0..N-1")
