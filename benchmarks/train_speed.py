"""``lazydit bench train-speed``: seconds per training step of a ``train-dit`` preset on this machine, and the
preset's projected training time. Two runs (5 and 25 steps) without checkpoints; their difference cancels the
set-up (data loading, model building)."""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path


def measure_train_speed(preset: str, device: str = "cpu", steps: int = 20) -> dict:
    from ..export import train_dit as td

    cfg = td.PRESETS[preset]
    short, long = copy.deepcopy(cfg), copy.deepcopy(cfg)
    short.steps, long.steps = 5, 5 + steps
    short.checkpoint_every = long.checkpoint_every = 10**9
    original = td._checkpoint
    td._checkpoint = lambda *a, **k: None  # no checkpoint or sample grid inside the timed runs
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            td.train_dit(short, Path(tmp) / "a", device=device, resume=False, progress=False)
            t1 = time.time()
            td.train_dit(long, Path(tmp) / "b", device=device, resume=False, progress=False)
            t2 = time.time()
    finally:
        td._checkpoint = original
    per_step = ((t2 - t1) - (t1 - t0)) / steps
    return {
        "preset": preset,
        "device": device,
        "batch_size": cfg.batch_size,
        "seconds_per_step": per_step,
        "preset_steps": cfg.steps,
        "projected_minutes": per_step * cfg.steps / 60,
    }
