"""Multiply-accumulate counts of a DiT forward, per part, from its config.

Counted: every Linear/Conv (weights x tokens) and the two attention matmuls. Not counted: norms, activations,
softmax, elementwise ops (a few percent at most). A skipped attention or MLP module saves exactly its own count;
the adaLN modulation, embeddings and final layer always run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import DiTConfig


@dataclass(frozen=True)
class ForwardMacs:
    """MACs of one forward of one sample (no CFG doubling)."""

    embed: int
    adaln: int  # per block
    attn: int  # per block
    mlp: int  # per block
    final: int
    depth: int

    @property
    def dense(self) -> int:
        return self.embed + self.final + self.depth * (self.adaln + self.attn + self.mlp)

    def with_skips(self, skipped_attn: int, skipped_mlp: int) -> int:
        """MACs when that many attention and MLP modules are skipped."""
        return self.dense - skipped_attn * self.attn - skipped_mlp * self.mlp

    def step(self, skip_mask, cfg_scale: float) -> int:
        """MACs of one image's sampling step: ``skip_mask`` is (depth, 2) booleans (True = skipped); guidance
        doubles the batch."""
        sa = sum(bool(m[0]) for m in skip_mask)
        sm = sum(bool(m[1]) for m in skip_mask)
        return self.with_skips(sa, sm) * (1 if cfg_scale == 1.0 else 2)


def forward_macs(c: DiTConfig) -> ForwardMacs:
    n, h = c.num_patches, c.hidden_size
    p = c.patch_size
    mlp_hidden = int(h * c.mlp_ratio)
    freq = 256
    embed = n * (c.in_channels * p * p * h) + (freq * h + h * h)  # patch conv + timestep MLP
    adaln = h * 6 * h
    attn = n * h * 3 * h + 2 * n * n * h + n * h * h  # qkv, QK^T and AV, proj
    mlp = 2 * n * h * mlp_hidden
    final = h * 2 * h + n * h * p * p * c.out_channels
    return ForwardMacs(embed, adaln, attn, mlp, final, c.depth)


def trajectory_macs(c: DiTConfig, skip_masks, cfg_scale: float) -> int:
    """MACs of one image over a trajectory; ``skip_masks`` is (steps, depth, 2) booleans (True = skipped)."""
    fm = forward_macs(c)
    return sum(fm.step(mask, cfg_scale) for mask in skip_masks)
