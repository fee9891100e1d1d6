"""Decoding latents of a latent DiT with a user-supplied local VAE folder (``diffusers.AutoencoderKL``).

No hub access: the folder must hold ``config.json`` and the weights (``diffusion_pytorch_model.safetensors``),
as ``AutoencoderKL.save_pretrained`` writes them. Pixel-space models need no VAE.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lazydit.errors import UserError

# The Stable Diffusion VAE's latent scale, used by DiT's sampler.
SD_LATENT_SCALE = 0.18215


def load_vae(folder: str | Path):
    """An ``AutoencoderKL`` in eval mode from a local folder; one-line errors for anything missing."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise UserError(
            f"VAE folder {folder} has no config.json; pass --vae with a folder written by "
            "AutoencoderKL.save_pretrained (e.g. a local copy of stabilityai/sd-vae-ft-ema)"
        )
    try:
        from diffusers import AutoencoderKL
    except ImportError as e:
        raise UserError(f"decoding latents needs diffusers ({e}); pip install diffusers") from None
    try:
        vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the VAE in {folder} ({str(e).splitlines()[0][:160]})") from None
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def decode_latents(vae, latents: torch.Tensor, scale: float = SD_LATENT_SCALE) -> torch.Tensor:
    """Latents (B, 4, h, w) to images (B, 3, 8h, 8w) in [-1, 1], as DiT's sample.py does."""
    return vae.decode(latents / scale).sample.clamp(-1.0, 1.0)


# AutoencoderKL layouts built with random weights where only the architecture matters (latency, the latent
# demo, tests); the values do not. ``sd-vae`` is the Stable Diffusion VAE that DiT-XL/2-256 decodes with.
RANDOM_VAES = {
    "sd-vae": dict(blocks=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32, sample_size=256),
    # The same four blocks and 8x upsampling, narrow enough to export in a minute on a CPU.
    "sd-vae-narrow": dict(blocks=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8, sample_size=64),
    # Two blocks (2x upsampling), for tests.
    "tiny": dict(blocks=(8, 8), layers_per_block=1, norm_num_groups=4, sample_size=16),
}


def random_vae(folder: Path, architecture: str, force: bool = False) -> Path:
    """``folder`` holding an AutoencoderKL of one of :data:`RANDOM_VAES` with seeded random weights, written
    unless it is there already (or ``force``)."""
    if architecture not in RANDOM_VAES:
        raise UserError(f"unknown decoder architecture {architecture!r}; choose one of {', '.join(RANDOM_VAES)}")
    if force or not (folder / "config.json").is_file():
        from diffusers import AutoencoderKL

        a = RANDOM_VAES[architecture]
        torch.manual_seed(0)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=a["blocks"],
            down_block_types=("DownEncoderBlock2D",) * len(a["blocks"]),
            up_block_types=("UpDecoderBlock2D",) * len(a["blocks"]),
            layers_per_block=a["layers_per_block"],
            norm_num_groups=a["norm_num_groups"],
            sample_size=a["sample_size"],
        )
        vae.save_pretrained(folder)
    return folder
