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


def _bundle(out: Path, dit, sched, fp: str, force: bool, vae: Path | None = None) -> Path:
    """The bundle at ``out`` exported with ``sched``, reused while it still matches the model and ``sched`` (the
    committed schedule or model can change under it)."""
    from .export.bundle import ExportOptions, bundle_matches, export_bundle

    if not force and bundle_matches(out, fp, sched, ("executorch",)):
        return out
    sd = dit.sampling_defaults
    opts = ExportOptions(
        targets=("executorch",),
        cfg_scale=sd["cfg_scale"],
        clip_denoised=sd["clip_denoised"],
        force=True,
        name=out.name,
        vae=vae,
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
        f"LazyDiT-20 @50% {lazy.reuse}": _bundle(DEMO_DIR / "lazydit-20", dit, lazy, fp, force),
        "DDIM-20": _bundle(DEMO_DIR / "ddim-20", dit, resolve_schedule("ddim:20", dit)[0], fp, force),
        "DDIM-10": _bundle(DEMO_DIR / "ddim-10", dit, resolve_schedule("ddim:10", dit)[0], fp, force),
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


def run_latent_demo(out_dir: Path = DEMO_DIR / "latent", model: str = "DiT-S/2", force: bool = False) -> Path:
    """``lazydit demo --latent``: the latent path end to end on ExecuTorch, as DiT-XL/2-256 takes it.

    A latent DiT of architecture ``model`` on 8x8x4 latents and an AutoencoderKL with the Stable Diffusion VAE's
    layout (four blocks, 8x upsampling, narrower), both with random weights (no weights are downloaded), export
    as one bundle with a ``decode`` graph; the scheduler runs 10 forecasting steps at 50% laziness and the
    decoder, one image per class, and the grid goes to ``out_dir/samples.png``. The images are noise: this shows
    that the path runs and what it costs, not a trained model.
    """
    import torch

    from .export.checkpoint import fingerprint
    from .export.model import DiT, config_from_name, randomize_weights
    from .export.schedule_source import resolve_schedule
    from .export.vae import random_vae
    from .runtime.backends import create_backend
    from .runtime.bundle import load_bundle
    from .runtime.images import save_png_grid
    from .runtime.scheduler import Scheduler

    vae_dir = random_vae(out_dir / "vae", "sd-vae-narrow", force=force)
    torch.manual_seed(0)
    dit = DiT(config_from_name(model, input_size=8, in_channels=4, num_classes=10, learn_sigma=True)).eval()
    dit = randomize_weights(dit, 0.02).requires_grad_(False)
    sched, _ = resolve_schedule("interval:10:2@forecast", dit)
    bundle = load_bundle(_bundle(out_dir / "bundle", dit, sched, fingerprint(dit), force, vae=vae_dir))
    runner = Scheduler(bundle, create_backend("executorch", bundle))
    runner.run(0, seed=0)  # warm-up
    runs = [runner.run(c, seed=100 + c) for c in range(10)]
    grid = out_dir / "samples.png"
    save_png_grid(np.concatenate([r.image for r in runs]), grid, ncol=10)
    steps = float(np.median([sum(r.step_ms) for r in runs]))
    decode = float(np.median([r.decode_ms for r in runs]))
    print(
        f"{model} latent bundle {out_dir / 'bundle'}: {bundle.num_steps} steps "
        f"{np.median([r.total_ms for r in runs]):.1f} ms per image ({steps:.1f} ms of steps, {decode:.1f} ms of "
        f"decoding), images {runs[0].image.shape[2]}x{runs[0].image.shape[3]}"
    )
    print(f"wrote {grid}")
    return grid
