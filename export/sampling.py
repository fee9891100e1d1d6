"""Eager DDIM sampling with classifier-free guidance, dense or lazy: the reference every export is checked against."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .diffusion import DDIMStep, cfg_batch, ddim_steps, ddim_update, eps_of, guidance_rule_of
from .lazy_dit import LazyDiT, LazyState


@dataclass
class SampleResult:
    images: torch.Tensor  # (B, C, H, W) final samples (latents for a latent model)
    trajectory: list[torch.Tensor]  # x before each step, then the final x
    state: LazyState  # keep scores and decisions per step


def initial_noise(num: int, config, seed: int | list[int]) -> torch.Tensor:
    """Gaussian noise per sample from its own seed, so a sample does not depend on its batch."""
    seeds = [seed + i for i in range(num)] if isinstance(seed, int) else list(seed)
    shape = (config.in_channels, config.input_size, config.input_size)
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def ddim_step(
    model: LazyDiT,
    x: torch.Tensor,
    labels: torch.Tensor,
    step: DDIMStep,
    state: LazyState,
    cfg_scale: float,
    clip_denoised: bool,
    guidance_rule: str | None = None,
    **forward,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One guided DDIM step of ``model`` from ``x``: (x at the next step, the eps it used). ``guidance_rule``
    defaults to the model's (see :func:`guidance_rule_of`); ``forward`` goes to :meth:`LazyDiT.forward` (mode,
    skip_mask, record_gates, ...)."""
    c = model.config
    rule = guidance_rule or guidance_rule_of(model.dit)
    xin, yin = cfg_batch(x, labels, c.num_classes, cfg_scale)
    t = torch.full((xin.shape[0],), step.timestep, dtype=torch.long)
    eps = eps_of(model(xin, t, yin, step.index, state, **forward), c.in_channels, cfg_scale, rule)
    return ddim_update(x, eps, torch.tensor(step.coefficients(), dtype=torch.float64), clip_denoised), eps


@torch.no_grad()
def ddim_sample(
    model: LazyDiT,
    labels: torch.Tensor,
    noise: torch.Tensor,
    num_steps: int,
    cfg_scale: float = 1.5,
    mode: str = "dense",
    skip_masks: torch.Tensor | None = None,
    clip_denoised: bool = True,
    progress: bool = False,
    keep_trajectory: bool = False,
    record_gates: bool = False,
    guidance_rule: str | None = None,
) -> SampleResult:
    """Sample with eta-0 DDIM over ``num_steps`` respaced steps.

    ``skip_masks`` (static mode) is a (num_steps, depth, 2) bool tensor, True = skip (reuse the cache).
    With guidance the cond and uncond halves share one batch; in dynamic mode each half decides on its own,
    in static mode both follow the mask. ``record_gates`` keeps the gates' keep scores of every step in the
    returned state, whatever decides. ``guidance_rule`` defaults to the model's.
    """
    config = model.config
    steps = ddim_steps(num_steps)
    x = noise
    state = LazyState(config.depth)
    trajectory = [x] if keep_trajectory else []
    for s in tqdm(steps, desc="DDIM", disable=not progress, leave=False):
        x, _ = ddim_step(
            model,
            x,
            labels,
            s,
            state,
            cfg_scale,
            clip_denoised,
            guidance_rule,
            mode=mode,
            record_gates=record_gates,
            skip_mask=None if skip_masks is None else skip_masks[s.index],
        )
        if keep_trajectory:
            trajectory.append(x)
    return SampleResult(images=x, trajectory=trajectory, state=state)
