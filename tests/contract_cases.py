"""Builds the bundle contract cases of ``tests/contract/bundle_cases.json`` from a real exported bundle.

Every scheduler port's test runs the same folders (Python, the native runner, the Java core, the Swift core),
so their validators cannot drift apart. The index written by :func:`build_all` lists each case's folder, whether
it must be refused or accepted, and the words a refusal must contain.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

CASES_FILE = Path(__file__).resolve().parent / "contract" / "bundle_cases.json"
INDEX_FORMAT = "lazydit-bundle-contract-index/1"


def load_cases() -> dict:
    return json.loads(CASES_FILE.read_text())


def _pointer(doc, path: str):
    """(parent container, last key) of a JSON pointer."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]
    for p in parts[:-1]:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    last = parts[-1]
    return doc, int(last) if isinstance(doc, list) else last


def _references(manifest: dict) -> list[tuple[dict, str]]:
    """Every (container, key) of the manifest's targets that holds a path."""
    refs = []
    for t in manifest["targets"].values():
        for key in ("file", "weights", "package", "decoder"):
            if isinstance(t.get(key), str) and "/" in t[key]:
                refs.append((t, key))
        for graphs in (t.get("graphs") or {},):
            refs += [(graphs, k) for k in graphs]
    return refs


def _move_file(root: Path, manifest: dict, old: str, new: str) -> None:
    """Moves listed file ``old`` to where manifest path ``new`` points and renames it everywhere."""
    dest = Path(new) if Path(new).is_absolute() else root / new
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.resolve() != (root / old).resolve():
        shutil.move(str(root / old), str(dest))
    manifest["files"] = {(new if k == old else k): v for k, v in manifest["files"].items()}
    for container, key in _references(manifest):
        if container[key] == old:
            container[key] = new


def _edit_manifest(root: Path, manifest: dict, ops: list[dict], outside: Path) -> None:
    for op in ops:
        kind = op["op"]
        if kind in ("set", "set-number"):
            parent, key = _pointer(manifest, op["path"])
            parent[key] = float(op["value"].lower().replace("infinity", "inf")) if kind == "set-number" else op["value"]
        elif kind == "delete":
            parent, key = _pointer(manifest, op["path"])
            del parent[key]
        elif kind == "move-file":
            new = op["to"].replace("OUTSIDE", str(outside) if op.get("absolute") else "../outside")
            _move_file(root, manifest, op["from"], new)
        elif kind == "list-file":
            manifest["files"][op["path"]] = {"bytes": 0, "sha256": ""}
        else:
            raise ValueError(f"unknown manifest op {kind!r}")


def _edit_files(root: Path, ops: list[dict], outside: Path) -> None:
    for op in ops:
        path = root / op["path"]
        kind = op["op"]
        if kind == "delete":
            path.unlink()
        elif kind == "append":
            with open(path, "a") as f:
                f.write(op["text"])
        elif kind == "flip-byte":
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
        elif kind == "move":
            shutil.move(str(path), str(root / op["to"]))
        elif kind == "symlink":
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            target = op["target"]
            path.symlink_to(outside / target[len("OUTSIDE/") :] if target.startswith("OUTSIDE/") else target)
        else:
            raise ValueError(f"unknown file op {kind!r}")


def _rehash(root: Path, manifest: dict) -> None:
    for rel, meta in manifest["files"].items():
        p = Path(rel) if Path(rel).is_absolute() else root / rel
        if p.is_file():
            data = p.read_bytes()
            meta["bytes"], meta["sha256"] = len(data), hashlib.sha256(data).hexdigest()


def build_case(base: Path, case: dict, work: Path) -> Path:
    """The case's bundle under ``work/NAME`` (with its ``outside`` folder beside it); returns the folder a
    runtime is given (a symlink to it for ``bundle_symlink``)."""
    case_dir = work / case["name"]
    root, outside = case_dir / "bundle", case_dir / "outside"
    shutil.copytree(base, root)
    shutil.copytree(base, outside)
    manifest = json.loads((root / "manifest.json").read_text())
    _edit_files(root, case.get("files", []), outside)
    _edit_manifest(root, manifest, case.get("manifest", []), outside)
    if case.get("rehash", True):
        _rehash(root, manifest)
    # allow_nan: set-number cases must reach the runtimes as the bare NaN / Infinity literals.
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, allow_nan=True))
    if case.get("bundle_symlink"):
        link = case_dir / "link"
        link.symlink_to(root, target_is_directory=True)
        return link
    return root


def build_all(base: Path, work: Path) -> Path:
    """Every case of the corpus under ``work``; returns the index file (``index.json``)."""
    corpus = load_cases()
    entries = []
    for expect in ("refuse", "accept"):
        for case in corpus[expect]:
            folder = build_case(base, case, work)
            error = case.get("error", [])
            entries.append(
                {
                    "name": case["name"],
                    "class": case["class"],
                    "expect": expect,
                    "bundle": str(folder),
                    "error_any": [error] if isinstance(error, str) else list(error),
                }
            )
    index = work / "index.json"
    index.write_text(json.dumps({"format": INDEX_FORMAT, "cases": entries}, indent=1))
    return index


def message_matches(message: str, entry: dict) -> bool:
    """Whether a refusal's message has one of the words the case asks for (case-insensitive)."""
    low = message.lower()
    return any(w.lower() in low for w in entry["error_any"])
