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
