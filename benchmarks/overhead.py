"""``lazydit bench overhead``: what the Python step scheduler adds over calling the graphs directly.

Per step, the scheduler picks the variant, gathers its inputs (latent, timestep, labels, coefficients, the
cache slots it reads) and copies the slots it writes. The baseline calls the same backend method with inputs
prepared in advance. Both run interleaved (A B A B ...) in one process so machine drift cancels; the result is
the ratio of median per-step times.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def measure_overhead(
    bundle_dir: Path, backend_name: str = "executorch", repeat: int = 20, warmup: int = 3, threads: int | None = None
) -> dict:
    from lazydit.runtime.backends import TappedBackend, create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler, initial_noise

    bundle = load_bundle(bundle_dir)
    backend = create_backend(backend_name, bundle, threads=threads)
    sched = Scheduler(bundle, backend)
    m = bundle.manifest
    # Baseline inputs: a recorded trajectory's real inputs for every step, prepared before timing.
    prepared = []
    tapped = TappedBackend(
        backend, lambda variant, inputs, outputs: prepared.append((variant, [np.array(a, copy=True) for a in inputs]))
    )
    Scheduler(bundle, tapped).run(0, noise=initial_noise(bundle, 0))
    sched_ms, direct_ms = [], []
    for i in range(warmup + repeat):
        r = sched.run(0, seed=i)
        # Both sides are timed over a whole trajectory, loop included: the scheduler's time spans input
        # gathering, the graph calls and the slot copies; the baseline only calls the graphs.
        t0 = time.perf_counter()
        for variant, inputs in prepared:
            backend.run(variant, inputs)
        direct_total = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            sched_ms.append(r.total_ms / len(r.step_ms))
            direct_ms.append(direct_total / len(prepared))
    result = {
        "bundle": bundle_dir.name,
        "backend": backend_name,
        "steps": len(m["steps"]),
        "repeat": repeat,
        "scheduler_step_ms_median": float(np.median(sched_ms)),
        "direct_step_ms_median": float(np.median(direct_ms)),
    }
    result["overhead_ratio"] = result["scheduler_step_ms_median"] / result["direct_step_ms_median"]
    return result


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
