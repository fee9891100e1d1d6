"""Lazy gate training: the DiT is frozen, only the gates learn (LazyDiT's self-distillation).

One iteration: take a state x at sampling step i-1, run one dense step (this fills the cache and gives x at
step i), then compare the dense model output at step i with the gated one (straight-through hard decisions)::

    loss = MSE(dense guided eps, gated guided eps) + rho * mean over samples of sum of keep scores

With ``reuse="forecast"`` a skip extrapolates from the last two computed outputs, so one more dense step fills
the older one first: at step i-3 (i-2 for i = 2), the alternate-step pattern a 50% schedule settles into.

Beyond the paper: every step has gates (not only alternate ones), the cache age is bounded at inference by
``max_cache_age``, and training states come by default from the model's own samples (data-free), so no
dataset is needed. ``--target-laziness`` adapts rho during training instead of sweeping it by hand.
Runs data-parallel under ``torchrun`` (DistributedDataParallel, gloo on CPU).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lazydit.errors import UserError
from lazydit.files import atomic_write

from .checkpoint import fingerprint
from .diffusion import alphas_cumprod, ddim_steps, q_sample
from .gates import GatesMeta, LazyGates, save_gates
from .lazy_dit import LazyDiT, LazyState
from .model import DiT
from .sampling import ddim_sample, ddim_step, initial_noise


@dataclass
class GateTrainingConfig:
    num_steps: int = 20
    cfg_scale: float = 1.5
    clip_denoised: bool = False
    guidance_rule: str | None = None  # None: the model's (lazydit.export.diffusion.guidance_rule_of)
    iterations: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    rho: float = 1e-4
    target_laziness: float | None = None
    max_cache_age: int = 1
    reuse: str = "hold"
    pool_size: int = 256
    seed: int = 0
    data_free: bool = True
    checkpoint_every: int = 100


@dataclass
class StatePool:
    """Training states: ``x[i]`` is the batch of latents before sampling step i, with its labels."""

    x: torch.Tensor  # (num_steps, P, C, H, W)
    labels: torch.Tensor  # (P,)


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@torch.no_grad()
def build_pool_data_free(
    lazy: LazyDiT, cfg: GateTrainingConfig, size: int, seed: int, progress: bool = True
) -> StatePool:
    """Sample the model densely and keep every intermediate state: no dataset needed."""
    config = lazy.config
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, config.num_classes, (size,), generator=g)
    noise = initial_noise(size, config, [seed * 100003 + i for i in range(size)])
    xs = []
    chunk = 64
    for lo in tqdm(range(0, size, chunk), desc="sampling training states", leave=False, disable=not progress):
        res = ddim_sample(
            lazy,
            labels[lo : lo + chunk],
            noise[lo : lo + chunk],
            cfg.num_steps,
            cfg.cfg_scale,
            clip_denoised=cfg.clip_denoised,
            keep_trajectory=True,
            guidance_rule=cfg.guidance_rule,
        )
        xs.append(torch.stack(res.trajectory[:-1]))
    return StatePool(torch.cat(xs, dim=1), labels)


@torch.no_grad()
def build_pool_from_data(images: torch.Tensor, labels: torch.Tensor, cfg: GateTrainingConfig, seed: int) -> StatePool:
    """Diffuse real data to each step's timestep (the paper's setting)."""
    g = torch.Generator().manual_seed(seed)
    steps = ddim_steps(cfg.num_steps)
    abar = torch.from_numpy(alphas_cumprod()).float()
    xs = []
    for s in steps:
        noise = torch.randn(images.shape, generator=g)
        t = torch.full((images.shape[0],), s.timestep, dtype=torch.long)
        xs.append(q_sample(images, t, noise, abar))
    return StatePool(torch.stack(xs), labels)


class GateTrainer(nn.Module):
    """The loss of one training iteration as a module, so that DistributedDataParallel can wrap it."""

    def __init__(self, lazy: LazyDiT, cfg: GateTrainingConfig):
        super().__init__()
        self.lazy = lazy
        self.cfg = cfg
        self.steps = ddim_steps(cfg.num_steps)

    def older_step(self, step: int) -> int | None:
        """The step whose output a forecast at ``step`` extrapolates from besides step - 1 (None: hold)."""
        if self.lazy.reuse != "forecast" or step < 2:
            return None
        return step - 3 if step >= 3 else step - 2

    def forward(
        self, x_prev: torch.Tensor, labels: torch.Tensor, step: int, x_older: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(distillation loss, keep scores (B', depth, 2), hard keep decisions) at sampling step ``step``.

        ``x_older``: the state before :meth:`older_step`, needed when forecasting."""
        c = self.lazy.config
        lazy, scale, clip, rule = self.lazy, self.cfg.cfg_scale, self.cfg.clip_denoised, self.cfg.guidance_rule
        state = LazyState(c.depth)
        with torch.no_grad():
            older = self.older_step(step)
            if older is not None:  # fills the older cached output a forecast extrapolates from
                ddim_step(lazy, x_older, labels, self.steps[older], state, scale, clip, rule, mode="dense")
            x, _ = ddim_step(lazy, x_prev, labels, self.steps[step - 1], state, scale, clip, rule, mode="dense")
            _, target = ddim_step(
                lazy, x, labels, self.steps[step], LazyState(c.depth), scale, clip, rule, mode="dense"
            )
        _, pred = ddim_step(
            lazy, x, labels, self.steps[step], state, scale, clip, rule, mode="dynamic", straight_through=True
        )
        return F.mse_loss(pred, target), state.keep_scores[-1], state.decisions[-1]


