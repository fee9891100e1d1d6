"""Static skip schedules: one (depth, 2) skip mask per sampling step, in one JSON file whatever made it.

Sources: ``ddim`` (dense), ``interval:K`` (recompute everything every K steps, FORA-style), ``lazydit``
(calibrated from trained gates, see :mod:`lazydit.export.calibrate`), ``router`` (a learned per-module static
router) and ``manual`` (a hand-written file). Every source writes the same format, so every schedule exports
and benchmarks the same way.

Rules every schedule obeys (checked on load): step 0 computes everything; a module is skipped only when its
cached output is at most ``max_cache_age`` steps old. ``reuse`` says what a skip feeds the block: the cached
output (``hold``, the paper) or its first-order forecast from the last two computed outputs (``forecast``, see
:mod:`lazydit.export.lazy_dit`); files without the field hold.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lazydit.errors import UserError
from lazydit.files import atomic_write

from .diffusion import ddim_timesteps
from .macs import forward_macs
from .model import DiTConfig
from .names import REUSE_MODES

SCHEDULE_FORMAT = "lazydit-schedule/1"


@dataclass(frozen=True)
class Schedule:
    """A static skip schedule. Immutable: derive a changed one with :func:`dataclasses.replace`."""

    num_steps: int
    depth: int
    skip: tuple[tuple[tuple[bool, bool], ...], ...]  # [step][block][module: 0 attn, 1 mlp]; True = reuse the cache
    source: str = "manual"
    max_cache_age: int = 1
    cfg_scale: float | None = None
    details: dict = field(default_factory=dict)
    reuse: str = "hold"

    def __post_init__(self) -> None:
        # Any nested sequence (lists, numpy's tolist()) is stored as tuples of bools, so no caller can change it.
        try:
            skip = tuple(tuple(tuple(m) for m in step) for step in self.skip)
        except TypeError:
            skip = None
        # Only true booleans (numpy's too): bool(NaN) and bool(2) are True, which would skip silently.
        if skip is None or not all(isinstance(v, (bool, np.bool_)) for step in skip for m in step for v in m):
            raise UserError("schedule skip masks must be nested lists [step][block][attn, mlp] of true/false")
        skip = tuple(tuple(tuple(bool(v) for v in m) for m in step) for step in skip)
        object.__setattr__(self, "skip", skip)

    @property
    def timesteps(self) -> list[int]:
        return ddim_timesteps(self.num_steps)

    def laziness_per_step(self) -> list[float]:
        return [sum(sum(m) for m in step) / (2 * self.depth) for step in self.skip]

    def laziness(self) -> float:
        per = self.laziness_per_step()
        return sum(per) / len(per)

    def num_skipped(self) -> int:
        return sum(sum(sum(m) for m in step) for step in self.skip)

    def validate(self, path: Path | str = "schedule") -> None:
        """Raise a one-line UserError if the schedule breaks a rule."""
        if self.reuse not in REUSE_MODES:
            raise UserError(f'{path}: unknown reuse {self.reuse!r}; write "hold" or "forecast"')
        if len(self.skip) != self.num_steps:
            raise UserError(f"{path}: {len(self.skip)} step masks for {self.num_steps} steps")
        for i, step in enumerate(self.skip):
            if len(step) != self.depth or any(len(m) != 2 for m in step):
                raise UserError(f"{path}: step {i} mask must be {self.depth} blocks x [attn, mlp]")
        if any(any(m) for m in self.skip[0]):
            raise UserError(f"{path}: step 0 must compute every module (nothing is cached yet)")
        for b in range(self.depth):
            for m in range(2):
                age = 0
                for i in range(self.num_steps):
                    if self.skip[i][b][m]:
                        age += 1
                        if age > self.max_cache_age:
                            raise UserError(
                                f"{path}: block {b} {('attn', 'mlp')[m]} at step {i} would reuse a cache {age} steps "
                                f"old (max-cache-age {self.max_cache_age})"
                            )
                    else:
                        age = 0

    def check_model(self, config: DiTConfig, path: Path | str = "schedule") -> None:
        if self.depth != config.depth:
            raise UserError(
                f"{path}: schedule is for depth {self.depth}, the model has depth {config.depth}; "
                "make a schedule for this model with `lazydit calibrate`"
            )

    def macs_per_image(self, config: DiTConfig, cfg_scale: float) -> dict:
        fm = forward_macs(config)
        per_step = [fm.step(step, cfg_scale) for step in self.skip]
        dense = fm.step([[False, False]] * self.depth, cfg_scale) * self.num_steps
        return {
            "per_image": sum(per_step),
            "dense_per_image": dense,
            "ratio": sum(per_step) / dense,
            "per_step": per_step,
        }

    def to_json(self, config: DiTConfig | None = None, cfg_scale: float | None = None) -> dict:
        d = {
            "format": SCHEDULE_FORMAT,
            "source": self.source,
            "num_steps": self.num_steps,
            "timesteps": self.timesteps,
            "depth": self.depth,
            "max_cache_age": self.max_cache_age,
            "reuse": self.reuse,
            "laziness": round(self.laziness(), 6),
            "laziness_per_step": [round(v, 6) for v in self.laziness_per_step()],
            "skip": [[[bool(v) for v in m] for m in step] for step in self.skip],
        }
        cfg_scale = cfg_scale if cfg_scale is not None else self.cfg_scale
        if cfg_scale is not None:
            d["cfg_scale"] = cfg_scale
        if config is not None:
            d["macs"] = self.macs_per_image(config, cfg_scale if cfg_scale is not None else 1.5)
        if self.details:
            d["details"] = self.details
        return d

    def save(self, path: Path, config: DiTConfig | None = None, cfg_scale: float | None = None) -> None:
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(self.to_json(config, cfg_scale), indent=1))


def load_schedule(path: Path) -> Schedule:
    if not path.is_file():
        raise UserError(f"schedule file not found: {path}; make one with `lazydit calibrate`")
    try:
        d = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict) or d.get("format") != SCHEDULE_FORMAT:
        raise UserError(f'{path}: not a schedule file (expected "format": "{SCHEDULE_FORMAT}")')
    try:
        s = Schedule(
            num_steps=int(d["num_steps"]),
            depth=int(d["depth"]),
            skip=d["skip"],
            source=str(d.get("source", "manual")),
            max_cache_age=int(d.get("max_cache_age", 1)),
            cfg_scale=d.get("cfg_scale"),
            details=d.get("details", {}),
            reuse=str(d.get("reuse", "hold")),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise UserError(f"{path}: schedule is missing or has a bad field ({e})") from None
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    try:
        ddim_timesteps(s.num_steps)
    except ValueError as e:
        raise UserError(f"{path}: {e}") from None
    if s.cfg_scale is not None and not (isinstance(s.cfg_scale, (int, float)) and math.isfinite(s.cfg_scale)):
        raise UserError(f"{path}: cfg_scale {s.cfg_scale!r} is not a finite number; calibrate the schedule again")
    if s.max_cache_age < 1:
        raise UserError(f"{path}: max_cache_age must be at least 1, got {s.max_cache_age}")
    s.validate(path)
    return s


def dense_schedule(num_steps: int, depth: int) -> Schedule:
    return Schedule(num_steps, depth, [[[False, False] for _ in range(depth)] for _ in range(num_steps)], "ddim")


def interval_schedule(num_steps: int, depth: int, every: int) -> Schedule:
    """Recompute every ``every`` steps and reuse all module outputs in between (FORA-style)."""
    if every < 1:
        raise UserError(f"interval must be at least 1, got {every}")
    skip = [[[i % every != 0] * 2 for _ in range(depth)] for i in range(num_steps)]
    return Schedule(num_steps, depth, skip, f"interval:{every}", max_cache_age=max(1, every - 1))
