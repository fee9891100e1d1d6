#!/usr/bin/env python3
"""Record the test fixtures of the Swift package from a real bundle, with the Python runtime.

Two kinds of fixture, both small enough to commit (the whole Fixtures folder stays under 1 MiB):

* ``--mode steps`` (default): the bundle's ``manifest.json`` and ``golden/*``, plus ``steps/``: for every step of
  one scheduler run (the golden run: its noise and classes), every input the graph received and every output it
  returned, as little-endian raw files, indexed by ``steps/steps.json``. The graphs themselves are left out: the
  Swift test replays these recorded outputs in place of Core ML, so its scheduler is checked against real data.
  A bundle with a decoder also gets ``steps.json``'s ``decode`` entry: the decode graph's input (the last step's
  latent) and output (the image), and ``golden/image.bin``, the decoded image of the golden run.
* ``--mode complete``: a verbatim copy of a whole (small) bundle, every file its manifest lists, for the
  manifest checksum tests and the Core ML smoke test on a Mac.

The run must agree with the bundle's golden trace (``lazydit.runtime.golden.compare_to_golden``) or nothing is
written. Exports nothing: make the bundle first with ``lazydit export``. Needs no torch with
``--backend onnxruntime``; the executorch backend's Python bindings do import torch.

    python ios_demo/Scripts/make_fixtures.py BUNDLE_DIR --name tiny
    python ios_demo/Scripts/make_fixtures.py CORE_ML_ONLY_BUNDLE_DIR --name tiny-coreml --mode complete
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from lazydit.errors import UserError
from lazydit.runtime.backends import create_backend
from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.golden import GOLDEN_FORMAT, checksums, compare_to_golden
from lazydit.runtime.scheduler import Scheduler

STEPS_FORMAT = "lazydit-steps/1"
FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "LazyDiTCoreTests" / "Fixtures"
FIXTURES_BUDGET = 1 << 20  # committed fixtures, all of them together
GOLDEN_FILES = ("trace.json", "noise.bin", "final.bin")
GOLDEN_IMAGE = "image.bin"  # golden trace of a bundle with a decoder


class RecordingBackend:
    """Passes every call through to a real backend and keeps copies of what went in and came out."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.calls: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []
        self.decode: tuple[np.ndarray, np.ndarray] | None = None

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        # Copies now: the scheduler overwrites its slot buffers in place at later steps.
        kept_inputs = [np.array(a, copy=True) for a in inputs]
        outs = self.inner.run(variant, inputs)
        self.calls.append((variant, kept_inputs, [np.array(o, copy=True) for o in outs]))
        return outs

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        # The inner backends run their decode graph through their own ``run``, which ``run`` above never sees.
        kept = np.array(latent, copy=True)
        image = self.inner.run_decoder(latent)
        self.decode = (kept, np.array(image, copy=True))
        return image


def _raw(a: np.ndarray) -> bytes:
    """Little-endian C-order bytes of ``a`` in its own dtype (float32, float16 or int32)."""
    if a.dtype.name not in ("float32", "float16", "int32"):
        raise UserError(f"a graph tensor has dtype {a.dtype.name}; the fixtures hold float32, float16 and int32 only")
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()


def _entry(name: str, file: str, a: np.ndarray) -> dict:
    return {"name": name, "file": file, "dtype": a.dtype.name, "shape": list(a.shape)}