def train_gates(
    dit: DiT,
    cfg: GateTrainingConfig,
    out: Path,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    resume: bool = True,
    progress: bool = True,
) -> tuple[LazyGates, GatesMeta, dict]:
    """Train gates for ``cfg.num_steps`` steps and write them to ``out``; returns the gates, metadata and a report."""
    rank, world = _rank_world()
    if cfg.batch_size % world:
        raise UserError(f"--batch-size {cfg.batch_size} must be divisible by the {world} processes")
    local_batch = cfg.batch_size // world
    config = dit.config
    if cfg.num_steps < 2:
        raise UserError("gate training needs at least 2 sampling steps (step 0 always computes); raise --steps")
    try:
        steps = ddim_steps(cfg.num_steps)
    except ValueError as e:
        raise UserError(f"--steps {cfg.num_steps}: {e}") from None
    fp = fingerprint(dit)
    gates = LazyGates(cfg.num_steps, config.depth, config.hidden_size)
    lazy = LazyDiT(dit, gates, cfg.max_cache_age, reuse=cfg.reuse)
    for p in dit.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(gates.parameters(), lr=cfg.lr, weight_decay=0.0)
    rho = cfg.rho
    start = 0
    state_path = out.with_name(out.name + ".train.pt")
    if resume and state_path.is_file():
        try:
            saved = torch.load(str(state_path), map_location="cpu", weights_only=True)
            same = (int(saved["num_steps"]), str(saved["fingerprint"]), str(saved.get("reuse", "hold"))) == (
                cfg.num_steps,
                fp,
                cfg.reuse,
            )
        except Exception:  # noqa: BLE001 - a damaged state file is reported, not resumed
            raise UserError(f"{state_path}: damaged training state; delete it or pass --restart") from None
        if not same:
            raise UserError(
                f"{state_path}: saved training is for {saved['num_steps']} steps of another "
                "model, step count or reuse mode; pass --restart or another --out"
            )
        gates.load_state_tensors(saved["gates"])
        opt.load_state_dict(saved["optimizer"])
        rho, start = float(saved["rho"]), int(saved["iteration"])
        if rank == 0:
            print(f"resuming gate training at iteration {start} from {state_path}")

    seed = cfg.seed * 7919 + rank
    if data is None:
        pool = build_pool_data_free(
            lazy, cfg, max(cfg.pool_size // world, local_batch), seed, progress=progress and rank == 0
        )
    else:
        images, labels = data
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(images.shape[0], generator=g)[: max(cfg.pool_size // world, local_batch)]
        pool = build_pool_from_data(images[idx], labels[idx], cfg, seed)

    trainer = GateTrainer(lazy, cfg)
    model: nn.Module = trainer
    if world > 1:
        model = nn.parallel.DistributedDataParallel(trainer)
    g = torch.Generator().manual_seed(seed + 1)
    n_modules = config.depth * 2
    ema_lazy = None
    bar = tqdm(
        range(start, cfg.iterations),
        desc="training gates",
        disable=not progress or rank != 0,
        initial=start,
        total=cfg.iterations,
    )
    history = []
    for it in bar:
        step = int(torch.randint(1, cfg.num_steps, (1,), generator=g))
        # All ranks must train the same step for the gradients they average to belong to the same gates.
        if world > 1:
            st = torch.tensor([step])
            dist.broadcast(st, 0)
            step = int(st)
        idx = torch.randint(0, pool.labels.shape[0], (local_batch,), generator=g)
        older = trainer.older_step(step)
        x_older = None if older is None else pool.x[older, idx]
        mse, scores, keep = model(pool.x[step - 1, idx], pool.labels[idx], step, x_older)
        keep_sum = scores.sum(dim=(1, 2)).mean()
        loss = mse + rho * keep_sum
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lazy_frac = 1.0 - keep.float().mean().item()
        ema_lazy = lazy_frac if ema_lazy is None else 0.95 * ema_lazy + 0.05 * lazy_frac
        if cfg.target_laziness is not None:
            # Multiplicative controller: raise the penalty while too few modules are lazy, lower it otherwise.
            rho *= math.exp(0.05 * (cfg.target_laziness - lazy_frac))
        history.append({"iteration": it, "step": step, "mse": mse.item(), "laziness": lazy_frac, "rho": rho})
        bar.set_postfix(mse=f"{mse.item():.2e}", lazy=f"{ema_lazy:.2f}", rho=f"{rho:.1e}")
        if rank == 0 and cfg.checkpoint_every and (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.iterations:
            _save_training_state(state_path, gates, opt, rho, it + 1, cfg.num_steps, fp, cfg.reuse)

    meta = GatesMeta(
        num_steps=cfg.num_steps,
        timesteps=tuple(s.timestep for s in steps),
        depth=config.depth,
        hidden_size=config.hidden_size,
        num_patches=config.num_patches,
        model_fingerprint=fp,
        cfg_scale=cfg.cfg_scale,
        max_cache_age=cfg.max_cache_age,
        reuse=cfg.reuse,
    )
    report = {"history": history, "final_rho": rho, "modules": n_modules}
    if rank == 0:
        save_gates(out, gates, meta)
        if state_path.is_file():
            state_path.unlink()
    return gates, meta, report


def _save_training_state(
    path: Path, gates: LazyGates, opt, rho: float, iteration: int, num_steps: int, fp: str, reuse: str
) -> None:
    with atomic_write(path) as tmp:
        torch.save(
            {
                "gates": gates.state_tensors(),
                "optimizer": opt.state_dict(),
                "rho": rho,
                "iteration": iteration,
                "num_steps": num_steps,
                "fingerprint": fp,
                "reuse": reuse,
            },
            str(tmp),
        )


@torch.no_grad()
def laziness_report(
    lazy: LazyDiT, num_steps: int, cfg_scale: float, clip_denoised: bool, num_samples: int = 32, seed: int = 12345
) -> torch.Tensor:
    """Per-step share of skipped modules when sampling with the gates (dynamic, per sample), shape (num_steps,)."""
    config = lazy.config
    labels = torch.arange(num_samples) % config.num_classes
    noise = initial_noise(num_samples, config, seed)
    res = ddim_sample(lazy, labels, noise, num_steps, cfg_scale, mode="dynamic", clip_denoised=clip_denoised)
    return torch.stack([1.0 - d.float().mean() for d in res.state.decisions])


def init_distributed() -> bool:
    """Join the process group when launched by torchrun; returns True when distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        return True
    return dist.is_initialized()
