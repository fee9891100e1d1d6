"""``lazydit demo``: the whole path on the embedded model, from checkpoint to images and latency.

Exports three ExecuTorch bundles of the embedded Fashion-MNIST DiT (LazyDiT 20 steps at 50% laziness with the
committed calibrated schedule, which forecasts skipped modules, DDIM 20 steps and DDIM 10 steps, the same
compute as the lazy one), generates one image per class with each on the ExecuTorch runtime, writes them as
one PNG grid and prints the latencies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_DIR = Path("out/demo")


def _bundle(name: str, dit, sched, fp: str, force: bool) -> Path:
    """``out/demo/NAME`` exported with ``sched``, reused while it still matches the model and ``sched`` (the
    committed schedule or model can change under it)."""
    from .export.bundle import ExportOptions, bundle_matches, export_bundle

    out = DEMO_DIR / name
    if not force and bundle_matches(out, fp, sched, ("executorch",)):
        return out
    sd = dit.sampling_defaults
    opts = ExportOptions(
        targets=("executorch",), cfg_scale=sd["cfg_scale"], clip_denoised=sd["clip_denoised"], force=True, name=name
    )
    manifest = export_bundle(dit, sched, out, opts)
    print(
        f"bundle {out}: {len(manifest['variants'])} graph variant(s) for {sched.num_steps} steps, "
        f"laziness {sched.laziness():.2f}"
    )
    return out


def run_demo(repeat: int = 3, force: bool = False) -> None:
    """Export (or reuse) the three demo bundles, write ``out/demo/samples.png`` and print the latencies."""
    from .export.checkpoint import fingerprint, load_dit
    from .export.schedule_source import resolve_schedule
    from .models import CHECKPOINT
    from .runtime.backends import create_backend
    from .runtime.bundle import load_bundle
    from .runtime.images import save_png_grid
    from .runtime.scheduler import Scheduler

    dit = load_dit(CHECKPOINT)
    fp = fingerprint(dit)
    lazy, _ = resolve_schedule("embedded", dit)
    bundles = {
        f"LazyDiT-20 @50% {lazy.reuse}": _bundle("lazydit-20", dit, lazy, fp, force),
        "DDIM-20": _bundle("ddim-20", dit, resolve_schedule("ddim:20", dit)[0], fp, force),
        "DDIM-10": _bundle("ddim-10", dit, resolve_schedule("ddim:10", dit)[0], fp, force),
    }
    rows, times = [], {}
    schedulers = {}
    for label, path in bundles.items():
        b = load_bundle(path)
        schedulers[label] = Scheduler(b, create_backend("executorch", b))
    count = 10
    for sched in schedulers.values():
        sched.run(0, seed=0)  # warm-up: first calls pay for XNNPACK setup
    for label, sched in schedulers.items():
        imgs = [sched.run(c, seed=100 + c).image for c in range(count)]
        rows.append(np.concatenate(imgs))
        times[label] = []
    # Interleaved repetitions so that machine drift affects every configuration alike.
    for _ in range(repeat):
        for label, sched in schedulers.items():
            times[label].append(sched.run(3, seed=7).total_ms)
    grid = DEMO_DIR / "samples.png"
    save_png_grid(np.concatenate(rows), grid, ncol=count)
    base = np.median(times["DDIM-20"])
    print("\nrows of samples.png, top to bottom: " + ", ".join(bundles))
    print(f"{'configuration':>24} | {'median ms/image':>15} | {'vs DDIM-20':>10}")
    for label in bundles:
        med = float(np.median(times[label]))
        print(f"{label:>24} | {med:15.1f} | {base / med:9.2f}x")
    print(f"wrote {grid}")