def record_steps(bundle_dir: Path, out: Path, backend_name: str | None) -> dict:
    """Run the golden run once on a real backend, check it against the trace, and write the step fixture."""
    bundle = load_bundle(bundle_dir)
    golden = bundle_dir / "golden"
    missing = [f for f in GOLDEN_FILES if not (golden / f).is_file()]
    if missing:
        raise UserError(
            f"{golden / missing[0]}: missing; export the bundle with a target that runs here "
            "(executorch or onnx) so that `lazydit export` writes its golden trace"
        )
    trace = json.loads((golden / "trace.json").read_text())
    if trace.get("format") != GOLDEN_FORMAT:
        raise UserError(f"{golden / 'trace.json'}: format {trace.get('format')!r}, expected {GOLDEN_FORMAT}")
    shape, dtype = bundle.tensor_spec("x")
    noise = np.fromfile(golden / trace["noise"], dtype="<f4").reshape(shape).astype(dtype)
    backend = RecordingBackend(create_backend(backend_name or trace["backend"], bundle))
    result = Scheduler(bundle, backend).run(trace["classes"], noise=noise)
    latents = [outs[0] for _, _, outs in backend.calls]
    problems = compare_to_golden(trace, result.variants, latents)
    decoder = bundle.manifest.get("decoder")
    golden_files = list(GOLDEN_FILES)
    if decoder is not None:
        problems += _image_problems(trace, result.image, golden)
        golden_files.append(trace["image"])
    if problems:
        raise UserError(
            f"{golden / 'trace.json'}: the {backend.name} run disagrees with the golden trace "
            f"({problems[0]}); re-export the bundle or pick the trace's backend ({trace['backend']})"
        )

    if out.exists():
        shutil.rmtree(out)
    (out / "golden").mkdir(parents=True)
    (out / "steps").mkdir()
    shutil.copyfile(bundle_dir / "manifest.json", out / "manifest.json")
    for f in golden_files:
        shutil.copyfile(golden / f, out / "golden" / f)
    variants = bundle.variants
    steps = []
    for i, (name, inputs, outputs) in enumerate(backend.calls):
        v = variants[name]
        ins, outs = [], []
        for role, names, arrays, rows in (("in", v["inputs"], inputs, ins), ("out", v["outputs"], outputs, outs)):
            for tensor_name, a in zip(names, arrays):
                file = f"{i:03d}_{role}_{tensor_name}.bin"
                (out / "steps" / file).write_bytes(_raw(a))
                rows.append(_entry(tensor_name, file, a))
        steps.append({"index": i, "variant": name, "inputs": ins, "outputs": outs})
    index = {
        "format": STEPS_FORMAT,
        "bundle": bundle.manifest.get("name", bundle_dir.name),
        "backend": backend.name,
        "seed": trace["seed"],
        "classes": trace["classes"],
        "noise": "../golden/" + trace["noise"],
        "steps": steps,
    }
    if decoder is not None:
        latent, image = backend.decode
        files = {"in": f"decode_in_{decoder['inputs'][0]}.bin", "out": f"decode_out_{decoder['outputs'][0]}.bin"}
        (out / "steps" / files["in"]).write_bytes(_raw(latent))
        (out / "steps" / files["out"]).write_bytes(_raw(image))
        index["decode"] = {
            "graph": decoder["name"],
            "inputs": [_entry(decoder["inputs"][0], files["in"], latent)],
            "outputs": [_entry(decoder["outputs"][0], files["out"], image)],
        }
    (out / "steps" / "steps.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def _image_problems(trace: dict, image: np.ndarray, golden: Path) -> list[str]:
    """Differences between a run's decoded image and the trace's (checksums and image.bin)."""
    if "image_checksums" not in trace:
        return ["the bundle has a decoder but its trace records no image; re-export it"]
    if list(image.shape) != trace["image_shape"]:
        return [f"image shape {list(image.shape)}, trace says {trace['image_shape']}"]
    tol = trace["tolerance"]
    got, ref = checksums(image), trace["image_checksums"]
    problems = [
        f"image {key} {got[key]:.6g} vs {ref[key]:.6g}"
        for key in ("sum", "abs_sum", "sum_sq")
        if abs(got[key] - ref[key]) > tol * max(1.0, abs(ref[key]))
    ]
    stored = np.fromfile(golden / trace["image"], dtype="<f4").reshape(image.shape)
    worst = float(np.max(np.abs(stored - image)))
    if worst > tol:
        problems.append(f"image differs from {trace['image']} by up to {worst:.3g}")
    return problems


def copy_complete(bundle_dir: Path, out: Path) -> None:
    """Copy every file of a bundle (manifest, listed files, golden trace when present) and re-validate the copy."""
    bundle = load_bundle(bundle_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rels = ["manifest.json", *bundle.manifest["files"]]
    rels += [f"golden/{f}" for f in (*GOLDEN_FILES, GOLDEN_IMAGE) if (bundle_dir / "golden" / f).is_file()]
    for rel in rels:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle_dir / rel, out / rel)
    load_bundle(out)


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", type=Path, help="bundle folder written by `lazydit export`")
    p.add_argument("--name", required=True, help="fixture folder name under Tests/LazyDiTCoreTests/Fixtures")
    p.add_argument("--mode", choices=("steps", "complete"), default="steps")
    p.add_argument(
        "--backend",
        choices=("executorch", "onnxruntime"),
        help="backend that runs the graphs (default: the golden trace's own)",
    )
    p.add_argument("--fixtures", type=Path, default=FIXTURES, help="fixtures root (default: the test target's)")
    args = p.parse_args(argv)
    if not args.name or "/" in args.name or args.name.startswith("."):
        p.error(f"--name {args.name!r} must be a plain folder name")
    out = args.fixtures / args.name
    try:
        if args.mode == "steps":
            index = record_steps(args.bundle, out, args.backend)
            print(f"{out}: {len(index['steps'])} steps recorded on {index['backend']}, {folder_bytes(out)} bytes")
        else:
            copy_complete(args.bundle, out)
            print(f"{out}: complete bundle copied, {folder_bytes(out)} bytes")
        total = folder_bytes(args.fixtures)
        if total > FIXTURES_BUDGET:
            raise UserError(
                f"{args.fixtures}: fixtures total {total} bytes, over the {FIXTURES_BUDGET}-byte budget; "
                "record a smaller bundle (the tiny DiT of the README)"
            )
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
