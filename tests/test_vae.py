"""The latent path: a local AutoencoderKL folder decodes DiT latents; bad folders give one-line errors."""

import pytest
import torch

from lazydit.errors import UserError
from lazydit.export.vae import decode_latents, load_vae, random_vae


def _tiny_vae_folder(tmp_path):
    from diffusers import AutoencoderKL

    folder = random_vae(tmp_path / "vae", "tiny")
    return folder, AutoencoderKL.from_pretrained(str(folder), local_files_only=True)


def test_local_vae_decodes_latents(tmp_path):
    folder, original = _tiny_vae_folder(tmp_path)
    vae = load_vae(folder)
    latents = torch.randn(2, 4, 8, 8)
    images = decode_latents(vae, latents)
    assert images.shape == (2, 3, 16, 16)  # two up blocks: one 2x upsampling
    assert images.min() >= -1 and images.max() <= 1
    with torch.no_grad():
        expected = original.eval().decode(latents / 0.18215).sample.clamp(-1, 1)
    torch.testing.assert_close(images, expected)


def test_missing_vae_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="config.json"):
        load_vae(tmp_path / "nowhere")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="cannot load the VAE"):
        load_vae(tmp_path / "broken")
