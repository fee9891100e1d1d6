"""The lazy forward of a DiT: per (step, block, module) compute the module or reuse its cached output.

Three modes share one code path:

* ``dense``: every module computes (the cache is still filled, so a later lazy step can read it);
* ``dynamic``: the trained gates decide per sample (``keep >= 0.5`` computes), as in the paper;
* ``static``: a fixed (depth, 2) skip mask for the step decides for the whole batch, as an exported graph does.

What is cached is the module output *before* the adaLN gate; on a skip the block computes
``x + gate(current step) * reused``, so the current step's shift, scale and gate still apply.
A module whose cached value is ``max_cache_age`` steps old is always recomputed.

What a skip reuses (``reuse``):

* ``hold`` (the paper): the last computed output ``F1`` as it is;
* ``forecast``: the first-order extrapolation from the last two computed outputs over timesteps,
  ``F1 + r (F1 - F2)`` with ``r = (t - t1) / (t1 - t2)``, where ``t1``/``t2`` are the timesteps at which
  ``F1``/``F2`` were computed (``hold`` while only one output exists). It costs one multiply-add per reused
  element and no model MACs; feature forecasting of this kind is what TaylorSeer does for whole-model caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .gates import MODULES, LazyGates
from .model import DiT, modulate
from .names import REUSE_MODES


def forecast_ratio(t: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    """``r = (t - t1) / (t1 - t2)`` per sample, 0 where no second output exists (``t2 < 0``)."""
    has = t2 >= 0
    denom = torch.where(has, t1 - t2, torch.ones_like(t1))
    return torch.where(has, (t - t1) / denom, torch.zeros_like(t1))


@dataclass
class LazyState:
    """The cache of one sampling trajectory: per (block, module) the last computed output, its age, and for
    ``forecast`` the output computed before it and both outputs' timesteps (per sample, -1 = none yet)."""

    depth: int
    cache: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    age: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    prev: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    t_cache: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    t_prev: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    # Per step: (B, depth, 2) soft keep scores (dynamic mode) and hard keep decisions (all modes).
    keep_scores: list[torch.Tensor] = field(default_factory=list)
    decisions: list[torch.Tensor] = field(default_factory=list)

    def clone(self) -> LazyState:
        return LazyState(
            self.depth,
            dict(self.cache),
            dict(self.age),
            dict(self.prev),
            dict(self.t_cache),
            dict(self.t_prev),
            list(self.keep_scores),
            list(self.decisions),
        )


