"""Calibration: from trained (per-sample) lazy gates to one static skip schedule that a static graph can bake in.

1. Run the gates over a calibration set (every class x several seeds, with CFG as it will be used) along the
   dense trajectory and average every (step, block, module) keep score over samples and both CFG halves
   (the halves share one decision in a static graph).
2. Build candidate schedules that meet the target laziness exactly and obey the rules (step 0 computes
   everything, no cache older than ``max_cache_age``): the gates' ranking filled greedily, the same ranking
   weighted by each step's measured end-to-end sensitivity, and the interval patterns trimmed or padded by the
   gates' ranking.
3. Score every candidate end to end: sample held-out seeds with it and measure the final images against the
   dense trajectory's (PSNR). Keep the best, then improve it by swap moves guided by the gate scores, accepting a
   swap only when the end-to-end error drops.

A per-module similarity proxy is never the criterion: on small DiTs a greedy "skip what changed least" static
schedule lost to plain fewer-step sampling, so every decision here is checked on final images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from lazydit.errors import UserError

from .lazy_dit import LazyDiT
from .sampling import ddim_sample, initial_noise
from .schedule import Schedule, interval_schedule


@dataclass
class CalibrationConfig:
    num_steps: int
    laziness: float = 0.5
    max_cache_age: int = 1
    cfg_scale: float = 1.5
    clip_denoised: bool = False
    guidance_rule: str | None = None  # None: the model's (lazydit.export.diffusion.guidance_rule_of)
    seeds_per_class: int = 4
    heldout_per_class: int = 2
    search_evaluations: int = 40
    seed: int = 0


@torch.no_grad()
def gate_keep_scores(lazy: LazyDiT, cfg: CalibrationConfig, progress: bool = True) -> np.ndarray:
    """Mean keep score per (step, block, module) along dense trajectories, shape (steps, depth, 2)."""
    c = lazy.config
    labels = torch.arange(c.num_classes).repeat(cfg.seeds_per_class)
    noise = initial_noise(len(labels), c, [10_000 + cfg.seed * 1000 + i for i in range(len(labels))])
    total = np.zeros((cfg.num_steps, c.depth, 2))
    chunk = 64
    for lo in tqdm(range(0, len(labels), chunk), desc="gate scores", leave=False, disable=not progress):
        run = ddim_sample(
            lazy,
            labels[lo : lo + chunk],
            noise[lo : lo + chunk],
            cfg.num_steps,
            cfg.cfg_scale,
            mode="dense",
            clip_denoised=cfg.clip_denoised,
            record_gates=True,
            guidance_rule=cfg.guidance_rule,
        )
        for i, scores in enumerate(run.state.keep_scores):
            total[i] += scores.double().sum(0).numpy()
    return total / (len(labels) * (1 if cfg.cfg_scale == 1.0 else 2))


def _feasible(skip: np.ndarray, i: int, b: int, m: int, max_age: int) -> bool:
    """Whether also skipping (i, b, m) keeps every cache at most ``max_age`` steps old."""
    if i == 0 or skip[i, b, m]:
        return False
    run = 1
    j = i - 1
    while j >= 1 and skip[j, b, m]:
        run += 1
        j -= 1
    j = i + 1
    while j < skip.shape[0] and skip[j, b, m]:
        run += 1
        j += 1
    return run <= max_age


def max_skips(num_steps: int, depth: int, max_age: int) -> int:
    """Most modules a schedule can skip: per module, max_age skips after every compute (step 0 computes)."""
    per_module = (num_steps - 1) - (num_steps - 1) // (max_age + 1)
    return per_module * depth * 2


def greedy_schedule(priority: np.ndarray, target: int, max_age: int, start: np.ndarray | None = None) -> np.ndarray:
    """Skip the lowest-priority feasible entries until ``target`` are skipped."""
    skip = np.zeros(priority.shape, dtype=bool) if start is None else start.copy()
    order = np.argsort(priority, axis=None, kind="stable")
    for flat in order:
        if skip.sum() >= target:
            break
        i, b, m = np.unravel_index(flat, priority.shape)
        if _feasible(skip, i, b, m, max_age):
            skip[i, b, m] = True
    return skip


def trim_schedule(skip: np.ndarray, priority: np.ndarray, target: int) -> np.ndarray:
    """Un-skip the highest-priority skipped entries until only ``target`` remain (always feasible)."""
    skip = skip.copy()
    order = np.argsort(-priority, axis=None, kind="stable")
    for flat in order:
        if skip.sum() <= target:
            break
        idx = np.unravel_index(flat, priority.shape)
        if skip[idx]:
            skip[idx] = False
    return skip


class EndToEnd:
    """Final-image error of a schedule against the dense trajectory on held-out seeds (cached per mask)."""

    def __init__(self, lazy: LazyDiT, cfg: CalibrationConfig):
        c = lazy.config
        self.lazy, self.cfg = lazy, cfg
        self.labels = torch.arange(c.num_classes).repeat(cfg.heldout_per_class)
        self.noise = initial_noise(len(self.labels), c, [90_000 + cfg.seed * 1000 + i for i in range(len(self.labels))])
        self.reference = self._sample(None)
        self.cache: dict[bytes, float] = {}

    def _sample(self, skip: np.ndarray | None) -> torch.Tensor:
        mode = "dense" if skip is None else "static"
        masks = None if skip is None else torch.from_numpy(skip)
        return ddim_sample(
            self.lazy,
            self.labels,
            self.noise,
            self.cfg.num_steps,
            self.cfg.cfg_scale,
            mode=mode,
            skip_masks=masks,
            clip_denoised=self.cfg.clip_denoised,
            guidance_rule=self.cfg.guidance_rule,
        ).images

    def psnr(self, skip: np.ndarray) -> float:
        key = np.packbits(skip).tobytes()
        if key not in self.cache:
            x = self._sample(skip)
            mse = float(((x - self.reference) ** 2).mean())
            self.cache[key] = 10 * math.log10(4.0 / max(mse, 1e-12))  # images span [-1, 1]
        return self.cache[key]


def step_sensitivity(e2e: EndToEnd, num_steps: int, depth: int, progress: bool = True) -> np.ndarray:
    """End-to-end error (in dB lost) of skipping every module at one step alone, for each step."""
    out = np.zeros(num_steps)
    for i in tqdm(range(1, num_steps), desc="step sensitivity", leave=False, disable=not progress):
        skip = np.zeros((num_steps, depth, 2), dtype=bool)
        skip[i] = True
        out[i] = 100.0 - min(100.0, e2e.psnr(skip))
    out[0] = out.max()
    return out


def calibrate(lazy: LazyDiT, cfg: CalibrationConfig, progress: bool = True) -> tuple[Schedule, dict]:
    """The best static schedule found for the target laziness, and a report of how it was chosen."""
    c = lazy.config
    S, D = cfg.num_steps, c.depth
    if not 0.0 <= cfg.laziness < 1.0:
        raise UserError(f"--laziness must be in [0, 1), got {cfg.laziness}")
    target = int(round(cfg.laziness * S * D * 2))
    cap = max_skips(S, D, cfg.max_cache_age)
    if target > cap:
        raise UserError(
            f"--laziness {cfg.laziness} needs {target} skips but --max-cache-age {cfg.max_cache_age} allows at most "
            f"{cap} ({cap / (S * D * 2):.0%}); raise --max-cache-age or lower --laziness"
        )
    scores = gate_keep_scores(lazy, cfg, progress)
    if target == cap and cfg.max_cache_age == 1 and S % 2 == 0:
        # Every module must skip every other step: the alternate-step pattern is the only feasible schedule.
        only = np.array(interval_schedule(S, D, 2).skip, dtype=bool)
        schedule = Schedule(S, D, only.tolist(), "lazydit", cfg.max_cache_age, cfg.cfg_scale, reuse=lazy.reuse)
        report = {
            "target_laziness": cfg.laziness,
            "best_candidate": "interval:2 (the only feasible schedule)",
            "note": f"{target} skips with max-cache-age 1 leave one feasible schedule; raise --max-cache-age "
            "for a choice",
            "gate_keep_scores": np.round(scores, 4).tolist(),
        }
        schedule = replace(schedule, details={k: v for k, v in report.items() if k != "gate_keep_scores"})
        return schedule, report
    e2e = EndToEnd(lazy, cfg)
    sens = step_sensitivity(e2e, S, D, progress)

    # Priorities: low = skip first. Gate scores rank modules; the step sensitivity spreads skips over the steps
    # where reusing the cache costs least at the end.
    def ranks(a: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(a, axis=None)).reshape(a.shape) / a.size

    gate_rank = ranks(scores)
    sens_rank = ranks(np.broadcast_to(sens[:, None, None], scores.shape) + 1e-9 * scores)
    candidates: dict[str, np.ndarray] = {}
    for w in (0.0, 0.5, 1.0, 2.0):
        name = "gates" if w == 0 else f"gates+{w:g}xstep"
        candidates[name] = greedy_schedule(gate_rank + w * sens_rank, target, cfg.max_cache_age)
    for every in range(2, cfg.max_cache_age + 2):
        base = np.array(interval_schedule(S, D, every).skip, dtype=bool)
        if base.sum() >= target:
            candidates[f"interval:{every} trimmed"] = trim_schedule(base, gate_rank + sens_rank, target)
        else:
            candidates[f"interval:{every} padded"] = greedy_schedule(
                gate_rank + sens_rank, target, cfg.max_cache_age, start=base
            )
    candidates = {k: v for k, v in candidates.items() if v.sum() == target}
    if not candidates:
        raise UserError(f"no schedule with exactly {target} skips fits --max-cache-age {cfg.max_cache_age}")
    scored = {k: e2e.psnr(v) for k, v in tqdm(candidates.items(), desc="candidates", leave=False, disable=not progress)}
    best_name = max(scored, key=scored.get)
    best, best_psnr = candidates[best_name], scored[best_name]

    # Local search: move one skip from a module the gates value to one they do not, keep it if the images improve.
    rng = np.random.default_rng(cfg.seed)
    accepted = 0
    prio = gate_rank + sens_rank
    for _ in tqdm(range(cfg.search_evaluations), desc="local search", leave=False, disable=not progress):
        skipped = np.argwhere(best)
        if len(skipped) == 0:
            break
        top = skipped[np.argsort(-prio[best])[: max(4, len(skipped) // 8)]]
        i, b, m = top[rng.integers(len(top))]
        trial = best.copy()
        trial[i, b, m] = False
        options = [
            tuple(ix)
            for ix in np.argwhere(~trial)
            if _feasible(trial, *ix, cfg.max_cache_age) and tuple(ix) != (i, b, m)
        ]
        if not options:
            continue
        options.sort(key=lambda ix: prio[ix])
        j = options[rng.integers(min(len(options), max(4, len(options) // 8)))]
        trial[j] = True
        p = e2e.psnr(trial)
        if p > best_psnr:
            best, best_psnr = trial, p
            accepted += 1
    schedule = Schedule(S, D, best.tolist(), "lazydit", cfg.max_cache_age, cfg.cfg_scale, reuse=lazy.reuse)
    schedule.validate()
    report = {
        "target_laziness": cfg.laziness,
        "heldout_samples": len(e2e.labels),
        "calibration_samples": c.num_classes * cfg.seeds_per_class,
        "candidates_psnr": {k: round(v, 3) for k, v in scored.items()},
        "best_candidate": best_name,
        "search_evaluations": cfg.search_evaluations,
        "search_accepted": accepted,
        "heldout_psnr": round(best_psnr, 3),
        "step_sensitivity_db": [round(float(v), 3) for v in sens],
        "gate_keep_scores": np.round(scores, 4).tolist(),
    }
    schedule = replace(schedule, details={k: v for k, v in report.items() if k != "gate_keep_scores"})
    return schedule, report


def draw_heatmap(schedule: Schedule, path, scores: np.ndarray | None = None, title: str | None = None) -> None:
    """Steps x modules picture of the schedule (and, when given, the gates' mean keep scores)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = np.array(schedule.skip, dtype=float)  # (S, D, 2)
    S, D, _ = skip.shape
    rows = np.concatenate([skip[:, :, 0].T, skip[:, :, 1].T])  # attn blocks then mlp blocks
    labels = [f"attn {b}" for b in range(D)] + [f"mlp {b}" for b in range(D)]
    panels = 2 if scores is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(max(6, S * 0.28 + 2), (0.22 * 2 * D + 1.2) * panels), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(rows, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(2 * D), labels, fontsize=6)
    ax.set_xticks(range(S), [str(i) for i in range(S)], fontsize=6)
    ax.set_xlabel("sampling step")
    reused = "its forecast fed" if schedule.reuse == "forecast" else "cached output reused"
    ax.set_title(
        title or f"{schedule.source}: {schedule.laziness():.0%} lazy (black = module skipped, {reused})", fontsize=9
    )
    if scores is not None:
        sc = np.asarray(scores)
        srows = np.concatenate([sc[:, :, 0].T, sc[:, :, 1].T])
        ax2 = axes[1, 0]
        im = ax2.imshow(srows, aspect="auto", cmap="viridis", interpolation="nearest")
        ax2.set_yticks(range(2 * D), labels, fontsize=6)
        ax2.set_xticks(range(S), [str(i) for i in range(S)], fontsize=6)
        ax2.set_xlabel("sampling step")
        ax2.set_title("mean gate keep score (low = lazy)", fontsize=9)
        fig.colorbar(im, ax=ax2, fraction=0.02)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
