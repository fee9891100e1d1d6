"""``lazydit demo``: the whole path on the embedded model, from checkpoint to images and latency.

Exports three ExecuTorch bundles of the embedded Fashion-MNIST DiT (LazyDiT 20 steps at 50% laziness with the
committed calibrated schedule, which forecasts skipped modules, DDIM 20 steps and DDIM 10 steps, the same
compute as the lazy one), generates one image per class with each on the ExecuTorch runtime, writes them as
one PNG grid and prints the latencies.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import defaults

DEMO_DIR = Path("out/demo")


def _bundle(name: str, schedule: str, steps: int, force: bool) -> Path:
    from .cli import main as cli_main

    out = DEMO_DIR / name
    if (out / "manifest.json").is_file() and not force:
        # Reused only while it still holds the schedule asked for (the committed one can change).
        def pattern(d: dict) -> tuple:
            return d["skip"], d.get("reuse", "hold")

        saved = json.loads((out / "schedule.json").read_text())
        if not schedule.endswith(".json") or pattern(saved) == pattern(json.loads(Path(schedule).read_text())):
            return out
    args = ["export", "--schedule", schedule, "--steps", str(steps), "--targets", "executorch", "--out", str(out),
            "--force"]
    if cli_main(args) != 0:
        raise SystemExit(2)
    return out


def run_demo(repeat: int = 3, force: bool = False) -> None:
    from .runtime.backends import create_backend
    from .runtime.bundle import load_bundle
    from .export.schedule import load_schedule
    from .runtime.images import save_png_grid
    from .runtime.scheduler import Scheduler

    schedule = defaults.default_schedule(defaults.DEFAULT_STEPS)
    bundles = {
        f"LazyDiT-20 @50% {load_schedule(schedule).reuse}": _bundle("lazydit-20", str(schedule), 20, force),
        "DDIM-20": _bundle("ddim-20", "ddim", 20, force),
        "DDIM-10": _bundle("ddim-10", "ddim", 10, force),
    }
    rows, times = [], {}
    schedulers = {}
    for label, path in bundles.items():
        b = load_bundle(path)
        schedulers[label] = (b, Scheduler(b, create_backend("executorch", b)))
    count = 10
    for label, (b, sched) in schedulers.items():
        sched.run(0, seed=0)  # warm-up: first calls pay for XNNPACK setup
    for label, (b, sched) in schedulers.items():
        imgs = [sched.run(c, seed=100 + c).image for c in range(count)]
        rows.append(np.concatenate(imgs))
        times[label] = []
    # Interleaved repetitions so that machine drift affects every configuration alike.
    for _ in range(repeat):
        for label, (b, sched) in schedulers.items():
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
