"""Diffusion Transformer with the exact parameter names of facebookresearch/DiT ``models.py``.

A state_dict written by the official code loads here unchanged and gives the same outputs. The module
layout (``x_embedder.proj``, ``t_embedder.mlp``, ``y_embedder.embedding_table``, ``blocks.N.attn.qkv``,
``blocks.N.mlp.fc1``, ``final_layer.adaLN_modulation.1`` ...) is kept flat and explicit for that reason;
nothing here depends on timm.

Each block exposes its two lazy-able modules separately (``attn_input``/``attn`` and ``mlp_input``/``mlp``)
so that the lazy forward in :mod:`lazydit.export.lazy_dit` can skip either one and reuse a cached output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

# How to sample a model that says nothing about it: the official latent DiT samplers' settings.
DEFAULT_SAMPLING = {"cfg_scale": 1.5, "clip_denoised": False, "num_steps": 50}


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


@dataclass(frozen=True)
class DiTConfig:
    """Everything needed to rebuild a DiT; stored next to every checkpoint and in every bundle."""

    input_size: int = 32
    patch_size: int = 2
    in_channels: int = 4
    hidden_size: int = 1152
    depth: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    class_dropout_prob: float = 0.1
    num_classes: int = 1000
    learn_sigma: bool = True
    # Two details in which diffusers' DiT differs from the official one, kept so that a diffusers folder gives
    # diffusers' outputs: the eps of the LayerNorm before each MLP (its norm_eps, 1e-5 by default; official 1e-6)
    # and the timestep frequencies exp(-ln(10000) i / (half - shift)) (its downscale_freq_shift, 1; official 0).
    mlp_norm_eps: float = 1e-6
    timestep_freq_shift: int = 0

    def __post_init__(self) -> None:
        # A config comes from a file or a command line: refuse what no DiT can be, with the reason.
        for name in ("input_size", "patch_size", "in_channels", "hidden_size", "depth", "num_heads", "num_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"{self.num_heads} heads do not divide hidden size {self.hidden_size}")
        if self.input_size % self.patch_size:
            raise ValueError(f"patch size {self.patch_size} does not divide input size {self.input_size}")
        if not (isinstance(self.mlp_ratio, (int, float)) and math.isfinite(self.mlp_ratio) and self.mlp_ratio > 0):
            raise ValueError(f"mlp_ratio must be a positive number, got {self.mlp_ratio!r}")
        if not (isinstance(self.class_dropout_prob, (int, float)) and 0 <= self.class_dropout_prob < 1):
            raise ValueError(f"class_dropout_prob must be in [0, 1), got {self.class_dropout_prob!r}")
        if not (isinstance(self.mlp_norm_eps, (int, float)) and 0 < self.mlp_norm_eps < 1):
            raise ValueError(f"mlp_norm_eps must be in (0, 1), got {self.mlp_norm_eps!r}")
        if self.timestep_freq_shift not in (0, 1):
            raise ValueError(f"timestep_freq_shift must be 0 or 1, got {self.timestep_freq_shift!r}")

    @property
    def out_channels(self) -> int:
        return self.in_channels * 2 if self.learn_sigma else self.in_channels

    @property
    def num_patches(self) -> int:
        return (self.input_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        # The diffusers-only fields are written only when they differ from the official values, so that the
        # config of every official-layout model (in checkpoints and manifests) reads as before.
        d = asdict(self)
        for name in ("mlp_norm_eps", "timestep_freq_shift"):
            if d[name] == self.__dataclass_fields__[name].default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DiTConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown DiT config keys {sorted(unknown)}")
        return cls(**d)

    def with_(self, **kw) -> DiTConfig:
        return replace(self, **kw)


#################################################################################
#               Embedding Layers for Timesteps and Class Labels                 #
#################################################################################


class PatchEmbed(nn.Module):
    """Image to patch tokens; the parameter lives at ``proj`` as in timm's PatchEmbed."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int, bias: bool = True):
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    """Embeds scalar timesteps into vector representations."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256, freq_shift: int = 0):
        super().__init__()
        self.freq_shift = freq_shift
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def frequencies(dim: int, max_period: int = 10000, freq_shift: int = 0, device=None) -> torch.Tensor:
        """The ``dim // 2`` frequencies of :meth:`timestep_embedding` (float32)."""
        half = dim // 2
        return torch.exp(
            -math.log(max_period)
            * torch.arange(start=0, end=half, dtype=torch.float32, device=device)
            / (half - freq_shift)
        )

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: int = 10000, freq_shift: int = 0) -> torch.Tensor:
        """Sinusoidal embeddings of (possibly fractional) timesteps, cos half first as in DiT (``freq_shift`` 1:
        diffusers' frequencies)."""
        freqs = TimestepEmbedder.frequencies(dim, max_period, freq_shift, t.device)
        args = t[:, None].float() * freqs[None]
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
        return embedding

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t_freq = self.timestep_embedding(t, self.frequency_embedding_size, freq_shift=self.freq_shift)
        # The sinusoids are always computed in fp32 (t reaches 999); the MLP runs in the weights' dtype.
        return self.mlp(t_freq.to(self.mlp[0].weight.dtype))


