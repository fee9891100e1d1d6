"""The step scheduler: for each step pick the step's graph, feed it the latent, timestep, labels, coefficients,
(forecasting) the step's ratios and the cache slots it reads, keep the slots it writes. It only moves tensors;
all math is in the graphs.

Slots start as zeros, and the ones a step reads before any step wrote them (a forecasting full step's old
outputs, whose first delta the next skip multiplies by r = 0) are zeros again at the start of every run, so
every run feeds the graphs what the golden run fed them.
A backend whose outputs are new arrays on every call (``fresh_outputs``) hands them over as the written slots;
for any other backend they are copied into buffers allocated once per scheduler.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lazydit.errors import UserError

from .bundle import Bundle


@dataclass
class RunResult:
    image: np.ndarray  # (B, C, H, W) in the bundle's value range (decoded for a latent model)
    step_ms: list[float]
    variants: list[str]
    total_ms: float
    per_variant_ms: dict[str, list[float]] = field(default_factory=dict)
    latent: np.ndarray | None = None  # the last step's output (equals ``image`` for a pixel model)
    decode_ms: float = 0.0


def _read_before_written(steps: list[dict]) -> list[str]:
    written: set[str] = set()
    first: list[str] = []
    for step in steps:
        first += [r for r in step["reads"] if r not in written and r not in first]
        written.update(step["writes"])
    return first


def initial_noise(bundle: Bundle, seed: int) -> np.ndarray:
    """Gaussian noise of the latent's shape from numpy's PCG64 generator (the same on every backend)."""
    shape, dtype = bundle.tensor_spec("x")
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32).astype(dtype)


class Scheduler:
    def __init__(self, bundle: Bundle, backend):
        self.bundle = bundle
        self.backend = backend
        m = bundle.manifest
        self.steps = m["steps"]
        self.variants = bundle.variants
        cache_shape, cache_dtype = bundle.tensor_spec("cache")
        self.slots = {s: np.zeros(cache_shape, dtype=cache_dtype) for s in m["slots"]}
        _, coef_dtype = bundle.tensor_spec("coef")
        self.t = [np.array([s["timestep"]], dtype=np.float32) for s in self.steps]
        self.coef = [np.array(s["coef"], dtype=coef_dtype) for s in self.steps]
        # Schema 2 forecasting steps: the ratio input ahead of the slots (schema 1 graphs bake it in).
        self.ratio = [[np.array(s["ratio"], dtype=coef_dtype)] if "ratio" in s else [] for s in self.steps]
        self.take_outputs = bool(getattr(backend, "fresh_outputs", False))
        self.zeros = np.zeros(cache_shape, dtype=cache_dtype)  # only ever read: taken outputs replace it
        self.zero_at_start = _read_before_written(self.steps)
        self.x_shape, self.x_dtype = bundle.tensor_spec("x")

    def labels(self, classes: list[int] | int) -> np.ndarray:
        m = self.bundle.manifest
        b = m["batch"]
        classes = [classes] * b if isinstance(classes, int) else list(classes)
        if len(classes) != b:
            raise UserError(f"this bundle generates {b} image(s) per run; got {len(classes)} class labels")
        for c in classes:
            if not 0 <= c < m["classes"]["count"]:
                raise UserError(f"class {c} out of range 0..{m['classes']['count'] - 1}")
        return np.array(classes, dtype=np.int32)

    def run(self, classes: list[int] | int, seed: int = 0, noise: np.ndarray | None = None, on_step=None) -> RunResult:
        """Generate one batch. ``on_step(index, variant, ms)`` is called after every step."""
        y = self.labels(classes)
        x = initial_noise(self.bundle, seed) if noise is None else np.ascontiguousarray(noise, dtype=self.x_dtype)
        if x.shape != self.x_shape:
            raise UserError(f"noise has shape {x.shape}, the bundle needs {self.x_shape}")
        for slot in self.zero_at_start:
            if self.take_outputs:
                self.slots[slot] = self.zeros
            else:
                self.slots[slot].fill(0)
        step_ms, names = [], []
        per_variant: dict[str, list[float]] = {}
        t_all = time.perf_counter()
        for i, step in enumerate(self.steps):
            v = self.variants[step["variant"]]
            inputs = [x, self.t[i], y, self.coef[i], *self.ratio[i], *(self.slots[s] for s in v["reads"])]
            t0 = time.perf_counter()
            outs = self.backend.run(v["name"], inputs)
            ms = (time.perf_counter() - t0) * 1000
            x = outs[0]
            for slot, arr in zip(v["writes"], outs[1:]):
                if self.take_outputs:
                    self.slots[slot] = arr
                else:
                    np.copyto(self.slots[slot], arr)
            step_ms.append(ms)
            names.append(v["name"])
            per_variant.setdefault(v["name"], []).append(ms)
            if on_step is not None:
                on_step(i, v["name"], ms)
        latent = np.asarray(x)
        image, decode_ms = latent, 0.0
        if "decoder" in self.bundle.manifest:
            t0 = time.perf_counter()
            image = np.asarray(self.backend.run_decoder(latent))
            decode_ms = (time.perf_counter() - t0) * 1000
        total = (time.perf_counter() - t_all) * 1000
        return RunResult(image, step_ms, names, total, per_variant, latent, decode_ms)
