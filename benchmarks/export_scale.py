"""``lazydit bench export-scale``: export the DiT-XL/2-256 architecture (random weights when no checkpoint is
given) with a 20-step 50%-lazy schedule to ExecuTorch, recording wall time, peak memory and bundle size."""

from __future__ import annotations

import json
import platform
import resource
import time
from pathlib import Path


def run_export_scale(
    out_dir: Path,
    model_name: str = "DiT-XL/2",
    steps: int = 20,
    checkpoint: Path | None = None,
    verify: bool = False,
    schedule: str = "interval:2",
) -> dict:
    import torch

    from ..export.bundle import ExportOptions, export_bundle
    from ..export.checkpoint import load_dit
    from ..export.lower import dir_size
    from ..export.model import DiT, config_from_name, count_parameters, randomize_weights
    from ..export.schedule_source import resolve_schedule

    t0 = time.time()
    if checkpoint is not None:
        dit = load_dit(checkpoint)
    else:
        torch.manual_seed(0)
        dit = DiT(config_from_name(model_name)).eval()
        randomize_weights(dit, 0.02).requires_grad_(False)
    build_s = time.time() - t0
    sched, _ = resolve_schedule(schedule, dit, steps=steps)
    opts = ExportOptions(
        targets=("executorch",), cfg_scale=1.5, clip_denoised=False, force=True, verify=verify, name="xl-scale"
    )
    t1 = time.time()
    manifest = export_bundle(dit, sched, out_dir, opts, progress=True)
    export_s = time.time() - t1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "model": model_name if checkpoint is None else str(checkpoint.name),
        "parameters": count_parameters(dit),
        "weights": "random" if checkpoint is None else "checkpoint",
        "steps": steps,
        "laziness": sched.laziness(),
        "variants": len(manifest["variants"]),
        "build_seconds": round(build_s, 1),
        "export_seconds": round(export_s, 1),
        "peak_rss_gib": round(peak_kb / 2**20, 2),
        "pte_bytes": dir_size(out_dir / "executorch"),
        "fp32_weight_bytes": 4 * count_parameters(dit),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "delegation": manifest["targets"]["executorch"]["delegation"],
    }
    (out_dir.parent / f"{out_dir.name}.json").write_text(json.dumps(result, indent=1))
    return result
