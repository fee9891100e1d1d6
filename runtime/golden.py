"""Golden trace of a bundle: what a correct scheduler does, step by step, in any language.

``golden/trace.json`` records, for one run (seed, classes): the initial noise file, and for every step the
variant, the slots read and written, and checksums of the latent after the step. ``golden/noise.bin`` and
``golden/final.bin`` hold the initial and final latents (before a latent model's decoder) as little-endian
float32 in the tensor's C order; for a bundle with a decoder, ``golden/image.bin`` (``image``, ``image_shape``,
``image_checksums``) holds the decoded image the same way.

Checksums (float64 arithmetic over the float32 values, in C order): ``sum``, ``abs_sum``, ``sum_sq`` and the
first 8 values. A scheduler port matches a trace when its plan (variant, reads, writes per step) is identical
and every checksum agrees within ``tolerance`` (relative to max(1, |value|)).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .backends import TappedBackend
from .bundle import Bundle
from .scheduler import Scheduler, initial_noise

GOLDEN_FORMAT = "lazydit-golden/1"


def checksums(x: np.ndarray) -> dict:
    v = np.asarray(x, dtype=np.float32).ravel().astype(np.float64)
    return {
        "sum": float(v.sum()),
        "abs_sum": float(np.abs(v).sum()),
        "sum_sq": float((v * v).sum()),
        "first": [float(a) for a in v[:8]],
    }


def write_golden(
    bundle: Bundle, backend, out_dir: Path, seed: int = 0, classes: list[int] | None = None, tolerance: float = 1e-3
) -> dict:
    """Run the scheduler once and record the trace into ``out_dir`` (``trace.json``, ``noise.bin``, ``final.bin``)."""
    m = bundle.manifest
    classes = classes if classes is not None else [i % m["classes"]["count"] for i in range(m["batch"])]
    noise = initial_noise(bundle, seed)
    steps = []
    tapped = TappedBackend(backend, lambda variant, inputs, outputs: steps.append(checksums(outputs[0])))
    result = Scheduler(bundle, tapped).run(classes, noise=noise)
    out_dir.mkdir(parents=True, exist_ok=True)
    noise.astype("<f4").tofile(out_dir / "noise.bin")
    np.asarray(result.latent, dtype="<f4").tofile(out_dir / "final.bin")
    trace = {
        "format": GOLDEN_FORMAT,
        "backend": backend.name,
        "seed": seed,
        "classes": classes,
        "shape": list(noise.shape),
        "noise": "noise.bin",
        "final": "final.bin",
        "tolerance": tolerance,
        "steps": [
            {
                "index": s["index"],
                "variant": s["variant"],
                "reads": s["reads"],
                "writes": s["writes"],
                "timestep": s["timestep"],
                "latent": c,
            }
            for s, c in zip(m["steps"], steps)
        ],
        "final_checksums": checksums(result.latent),
    }
    if "decoder" in m:
        # The decoded image too, so that every port checks its decode graph, not only the steps.
        np.asarray(result.image, dtype="<f4").tofile(out_dir / "image.bin")
        trace["image"], trace["image_shape"] = "image.bin", list(result.image.shape)
        trace["image_checksums"] = checksums(result.image)
    (out_dir / "trace.json").write_text(json.dumps(trace, indent=1))
    return trace


def compare_to_golden(trace: dict, variants: list[str], latents: list[np.ndarray]) -> list[str]:
    """Differences between a run (variant per step, latent after each step) and a trace; empty when they match."""
    problems = []
    if len(variants) != len(trace["steps"]):
        return [f"{len(variants)} steps run, trace has {len(trace['steps'])}"]
    tol = trace["tolerance"]
    for i, (step, v, x) in enumerate(zip(trace["steps"], variants, latents)):
        if v != step["variant"]:
            problems.append(f"step {i}: variant {v}, trace says {step['variant']}")
        got = checksums(x)
        for key in ("sum", "abs_sum", "sum_sq"):
            ref = step["latent"][key]
            if abs(got[key] - ref) > tol * max(1.0, abs(ref)):
                problems.append(f"step {i}: latent {key} {got[key]:.6g} vs {ref:.6g}")
        for j, (a, b) in enumerate(zip(got["first"], step["latent"]["first"])):
            if abs(a - b) > tol * max(1.0, abs(b)):
                problems.append(f"step {i}: latent[{j}] {a:.6g} vs {b:.6g}")
    return problems