class LazyDiT(nn.Module):
    """A DiT plus its lazy gates."""

    def __init__(self, dit: DiT, gates: LazyGates | None = None, max_cache_age: int = 1, reuse: str = "hold"):
        super().__init__()
        if reuse not in REUSE_MODES:
            raise ValueError(f"unknown reuse mode {reuse!r}; use one of {', '.join(REUSE_MODES)}")
        self.dit = dit
        self.gates = gates
        self.max_cache_age = max_cache_age
        self.reuse = reuse

    @property
    def config(self):
        return self.dit.config

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor,
        step: int,
        state: LazyState,
        mode: str = "dense",
        skip_mask: torch.Tensor | None = None,
        straight_through: bool = False,
        record_gates: bool = False,
    ) -> torch.Tensor:
        """One model evaluation at sampling step ``step``; ``state`` is read and updated in place.

        ``straight_through`` (training): hard decisions in the forward pass, the soft score's gradient in the
        backward pass, and every module is computed so that both branches exist.
        ``record_gates`` (calibration): in dense mode, still evaluate the gates and record their keep scores.
        """
        if mode not in ("dense", "dynamic", "static"):
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "dynamic" and self.gates is None:
            raise ValueError("dynamic mode needs gates")
        if mode == "static" and skip_mask is None:
            raise ValueError("static mode needs a skip mask")
        dit = self.dit
        tokens, c = dit.embed(x, t, y)
        B = x.shape[0]
        step_scores = torch.ones(B, dit.config.depth, 2, dtype=x.dtype, device=x.device)
        step_keep = torch.ones(B, dit.config.depth, 2, dtype=torch.bool, device=x.device)
        # Timesteps as the forecast's history stores them (float64, -1 = none), converted once per call.
        t_hist = t.to(torch.float64)
        for b, block in enumerate(dit.blocks):
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.modulation(c)
            z = modulate(block.norm1(tokens), shift_msa, scale_msa)
            out, keep, score = self._module(
                block.attn, z, b, 0, step, state, mode, skip_mask, straight_through, record_gates, t_hist
            )
            tokens = tokens + gate_msa.unsqueeze(1) * out
            step_scores[:, b, 0], step_keep[:, b, 0] = score, keep
            z = modulate(block.norm2(tokens), shift_mlp, scale_mlp)
            out, keep, score = self._module(
                block.mlp, z, b, 1, step, state, mode, skip_mask, straight_through, record_gates, t_hist
            )
            tokens = tokens + gate_mlp.unsqueeze(1) * out
            step_scores[:, b, 1], step_keep[:, b, 1] = score, keep
        state.keep_scores.append(step_scores)
        state.decisions.append(step_keep)
        return dit.head(tokens, c)

    def _reused(self, key, state: LazyState, t: torch.Tensor) -> torch.Tensor | None:
        """What a skip of module ``key`` at (float64) timesteps ``t`` feeds the block (None before the first output)."""
        cached = state.cache.get(key)
        if cached is None or self.reuse == "hold":
            return cached
        r = forecast_ratio(t, state.t_cache[key], state.t_prev[key]).to(cached.dtype)
        return cached + r.view(-1, 1, 1) * (cached - state.prev[key])

    def _module(self, module, z, b, m, step, state, mode, skip_mask, straight_through, record_gates, t):
        key = (b, MODULES[m])
        B = z.shape[0]
        cached = state.cache.get(key)
        age = state.age.get(key)
        if cached is not None and cached.shape != (B, *z.shape[1:]):
            raise ValueError(
                f"cache for block {b} {MODULES[m]} has shape {tuple(cached.shape)}, batch needs {tuple(z.shape)}"
            )
        reused = self._reused(key, state, t)
        # A cache can be reused only if it exists and is younger than max_cache_age.
        reusable = torch.zeros(B, dtype=torch.bool, device=z.device) if cached is None else age < self.max_cache_age
        ones = torch.ones(B, dtype=z.dtype, device=z.device)

        if mode == "dense":
            out = module(z)
            keep = torch.ones(B, dtype=torch.bool, device=z.device)
            keep_soft = (
                self.gates.keep_score(step, b, MODULES[m], z) if record_gates and self.gates is not None else ones
            )
        elif mode == "static":
            skip = bool(skip_mask[b, m])
            if skip and not bool(reusable.all()):
                raise ValueError(
                    f"step {step}: block {b} {MODULES[m]} is skipped but its cache is missing or older than "
                    f"{self.max_cache_age} step(s)"
                )
            out = reused if skip else module(z)
            keep = torch.full((B,), not skip, dtype=torch.bool, device=z.device)
            keep_soft = keep.to(z.dtype)
        else:
            keep_soft = self.gates.keep_score(step, b, MODULES[m], z)
            keep = (keep_soft >= 0.5) | ~reusable
            if straight_through:
                computed = module(z)
                hard = keep.to(z.dtype)
                d = (hard + keep_soft - keep_soft.detach()).view(B, 1, 1)
                # Where the cache is unusable the module computes and no gradient reaches the gate.
                d = torch.where(reusable.view(B, 1, 1), d, torch.ones_like(d))
                base = reused if reused is not None else computed.detach()
                out = d * computed + (1 - d) * base
            elif bool(keep.all()):
                out = module(z)
            elif not bool(keep.any()):
                out = reused
            else:
                out = reused.clone()
                out[keep] = module(z[keep])

        # The cache holds computed outputs only: a skip leaves it (and a forecast's inputs) as they were.
        k = keep.view(B, 1, 1)
        if straight_through:
            new_cache = torch.where(k, out, cached if cached is not None else out)
        else:
            new_cache = out if cached is None else torch.where(k, out, cached)
        new_cache = new_cache.detach() if straight_through else new_cache
        none = torch.full((B,), -1.0, dtype=torch.float64, device=z.device)
        old_t = state.t_cache.get(key, none)
        if self.reuse == "forecast":
            old = cached if cached is not None else new_cache
            state.prev[key] = torch.where(k, old, state.prev.get(key, old))
            state.t_prev[key] = torch.where(keep, old_t, state.t_prev.get(key, none))
        state.t_cache[key] = torch.where(keep, t, old_t)
        state.cache[key] = new_cache
        prev_age = age if age is not None else torch.zeros(B, dtype=torch.long, device=z.device)
        state.age[key] = torch.where(keep, torch.zeros_like(prev_age), prev_age + 1)
        return out, keep, keep_soft
