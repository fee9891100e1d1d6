"""Lazy gates (LazyDiT, AAAI 2025): one ``Linear(hidden, 1, bias=False)`` per (sampling step, block, module).

The gates of a model live in their own safetensors file, never inside the DiT checkpoint. All gates of one
module type are stored as one stacked tensor: row ``[step, block]`` of ``attn.weight`` is the weight of the
attention gate of that block at that sampling step (a ``Linear(hidden, 1, bias=False)`` flattened).

Score: ``keep = sigmoid(sum over tokens of z . w)`` where ``z`` is the module's own modulated input. The
module is computed when ``keep >= 0.5`` and skipped (its cached output reused) otherwise. Zero weights give
``keep = 0.5`` everywhere: a fresh gate computes everything.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lazydit.errors import UserError
from lazydit.files import atomic_write

from .names import REUSE_MODES

MODULES = ("attn", "mlp")
GATES_FORMAT = "lazydit-gates/1"


@dataclass(frozen=True)
class GatesMeta:
    """What a gates file was trained for; checked against the model and sampler before use."""

    num_steps: int
    timesteps: tuple[int, ...]
    depth: int
    hidden_size: int
    num_patches: int
    model_fingerprint: str = ""
    cfg_scale: float = 1.5
    max_cache_age: int = 1
    reuse: str = "hold"

    def to_json(self) -> dict[str, str]:
        return {
            "format": GATES_FORMAT,
            "num_steps": str(self.num_steps),
            "timesteps": json.dumps(list(self.timesteps)),
            "depth": str(self.depth),
            "hidden_size": str(self.hidden_size),
            "num_patches": str(self.num_patches),
            "model_fingerprint": self.model_fingerprint,
            "cfg_scale": repr(float(self.cfg_scale)),
            "max_cache_age": str(self.max_cache_age),
            "reuse": self.reuse,
        }

    @classmethod
    def from_json(cls, meta: dict[str, str], path: Path) -> GatesMeta:
        if meta.get("format") != GATES_FORMAT:
            raise UserError(
                f"{path}: not a lazydit gates file (format {meta.get('format')!r}); "
                "train gates with `lazydit train-gates`"
            )
        try:
            m = cls(
                num_steps=int(meta["num_steps"]),
                timesteps=tuple(json.loads(meta["timesteps"])),
                depth=int(meta["depth"]),
                hidden_size=int(meta["hidden_size"]),
                num_patches=int(meta["num_patches"]),
                model_fingerprint=meta.get("model_fingerprint", ""),
                cfg_scale=float(meta.get("cfg_scale", 1.5)),
                max_cache_age=int(meta.get("max_cache_age", 1)),
                # Files written before forecasting existed were trained to hold the cache.
                reuse=meta.get("reuse", "hold"),
            )
        except (KeyError, ValueError) as e:
            raise UserError(f"{path}: gates metadata is incomplete ({e}); retrain with `lazydit train-gates`") from None
        if m.reuse not in REUSE_MODES:
            raise UserError(
                f"{path}: unknown reuse mode {m.reuse!r} (hold or forecast); retrain with `lazydit train-gates`"
            )
        return m


class LazyGates(nn.Module):
    """All lazy gates of one model for one sampling trajectory."""

    def __init__(self, num_steps: int, depth: int, hidden_size: int):
        super().__init__()
        self.num_steps = num_steps
        self.depth = depth
        self.hidden_size = hidden_size
        self.attn = nn.Linear(hidden_size, num_steps * depth, bias=False)
        self.mlp = nn.Linear(hidden_size, num_steps * depth, bias=False)
        nn.init.zeros_(self.attn.weight)
        nn.init.zeros_(self.mlp.weight)

    def weight(self, step: int, block: int, module: str) -> torch.Tensor:
        """The (hidden,) weight of one gate."""
        return getattr(self, module).weight[step * self.depth + block]

    def keep_score(self, step: int, block: int, module: str, z: torch.Tensor) -> torch.Tensor:
        """Per-sample keep score in (0, 1) from the module input z of shape (B, N, hidden)."""
        w = self.weight(step, block, module).to(z.dtype)
        return torch.sigmoid((z @ w).sum(dim=1))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Stacked (steps, depth, hidden) tensors, the on-disk layout."""
        return {
            f"{m}.weight": getattr(self, m)
            .weight.detach()
            .reshape(self.num_steps, self.depth, self.hidden_size)
            .contiguous()
            .float()
            for m in MODULES
        }

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for m in MODULES:
            getattr(self, m).weight.data.copy_(tensors[f"{m}.weight"].reshape(-1, self.hidden_size))


def save_gates(path: str | Path, gates: LazyGates, meta: GatesMeta) -> None:
    from safetensors.torch import save_file

    with atomic_write(path) as tmp:
        save_file(gates.state_tensors(), str(tmp), metadata=meta.to_json())


def load_gates(path: str | Path) -> tuple[LazyGates, GatesMeta]:
    """Load a gates file; every problem is a one-line :class:`UserError`."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise UserError(f"gates file not found: {path}; pass --gates or train them with `lazydit train-gates`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = GatesMeta.from_json(f.metadata() or {}, path)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as e:
        raise UserError(f"{path}: not a readable safetensors gates file ({e})") from None
    expected = (meta.num_steps, meta.depth, meta.hidden_size)
    for m in MODULES:
        t = tensors.get(f"{m}.weight")
        if t is None or tuple(t.shape) != expected:
            raise UserError(
                f"{path}: tensor {m}.weight should have shape {expected}, found {None if t is None else tuple(t.shape)}"
            )
        if not bool(torch.isfinite(t).all()):
            raise UserError(f"{path}: tensor {m}.weight holds NaN or infinite values; retrain the gates")
    if not math.isfinite(meta.cfg_scale):
        raise UserError(f"{path}: cfg_scale {meta.cfg_scale} is not a finite number; retrain the gates")
    gates = LazyGates(meta.num_steps, meta.depth, meta.hidden_size)
    gates.load_state_tensors(tensors)
    return gates, meta


def check_gates_match(meta: GatesMeta, config, fingerprint: str | None, num_steps: int | None, path: Path) -> None:
    """Refuse gates trained for another model or another step count."""
    if (meta.depth, meta.hidden_size, meta.num_patches) != (config.depth, config.hidden_size, config.num_patches):
        raise UserError(
            f"{path}: gates are for a model with depth {meta.depth}, hidden {meta.hidden_size}, "
            f"{meta.num_patches} tokens, but the checkpoint has depth {config.depth}, hidden {config.hidden_size}, "
            f"{config.num_patches} tokens; train gates for this checkpoint with `lazydit train-gates`"
        )
    if fingerprint and meta.model_fingerprint and fingerprint != meta.model_fingerprint:
        raise UserError(
            f"{path}: gates were trained for other weights (fingerprint {meta.model_fingerprint[:12]} != "
            f"{fingerprint[:12]}); train gates for this checkpoint with `lazydit train-gates`"
        )
    if num_steps is not None and num_steps != meta.num_steps:
        raise UserError(
            f"{path}: gates are for {meta.num_steps} sampling steps, not {num_steps}; "
            f"use --steps {meta.num_steps} or train gates with `lazydit train-gates --steps {num_steps}`"
        )
