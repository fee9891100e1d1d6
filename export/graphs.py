"""Graph variants: one static graph per distinct step pattern of a schedule.

A step's pattern is (modules it skips, module outputs it must hand to a later step). Identical patterns share
one graph. Each graph bakes in classifier-free guidance (cond/null batch, guidance scale and rule) and the eta-0
DDIM update, so the device-side scheduler only moves tensors:

    inputs : x (B,C,H,W), t (1,) float32, y (B,) int32, coef (4,), [ratio (F,)], then the cache slots it reads
    outputs: x_next (B,C,H,W), then the cache slots it writes

A cache slot holds one module's output before its adaLN gate, for the whole CFG batch: (B', N, hidden) with
B' = 2B under guidance. Slot names are ``cache_{block}_{attn|mlp}``. A schedule that forecasts (``reuse:
forecast``) adds ``cache_{block}_{attn|mlp}_delta`` slots, the difference of a module's last two computed
outputs, and its lazy graphs feed ``cache + r * delta``. The ratios r differ from step to step, so they are not
baked in: a forecasting graph takes them as its ``ratio`` input (one per forecast slot, in ``ratio_slots`` order)
and the scheduler feeds each step's values from the manifest. Every skip of a forecasting schedule forecasts
(r = 0 while its module has only one computed output) and every computed module whose next step skips it writes
a delta (against a zero slot the first time), so a schedule has one graph per distinct *skip pattern*:
``interval:2`` forecasting is two graphs, as holding is.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .diffusion import ALL_CHANNELS, cfg_batch, check_guidance_rule, ddim_update, eps_of
from .gates import MODULES
from .model import DiT, TimestepEmbedder
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
    ``forecast``: skipped modules that extrapolate (``cache + r * delta``, r fed per step in ``ratio``);
    ``delta``: computed modules that also write ``new - old`` for a later forecast (so they read the old cache).
    """

    name: str
    skip: tuple[tuple[int, int], ...]
    write: tuple[tuple[int, int], ...]
    forecast: tuple[tuple[int, int], ...] = ()
    delta: tuple[tuple[int, int], ...] = ()

    @property
    def reads(self) -> list[str]:
        return (
            [slot_name(b, m) for b, m in self.skip]
            + [slot_name(b, m, True) for b, m in self.forecast]
            + [slot_name(b, m) for b, m in self.delta]
        )

    @property
    def writes(self) -> list[str]:
        return [slot_name(b, m) for b, m in self.write] + [slot_name(b, m, True) for b, m in self.delta]

    @property
    def ratio_slots(self) -> list[str]:
        """The delta slot each element of the ``ratio`` input scales, in order."""
        return [slot_name(b, m, True) for b, m in self.forecast]

    @property
    def input_names(self) -> list[str]:
        return ["x", "t", "y", "coef", *(["ratio"] if self.forecast else []), *self.reads]

    @property
    def output_names(self) -> list[str]:
        return ["x_next", *[f"new_{s}" for s in self.writes]]

    @classmethod
    def from_manifest(cls, v: dict) -> Variant:
        """The variant a manifest entry describes (schema 2: ``ratio_slots``; schema 1: a ``forecast`` table of
        baked-in ratios, which :func:`baked_ratios` returns)."""
        writes = [parse_slot(s) for s in v["writes"]]
        delta = tuple((b, m) for b, m, d in writes if d)
        write = tuple((b, m) for b, m, d in writes if not d)
        skip = tuple((b, m) for b, m, d in (parse_slot(s) for s in v["reads"]) if not d and (b, m) not in delta)
        forecast_slots = v.get("ratio_slots") or sorted(v.get("forecast", {}), key=parse_slot)
        forecast = tuple(parse_slot(s)[:2] for s in forecast_slots)
        return cls(v["name"], skip, write, forecast, delta)


def baked_ratios(v: dict) -> list[float] | None:
    """A schema-1 variant's forecast ratios, which its graphs bake in (None for schema 2 and for holding)."""
    table = v.get("forecast")
    if not table or "ratio_slots" in v:
        return None
    return [float(table[s]) for s in sorted(table, key=parse_slot)]


