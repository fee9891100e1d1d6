"""Gaussian diffusion math of DiT/ADM: the 1000-step linear beta schedule, respacing and DDIM (eta 0).

Only what sampling and training need is here. Timesteps are picked exactly as ADM's
``space_timesteps(1000, "ddimN")``; the model is called with the *original* timestep values, as DiT's
respaced wrapper does (``rescale_timesteps`` is off in DiT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .names import GUIDANCE_RULES

NUM_TRAIN_TIMESTEPS = 1000


def linear_betas(num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """ADM's linear schedule, scaled so that it works for any number of diffusion steps."""
    scale = 1000 / num_timesteps
    return np.linspace(scale * 0.0001, scale * 0.02, num_timesteps, dtype=np.float64)


def alphas_cumprod(num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    return np.cumprod(1.0 - linear_betas(num_timesteps))


def ddim_timesteps(num_steps: int, num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> list[int]:
    """Timesteps of ``space_timesteps(num_timesteps, f"ddim{num_steps}")``, in sampling order (high to low)."""
    if num_steps < 1:
        raise ValueError(f"steps must be at least 1, got {num_steps}")
    for stride in range(1, num_timesteps):
        if len(range(0, num_timesteps, stride)) == num_steps:
            return sorted(range(0, num_timesteps, stride), reverse=True)
    raise ValueError(
        f"cannot create exactly {num_steps} DDIM steps with an integer stride over {num_timesteps} timesteps; "
        "pick a step count such as 10, 20, 25, 50 or 100"
    )


@dataclass(frozen=True)
class DDIMStep:
    """One eta-0 DDIM update from timestep ``t`` to the previous used timestep.

    x0 = sqrt_recip_alpha_bar * x_t - sqrt_recipm1_alpha_bar * eps, optionally clipped to [-1, 1];
    eps is re-derived from the (clipped) x0, then
    x_prev = sqrt_alpha_bar_prev * x0 + sqrt_one_minus_alpha_bar_prev * eps.
    """

    index: int
    timestep: int
    sqrt_recip_alpha_bar: float
    sqrt_recipm1_alpha_bar: float
    sqrt_alpha_bar_prev: float
    sqrt_one_minus_alpha_bar_prev: float

    def coefficients(self) -> list[float]:
        """The four numbers a static graph needs, in the order the bundle stores them."""
        return [
            self.sqrt_recip_alpha_bar,
            self.sqrt_recipm1_alpha_bar,
            self.sqrt_alpha_bar_prev,
            self.sqrt_one_minus_alpha_bar_prev,
        ]


def ddim_steps(num_steps: int, num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> list[DDIMStep]:
    """The respaced DDIM trajectory: one entry per sampling step, in sampling order."""
    timesteps = ddim_timesteps(num_steps, num_timesteps)
    abar_full = alphas_cumprod(num_timesteps)
    # Respacing keeps alpha_bar at the used timesteps; alpha_bar_prev of the last step is 1.
    used = sorted(timesteps)
    abar = {t: abar_full[t] for t in used}
    prev = {used[0]: 1.0}
    for lo, hi in zip(used[:-1], used[1:]):
        prev[hi] = abar[lo]
    steps = []
    for i, t in enumerate(timesteps):
        a, ap = abar[t], prev[t]
        steps.append(
            DDIMStep(
                index=i,
                timestep=t,
                sqrt_recip_alpha_bar=float(np.sqrt(1.0 / a)),
                sqrt_recipm1_alpha_bar=float(np.sqrt(1.0 / a - 1)),
                sqrt_alpha_bar_prev=float(np.sqrt(ap)),
                sqrt_one_minus_alpha_bar_prev=float(np.sqrt(1.0 - ap)),
            )
        )
    return steps


def ddim_update(x: torch.Tensor, eps: torch.Tensor, coef: torch.Tensor, clip_denoised: bool) -> torch.Tensor:
    """Apply one eta-0 DDIM step. ``coef`` is the 4-vector of :meth:`DDIMStep.coefficients` (a tensor so
    that one exported graph serves every step). Written with static slices, so the exported step graphs use this
    very function (XNNPACK takes slices, not selects)."""
    c = coef if coef.dtype == x.dtype else coef.to(x.dtype)
    k0, k1, k2, k3 = c[0:1], c[1:2], c[2:3], c[3:4]
    x0 = k0 * x - k1 * eps
    if clip_denoised:
        x0 = x0.clamp(-1.0, 1.0)
        # Re-derive eps from the clipped x0 exactly as ADM's ddim_sample does: eps = (x/sqrt(ab) - x0)/sqrt(1/ab - 1).
        eps = (k0 * x - x0) / k1
    return k2 * x0 + k3 * eps


def cfg_batch(
    x: torch.Tensor, labels: torch.Tensor, num_classes: int, cfg_scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's input batch: (cond, uncond) halves when guidance is on (the null class is ``num_classes``),
    the plain batch otherwise."""
    if cfg_scale == 1.0:
        return x, labels
    return torch.cat([x, x], 0), torch.cat([labels, torch.full_like(labels, num_classes)], 0)


OFFICIAL_GUIDANCE = GUIDANCE_RULES[0]
ALL_CHANNELS = GUIDANCE_RULES[1]


def check_guidance_rule(rule: str) -> str:
    if rule not in GUIDANCE_RULES:
        raise ValueError(f"unknown guidance rule {rule!r}; use one of {', '.join(GUIDANCE_RULES)}")
    return rule


def guidance_rule_of(dit) -> str:
    """The rule a model is sampled with: its sampling defaults' ``guidance_rule`` (set from where the checkpoint
    came from), else ``all-channels``, the rule of every model before the rule was recorded."""
    return check_guidance_rule(getattr(dit, "sampling_defaults", {}).get("guidance_rule", ALL_CHANNELS))


def manifest_guidance_rule(manifest: dict) -> str:
    """The rule a bundle's graphs bake in; bundles without a ``guidance`` entry were all exported with
    ``all-channels``."""
    return check_guidance_rule(manifest.get("guidance", {}).get("rule", ALL_CHANNELS))


def guided_eps(
    model_out: torch.Tensor, in_channels: int, cfg_scale: float | torch.Tensor, rule: str = ALL_CHANNELS
) -> torch.Tensor:
    """From a (cond, uncond) batch output to the eps of the conditional half that a DDIM step uses.

    eps is the first ``in_channels`` output channels (the rest is the learned sigma when learn_sigma).

    * ``all-channels``: every eps channel is guided, ``uncond + s * (cond - uncond)``.
    * ``official-3-channels``: as facebookresearch/DiT's ``forward_with_cfg``, the first three *output* channels
      are guided and the others keep the conditional half's own values. With 4 latent channels the fourth eps
      channel is unguided. With fewer than four eps channels the three guided channels run into the learned
      sigma, which eta-0 DDIM never reads, so every eps channel is guided and the rule equals ``all-channels``.
    """
    check_guidance_rule(rule)
    half = model_out.shape[0] // 2
    if rule == ALL_CHANNELS or in_channels <= 3:
        eps = model_out[:, :in_channels]
        cond, uncond = eps[:half], eps[half:]
        return uncond + cfg_scale * (cond - uncond)
    # Static slices and one cat: every lowering (XNNPACK, Core ML, ONNX) takes them.
    cond, uncond = model_out[:half, :3], model_out[half:, :3]
    return torch.cat([uncond + cfg_scale * (cond - uncond), model_out[:half, 3:in_channels]], dim=1)


def eps_of(model_out: torch.Tensor, in_channels: int, cfg_scale: float, rule: str = ALL_CHANNELS) -> torch.Tensor:
    """The eps a DDIM step uses from the output for a :func:`cfg_batch` batch: guided by ``rule`` when guidance
    is on."""
    if cfg_scale == 1.0:
        return model_out[:, :in_channels]
    return guided_eps(model_out, in_channels, cfg_scale, rule)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """Diffuse clean data to timestep t: sqrt(ab) x0 + sqrt(1 - ab) noise. ``abar`` is the (1000,) table."""
    a = abar[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