class LabelEmbedder(nn.Module):
    """Embeds class labels; index ``num_classes`` is the null class used by classifier-free guidance."""

    def __init__(self, num_classes: int, hidden_size: int, dropout_prob: float):
        super().__init__()
        use_cfg_embedding = dropout_prob > 0
        self.embedding_table = nn.Embedding(num_classes + use_cfg_embedding, hidden_size)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def token_drop(self, labels: torch.Tensor, force_drop_ids: torch.Tensor | None = None) -> torch.Tensor:
        if force_drop_ids is None:
            drop_ids = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
        else:
            drop_ids = force_drop_ids == 1
        return torch.where(drop_ids, self.num_classes, labels)

    def forward(self, labels: torch.Tensor, train: bool, force_drop_ids: torch.Tensor | None = None) -> torch.Tensor:
        use_dropout = self.dropout_prob > 0
        if (train and use_dropout) or (force_drop_ids is not None):
            labels = self.token_drop(labels, force_drop_ids)
        return self.embedding_table(labels)


#################################################################################
#                                 Core DiT Model                                #
#################################################################################


class Attention(nn.Module):
    """Multi-head self-attention with timm's parameter names (``qkv``, ``proj``)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        assert dim % num_heads == 0, "hidden size must be divisible by the number of heads"
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        h, d = self.num_heads, self.head_dim
        qkv = self.qkv(x)
        # Same math as timm's Attention, written with 3-D batched matmuls and static slices: these lower to
        # XNNPACK, Core ML and ONNX without the expand/select/masking ops that 4-D matmul and SDPA decompose into.
        q = qkv[:, :, :C].reshape(B, N, h, d).permute(0, 2, 1, 3).reshape(B * h, N, d)
        k = qkv[:, :, C : 2 * C].reshape(B, N, h, d).permute(0, 2, 1, 3).reshape(B * h, N, d)
        v = qkv[:, :, 2 * C :].reshape(B, N, h, d).permute(0, 2, 1, 3).reshape(B * h, N, d)
        attn = torch.bmm(q * self.scale, k.transpose(1, 2)).softmax(dim=-1)
        x = torch.bmm(attn, v).reshape(B, h, N, d).permute(0, 2, 1, 3).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    """Feed-forward with timm's parameter names (``fc1``, ``fc2``) and tanh-approximated GELU."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerNormNoAffine(nn.Module):
    """LayerNorm without parameters, written with mean/var so that XNNPACK can take all of it."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.hidden_size = hidden_size
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        xc = x - mean
        var = (xc * xc).mean(dim=-1, keepdim=True)
        return xc * torch.rsqrt(var + self.eps)


class DiTBlock(nn.Module):
    """A DiT block with adaptive layer norm zero (adaLN-Zero) conditioning."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0, mlp_norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = LayerNormNoAffine(hidden_size, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads=num_heads, qkv_bias=True)
        self.norm2 = LayerNormNoAffine(hidden_size, eps=mlp_norm_eps)
        self.mlp = Mlp(in_features=hidden_size, hidden_features=int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True))

    def modulation(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp)."""
        return self.adaLN_modulation(c).chunk(6, dim=1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.modulation(c)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    """The final layer of DiT."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = LayerNormNoAffine(hidden_size, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        x = modulate(self.norm_final(x), shift, scale)
        return self.linear(x)