@dataclass(frozen=True)
class StepPlan:
    """One step's pattern (what selects its graph) and its forecast ratios (what the graph is fed)."""

    skip: tuple[tuple[int, int], ...]
    write: tuple[tuple[int, int], ...]
    forecast: tuple[tuple[int, int], ...]
    delta: tuple[tuple[int, int], ...]
    ratios: tuple[float, ...] = ()

    @property
    def key(self) -> tuple[tuple, tuple, tuple, tuple]:
        return self.skip, self.write, self.forecast, self.delta


def step_plans(schedule: Schedule) -> list[StepPlan]:
    """Per step: (skip, write, forecast, delta) as :class:`Variant` holds them, and the forecast ratios.

    A computed module writes its slot when the next step reuses it, or, when forecasting, when its next
    computation writes a delta (which needs this output as the old value). When forecasting, every skip
    forecasts and every computed module whose next step skips it writes a delta: the first time against the
    slot's initial zeros, a delta that the next skip multiplies by r = 0. Otherwise
    r = (t - t1) / (t1 - t2) over the timesteps of the module's last two computations.
    """
    S, D = schedule.num_steps, schedule.depth
    ts = schedule.timesteps
    forecasting = schedule.reuse == "forecast"
    computed = {(b, m): [i for i in range(S) if not schedule.skip[i][b][m]] for b in range(D) for m in range(2)}

    def skips(i: int, b: int, m: int) -> bool:
        return i < S and bool(schedule.skip[i][b][m])

    def writes_delta(i: int, b: int, m: int) -> bool:
        return forecasting and skips(i + 1, b, m)

    out = []
    for i in range(S):
        skip, write, forecast, delta, ratios = [], [], [], [], []
        for b in range(D):
            for m in range(2):
                done = [j for j in computed[(b, m)] if j < i]
                if schedule.skip[i][b][m]:
                    skip.append((b, m))
                    if forecasting:
                        forecast.append((b, m))
                        ratios.append(_ratio(ts[i], [ts[j] for j in done[-2:]]))
                    continue
                later = [j for j in computed[(b, m)] if j > i]
                if skips(i + 1, b, m) or (later and writes_delta(later[0], b, m)):
                    write.append((b, m))
                if writes_delta(i, b, m):
                    delta.append((b, m))
        out.append(StepPlan(tuple(skip), tuple(write), tuple(forecast), tuple(delta), tuple(ratios)))
    return out


def _ratio(t: int, last: list[int]) -> float:
    """r = (t - t1) / (t1 - t2) for the last two computations' timesteps [t2, t1]; 0 with fewer than two."""
    if len(last) < 2:
        return 0.0
    t2, t1 = last
    return round((t - t1) / (t1 - t2), 9)


def step_patterns(schedule: Schedule) -> list[tuple[tuple, tuple, tuple, tuple]]:
    """(skip, write, forecast, delta) per step (see :func:`step_plans`)."""
    return [p.key for p in step_plans(schedule)]


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


class Modulation(nn.Module):
    """Every block's adaLN modulation regrouped so that a step computes only the chunks it uses.

    ``blocks.N.adaLN_modulation.1`` maps c to six chunks per block: shift, scale and gate for attention, then for
    the MLP. A skipped module still needs its gate (its cached output is gated by the current step) but not its
    shift and scale. So the rows are copied into one linear for the gates of every block (index 2N + module),
    which an all-cached step evaluates as a single matrix-vector product, and one shift-and-scale linear per block
    and module, which only a step computing that module evaluates. Every graph of an export uses these same
    tensors, so the bundle still stores one copy (an ExecuTorch program keys weights by content).
    """

    def __init__(self, dit: DiT):
        super().__init__()
        H, D = dit.config.hidden_size, dit.config.depth
        ref = dit.blocks[0].adaLN_modulation[1].weight
        self.gates = nn.Linear(H, 2 * D * H, dtype=ref.dtype, device=ref.device)
        self.shift_scale = nn.ModuleList(nn.Linear(H, 2 * H, dtype=ref.dtype, device=ref.device) for _ in range(2 * D))
        rows = lambda *chunks: torch.cat([torch.arange(k * H, (k + 1) * H) for k in chunks])  # noqa: E731
        with torch.no_grad():
            for b, block in enumerate(dit.blocks):
                lin = block.adaLN_modulation[1]
                for m in range(2):
                    gate = rows(3 * m + 2)
                    self.gates.weight[(2 * b + m) * H : (2 * b + m + 1) * H] = lin.weight[gate]
                    self.gates.bias[(2 * b + m) * H : (2 * b + m + 1) * H] = lin.bias[gate]
                    self.shift_scale[2 * b + m].weight.copy_(lin.weight[rows(3 * m, 3 * m + 1)])
                    self.shift_scale[2 * b + m].bias.copy_(lin.bias[rows(3 * m, 3 * m + 1)])
        self.requires_grad_(False)


