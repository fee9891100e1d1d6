"""Graph variants: one static graph per distinct step pattern of a schedule.

A step's pattern is (modules it skips, module outputs it must hand to a later step). Identical patterns share
one graph. Each graph bakes in classifier-free guidance (cond/null batch, guidance scale and rule) and the eta-0
DDIM update, so the device-side scheduler only moves tensors:

    inputs : x (B,C,H,W), t (1,) float32, y (B,) int32, coef (4,), then the cache slots it reads
    outputs: x_next (B,C,H,W), then the cache slots it writes

A cache slot holds one module's output before its adaLN gate, for the whole CFG batch: (B', N, hidden) with
B' = 2B under guidance. Slot names are ``cache_{block}_{attn|mlp}``. A schedule that forecasts (``reuse:
forecast``) adds ``cache_{block}_{attn|mlp}_delta`` slots, the difference of a module's last two computed
outputs, and its lazy graphs feed ``cache + r * delta`` with r baked in per step pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .diffusion import ALL_CHANNELS, cfg_batch, check_guidance_rule, ddim_update, eps_of
from .gates import MODULES
from .model import DiT
from .schedule import Schedule


def slot_name(block: int, module: int, delta: bool = False) -> str:
    return f"cache_{block}_{MODULES[module]}" + ("_delta" if delta else "")


def parse_slot(slot: str) -> tuple[int, int, bool]:
    """``cache_{block}_{attn|mlp}[_delta]`` back to (block, module, is_delta)."""
    parts = slot.split("_")
    return int(parts[1]), MODULES.index(parts[2]), len(parts) == 4 and parts[3] == "delta"


@dataclass(frozen=True)
class Variant:
    """A distinct step pattern; every tuple is sorted by (block, module).

    ``skip``: modules that reuse; ``write``: computed modules whose output a later step reads;
    ``forecast``: skipped modules that extrapolate, with their ratio r (``cache + r * delta``);
    ``delta``: computed modules that also write ``new - old`` for a later forecast (so they read the old cache).
    """

    name: str
    skip: tuple[tuple[int, int], ...]
    write: tuple[tuple[int, int], ...]
    forecast: tuple[tuple[int, int, float], ...] = ()
    delta: tuple[tuple[int, int], ...] = ()

    @property
    def reads(self) -> list[str]:
        return (
            [slot_name(b, m) for b, m in self.skip]
            + [slot_name(b, m, True) for b, m, _ in self.forecast]
            + [slot_name(b, m) for b, m in self.delta]
        )

    @property
    def writes(self) -> list[str]:
        return [slot_name(b, m) for b, m in self.write] + [slot_name(b, m, True) for b, m in self.delta]

    @property
    def input_names(self) -> list[str]:
        return ["x", "t", "y", "coef", *self.reads]

    @property
    def output_names(self) -> list[str]:
        return ["x_next", *[f"new_{s}" for s in self.writes]]

    @property
    def forecast_ratios(self) -> dict[str, float]:
        """Per read delta slot, the ratio r the graph bakes in (the manifest records it)."""
        return {slot_name(b, m, True): r for b, m, r in self.forecast}

    @classmethod
    def from_manifest(cls, v: dict) -> Variant:
        """The variant a manifest entry describes (its name, the slots it reads and writes, its forecast ratios)."""
        writes = [parse_slot(s) for s in v["writes"]]
        delta = tuple((b, m) for b, m, d in writes if d)
        write = tuple((b, m) for b, m, d in writes if not d)
        skip = tuple((b, m) for b, m, d in (parse_slot(s) for s in v["reads"]) if not d and (b, m) not in delta)
        forecast = tuple(sorted((*parse_slot(s)[:2], float(r)) for s, r in v.get("forecast", {}).items()))
        return cls(v["name"], skip, write, forecast, delta)


def step_patterns(schedule: Schedule) -> list[tuple[tuple, tuple, tuple, tuple]]:
    """(skip, write, forecast, delta) per step, as :class:`Variant` holds them.

    A computed module writes its slot when the next step reuses it, or, when forecasting, when its next
    computation writes a delta (which needs this output as the old value). A skip forecasts when its module
    has been computed at least twice; r = (t - t1) / (t1 - t2) over the timesteps of the last two computations.
    """
    S, D = schedule.num_steps, schedule.depth
    ts = schedule.timesteps
    forecasting = schedule.reuse == "forecast"
    computed = {(b, m): [i for i in range(S) if not schedule.skip[i][b][m]] for b in range(D) for m in range(2)}

    def skips(i: int, b: int, m: int) -> bool:
        return i < S and bool(schedule.skip[i][b][m])

    def writes_delta(i: int, b: int, m: int) -> bool:
        return forecasting and skips(i + 1, b, m) and any(j < i for j in computed[(b, m)])

    out = []
    for i in range(S):
        skip, write, forecast, delta = [], [], [], []
        for b in range(D):
            for m in range(2):
                done = [j for j in computed[(b, m)] if j < i]
                if schedule.skip[i][b][m]:
                    skip.append((b, m))
                    if forecasting and len(done) >= 2:
                        t1, t2 = ts[done[-1]], ts[done[-2]]
                        forecast.append((b, m, round((ts[i] - t1) / (t1 - t2), 9)))
                    continue
                later = [j for j in computed[(b, m)] if j > i]
                if skips(i + 1, b, m) or (later and writes_delta(later[0], b, m)):
                    write.append((b, m))
                if writes_delta(i, b, m):
                    delta.append((b, m))
        out.append((tuple(skip), tuple(write), tuple(forecast), tuple(delta)))
    return out


def plan_variants(schedule: Schedule) -> tuple[list[Variant], list[str]]:
    """The distinct variants (first-use order) and the variant name of each step."""
    variants: dict[tuple, Variant] = {}
    per_step = []
    for key in step_patterns(schedule):
        if key not in variants:
            name = "dense" if not any(key) else f"v{len(variants)}"
            if name == "dense" and any(v.name == "dense" for v in variants.values()):
                name = f"v{len(variants)}"
            variants[key] = Variant(name, *key)
        per_step.append(variants[key].name)
    return list(variants.values()), per_step


class StepGraph(nn.Module):
    """One sampling step of a fixed pattern, with CFG (by ``guidance_rule``) and the DDIM update inside."""

    def __init__(
        self, dit: DiT, variant: Variant, cfg_scale: float, clip_denoised: bool, guidance_rule: str = ALL_CHANNELS
    ):
        super().__init__()
        self.dit = dit
        self.variant = variant
        self.cfg_scale = float(cfg_scale)
        self.guidance_rule = check_guidance_rule(guidance_rule)
        self.clip_denoised = bool(clip_denoised)
        self.skip = set(variant.skip)
        self.read_index = {name: i for i, name in enumerate(variant.reads)}
        self.ratio = {(b, m): r for b, m, r in variant.forecast}
        self.write_set = set(variant.write)
        self.delta_set = set(variant.delta)
        H = dit.config.hidden_size
        dtype = next(dit.parameters()).dtype
        self.register_buffer("avg", torch.full((1, H), 1.0 / H, dtype=dtype), persistent=False)
        self.register_buffer("eps", torch.full((1,), 1e-6, dtype=dtype), persistent=False)
        self.register_buffer("eps_mlp", torch.full((1,), dit.config.mlp_norm_eps, dtype=dtype), persistent=False)

    def _norm(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        # LayerNorm without affine, with the two means written as linear layers with constant 1/H weights:
        # XNNPACK delegates linear layers but not a mean over the hidden axis of a 3-D tensor.
        mean = F.linear(x, self.avg)
        xc = x - mean
        var = F.linear(xc * xc, self.avg)
        # eps as a (1,) tensor, not a Python scalar: Core ML's linear+bias fusion cannot take a 0-d bias.
        return xc * torch.rsqrt(var + (self.eps if eps is None else eps))

    @property
    def input_names(self) -> list[str]:
        return self.variant.input_names

    @property
    def output_names(self) -> list[str]:
        return self.variant.output_names

    @staticmethod
    def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
        # Written out: XNNPACK lowers aten.gelu to its exact (erf) GELU whatever the `approximate` argument says,
        # which moves DiT's tanh-approximated MLP outputs by ~1e-3.
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, coef: torch.Tensor, *caches: torch.Tensor):
        dit = self.dit
        H = dit.config.hidden_size
        xin, yin = cfg_batch(x, y, dit.config.num_classes, self.cfg_scale)
        tt = t.expand(xin.shape[0])
        tokens = dit.x_embedder(xin) + dit.pos_embed
        # c as (B', 1, H) so that every modulation broadcasts over tokens without unsqueeze ops.
        c = (dit.t_embedder(tt) + dit.y_embedder.embedding_table(yin)).unsqueeze(1)
        written = {}
        for b, block in enumerate(dit.blocks):
            mod = block.adaLN_modulation(c)
            # Static slices instead of chunk(): XNNPACK takes slices, not split_with_sizes.
            parts = [mod[:, :, k * H : (k + 1) * H] for k in range(6)]
            for m in range(2):
                shift, scale, gate = parts[3 * m], parts[3 * m + 1], parts[3 * m + 2]
                module = block.attn if m == 0 else block.mlp
                if (b, m) in self.skip:
                    out = caches[self.read_index[slot_name(b, m)]]
                    if (b, m) in self.ratio:
                        out = out + self.ratio[(b, m)] * caches[self.read_index[slot_name(b, m, True)]]
                else:
                    z = self._norm(tokens, self.eps if m == 0 else self.eps_mlp) * (1 + scale) + shift
                    out = module(z) if m == 0 else module.fc2(self._gelu_tanh(module.fc1(z)))
                    if (b, m) in self.write_set:
                        written[slot_name(b, m)] = out
                    if (b, m) in self.delta_set:
                        written[slot_name(b, m, True)] = out - caches[self.read_index[slot_name(b, m)]]
                tokens = tokens + gate * out
        fmod = dit.final_layer.adaLN_modulation(c)
        shift, scale = fmod[:, :, :H], fmod[:, :, H:]
        model_out = dit.unpatchify(dit.final_layer.linear(self._norm(tokens) * (1 + scale) + shift))
        eps = eps_of(model_out, dit.config.in_channels, self.cfg_scale, self.guidance_rule)
        x_next = ddim_update(x, eps, coef, self.clip_denoised)
        return (x_next, *(written[name] for name in self.variant.writes))


def example_inputs(
    dit: DiT, variant: Variant, batch: int, cfg_scale: float, dtype: torch.dtype = torch.float32, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Inputs of the right shapes and dtypes (random values) for tracing and parity checks."""
    c = dit.config
    g = torch.Generator().manual_seed(seed)
    bb = batch * (2 if cfg_scale != 1.0 else 1)
    x = torch.randn(batch, c.in_channels, c.input_size, c.input_size, generator=g).to(dtype)
    t = torch.tensor([500.0], dtype=torch.float32)
    y = torch.arange(batch, dtype=torch.int32) % c.num_classes
    coef = torch.tensor([1.2, 0.6, 0.9, 0.4], dtype=dtype)
    caches = tuple(torch.randn(bb, c.num_patches, c.hidden_size, generator=g).to(dtype) for _ in variant.reads)
    return (x, t, y, coef, *caches)


class DecodeGraph(nn.Module):
    """A latent model's VAE decoder as one more graph: latents (B, 4, h, w) to images (B, 3, 8h, 8w) in [-1, 1]."""

    input_names = ["latent"]
    output_names = ["image"]

    def __init__(self, vae, scale: float):
        super().__init__()
        self.vae = vae
        self.scale = float(scale)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latent / self.scale).sample.clamp(-1.0, 1.0)