class DiT(nn.Module):
    """Diffusion model with a Transformer backbone."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        self.learn_sigma = config.learn_sigma
        self.in_channels = config.in_channels
        self.out_channels = config.out_channels
        self.patch_size = config.patch_size
        self.num_heads = config.num_heads

        self.x_embedder = PatchEmbed(config.input_size, config.patch_size, config.in_channels, config.hidden_size)
        self.t_embedder = TimestepEmbedder(config.hidden_size, freq_shift=config.timestep_freq_shift)
        self.y_embedder = LabelEmbedder(config.num_classes, config.hidden_size, config.class_dropout_prob)
        num_patches = self.x_embedder.num_patches
        # Fixed sin-cos embedding, stored in the state_dict as the official code does.
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, config.hidden_size), requires_grad=False)

        self.blocks = nn.ModuleList(
            [
                DiTBlock(config.hidden_size, config.num_heads, config.mlp_ratio, config.mlp_norm_eps)
                for _ in range(config.depth)
            ]
        )
        self.final_layer = FinalLayer(config.hidden_size, config.patch_size, self.out_channels)
        # How this model is meant to be sampled and what its classes are called; checkpoints of ours carry
        # both in their metadata (see lazydit.export.checkpoint).
        self.sampling_defaults = dict(DEFAULT_SAMPLING)
        self.class_names: list[str] | None = None
        # A diffusers folder's vae/ (the decoder a bundle of this model gets unless --vae names another).
        self.vae_folder = None
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def _basic_init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

        self.apply(_basic_init)

        pos_embed = get_2d_sincos_pos_embed(self.pos_embed.shape[-1], int(self.x_embedder.num_patches**0.5))
        self.pos_embed.data.copy_(torch.from_numpy(pos_embed).float().unsqueeze(0))

        w = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.constant_(self.x_embedder.proj.bias, 0)

        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)

        # adaLN-Zero: every block starts as the identity.
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, patch_size**2 * C) -> (N, C, H, W)."""
        c = self.out_channels
        p = self.x_embedder.patch_size
        h = w = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def embed(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens and the conditioning vector c = t_emb + y_emb (labels are used as given)."""
        tokens = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y, self.training)
        return tokens, c

    def head(self, tokens: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.unpatchify(self.final_layer(tokens, c))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) images or latents, t: (N,) diffusion timesteps, y: (N,) class labels."""
        tokens, c = self.embed(x, t, y)
        for block in self.blocks:
            tokens = block(tokens, c)
        return self.head(tokens, c)

    def forward_with_cfg(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, cfg_scale: float, rule: str = "all-channels"
    ) -> torch.Tensor:
        """Classifier-free guidance over a batch whose second half holds the null labels.

        ``rule`` says which output channels are guided: ``all-channels`` (the ``in_channels`` eps channels, as
        diffusers' DiTPipeline) or ``official-3-channels`` (the first three output channels, as the official
        sampler does "for exact reproducibility"; the other channels keep each half's own values).
        """
        half = x[: len(x) // 2]
        combined = torch.cat([half, half], dim=0)
        model_out = self.forward(combined, t, y)
        if rule not in ("all-channels", "official-3-channels"):
            raise ValueError(f"unknown guidance rule {rule!r}")
        guided = 3 if rule == "official-3-channels" else self.in_channels
        eps, rest = model_out[:, :guided], model_out[:, guided:]
        cond_eps, uncond_eps = torch.split(eps, len(eps) // 2, dim=0)
        half_eps = uncond_eps + cfg_scale * (cond_eps - uncond_eps)
        eps = torch.cat([half_eps, half_eps], dim=0)
        return torch.cat([eps, rest], dim=1)


#################################################################################
#                   Sine/Cosine Positional Embedding Functions                  #
#################################################################################


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int) -> np.ndarray:
    """(grid_size*grid_size, embed_dim) fixed embedding, in the official code's layout."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # w goes first, as in MAE/DiT
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def get_1d_sincos_pos_embed_from_grid(embed_dim: int, pos: np.ndarray) -> np.ndarray:
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000**omega
    pos = pos.reshape(-1)
    out = np.einsum("m,d->md", pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


#################################################################################
#                                   Configs                                     #
#################################################################################

_SIZES = {
    "XL": dict(depth=28, hidden_size=1152, num_heads=16),
    "L": dict(depth=24, hidden_size=1024, num_heads=16),
    "B": dict(depth=12, hidden_size=768, num_heads=12),
    "S": dict(depth=12, hidden_size=384, num_heads=6),
    # Small sizes for tests and pixel-space toy models.
    "Tiny": dict(depth=2, hidden_size=32, num_heads=2),
    "Mini": dict(depth=4, hidden_size=64, num_heads=4),
}

DiT_models: dict[str, DiTConfig] = {}
for _size, _kw in _SIZES.items():
    for _patch in (2, 4, 8):
        DiT_models[f"DiT-{_size}/{_patch}"] = DiTConfig(patch_size=_patch, **_kw)


def config_from_name(name: str, **overrides) -> DiTConfig:
    """Official configs by name (e.g. ``DiT-XL/2``) with optional overrides (``input_size=64``...)."""
    if name not in DiT_models:
        raise KeyError(f"unknown model '{name}'; choose one of {', '.join(DiT_models)}")
    return DiT_models[name].with_(**overrides)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters; the fixed pos_embed counts as in the official script (it is a Parameter)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def randomize_weights(model: nn.Module, std: float = 0.02) -> nn.Module:
    """Draw every parameter but ``pos_embed`` from N(0, std) with torch's global generator, in place.

    For models whose values do not matter (latency, bundle size, parity tests): adaLN-Zero starts at zero, which
    would make every block the identity and let a bundle store identical zero tensors once.
    """
    for name, p in model.named_parameters():
        if name != "pos_embed":
            p.normal_(0.0, std)
    return model