# One Modulation per DiT, built from its weights when a first graph asks for it and shared by every graph after.
_MODULATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def modulation_of(dit: DiT) -> Modulation:
    if dit not in _MODULATIONS:
        _MODULATIONS[dit] = Modulation(dit)
    return _MODULATIONS[dit]


class StepGraph(nn.Module):
    """One sampling step of a fixed pattern, with CFG (by ``guidance_rule``) and the DDIM update inside.

    Lean where a step is lazy: the adaLN rows of a skipped module's shift and scale are not evaluated (see
    :class:`Modulation`), the timestep embedding runs once for the whole batch from constant frequencies, and a
    skipped module costs its gate's multiply-add (and, forecasting, the ratio's).
    """

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
        self.ratio_index = {(b, m): k for k, (b, m) in enumerate(variant.forecast)}
        self.write_set = set(variant.write)
        self.delta_set = set(variant.delta)
        H = dit.config.hidden_size
        dtype = next(dit.parameters()).dtype
        self.register_buffer("avg", torch.full((1, H), 1.0 / H, dtype=dtype), persistent=False)
        self.register_buffer("eps", torch.full((1,), 1e-6, dtype=dtype), persistent=False)
        self.register_buffer("eps_mlp", torch.full((1,), dit.config.mlp_norm_eps, dtype=dtype), persistent=False)
        te = dit.t_embedder
        freqs = TimestepEmbedder.frequencies(te.frequency_embedding_size, freq_shift=te.freq_shift)
        # (1, F/2): t of shape (1,) broadcasts against it with no reshape op in the graph.
        self.register_buffer("freqs", freqs.view(1, -1), persistent=False)
        self.modulation = modulation_of(dit)

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

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, coef: torch.Tensor, *rest: torch.Tensor):
        dit = self.dit
        ratio, caches = (rest[0], rest[1:]) if self.variant.forecast else (None, rest)
        H = dit.config.hidden_size
        xin, yin = cfg_batch(x, y, dit.config.num_classes, self.cfg_scale)
        tokens = dit.x_embedder(xin) + dit.pos_embed
        te = dit.t_embedder
        t_freq = self.freqs * t  # the timestep embedding once, shared by the batch
        t_freq = torch.cat([torch.cos(t_freq), torch.sin(t_freq)], dim=-1)
        if te.frequency_embedding_size % 2:
            t_freq = torch.cat([t_freq, torch.zeros_like(t_freq[:, :1])], dim=-1)
        t_emb = te.mlp(t_freq.to(te.mlp[0].weight.dtype))
        # c as (B', 1, H) so that every modulation broadcasts over tokens without unsqueeze ops.
        c = (t_emb + dit.y_embedder.embedding_table(yin)).reshape(xin.shape[0], 1, H)
        silu_c = F.silu(c)
        gates = self.modulation.gates(silu_c)
        written = {}
        for b, block in enumerate(dit.blocks):
            for m in range(2):
                j = 2 * b + m
                # Static slices instead of chunk(): XNNPACK takes slices, not split_with_sizes.
                gate = gates[:, :, j * H : (j + 1) * H]
                module = block.attn if m == 0 else block.mlp
                if (b, m) in self.skip:
                    out = caches[self.read_index[slot_name(b, m)]]
                    if (b, m) in self.ratio_index:
                        k = self.ratio_index[(b, m)]
                        out = out + ratio[k : k + 1] * caches[self.read_index[slot_name(b, m, True)]]
                else:
                    ss = self.modulation.shift_scale[j](silu_c)
                    shift, scale = ss[:, :, :H], ss[:, :, H:]
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
    ratio = (torch.linspace(0.25, 1.0, len(variant.forecast)).to(dtype),) if variant.forecast else ()
    caches = tuple(torch.randn(bb, c.num_patches, c.hidden_size, generator=g).to(dtype) for _ in variant.reads)
    return (x, t, y, coef, *ratio, *caches)


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
