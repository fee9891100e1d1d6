"""Shared fixtures: tiny DiT configs with random, non-trivial weights.

A freshly built DiT is adaLN-Zero initialised (every block is the identity and the final layer outputs zero),
which would make most lazy/dense comparisons vacuous; ``make_dit`` fills every parameter except the fixed
sin-cos ``pos_embed`` with scaled Gaussian noise so that every module contributes and outputs depend on
x, t and y.
"""
from __future__ import annotations

import os

# Keep progress bars out of the test output (tqdm >= 4.66 honours this variable).
os.environ.setdefault("TQDM_DISABLE", "1")

import pytest
import torch

from lazydit.export.model import DiT, DiTConfig, config_from_name


def randomize_(model: DiT, seed: int = 0) -> DiT:
    """Fill all parameters but ``pos_embed`` with noise scaled by fan-in (weights) or 0.1 (biases)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            if name.endswith("embedding_table.weight"):
                std = 1.0
            elif p.dim() >= 2:
                std = float(p[0].numel()) ** -0.5
            else:
                std = 0.1
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


@pytest.fixture
def pixel_config() -> DiTConfig:
    """Pixel-space toy: 16x16x1 images, patch 4 (16 tokens), hidden 32, depth 2, eps only."""
    return config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)


@pytest.fixture
def latent_config() -> DiTConfig:
    """Latent-style toy: 8x8x4 latents, patch 2 (16 tokens), hidden 32, depth 2, learned sigma."""
    return config_from_name("DiT-Tiny/2", input_size=8, in_channels=4, num_classes=10, learn_sigma=True)


@pytest.fixture
def make_dit():
    """Factory: ``make_dit(config, seed=0)`` -> a DiT in eval mode with random non-zero weights."""

    def _make(config: DiTConfig, seed: int = 0) -> DiT:
        torch.manual_seed(seed)
        model = randomize_(DiT(config), seed)
        model.eval()
        return model

    return _make


@pytest.fixture
def pixel_dit(make_dit, pixel_config) -> DiT:
    return make_dit(pixel_config)


@pytest.fixture
def latent_dit(make_dit, latent_config) -> DiT:
    return make_dit(latent_config)


@pytest.fixture(scope="session")
def tiny_executorch_bundle(tmp_path_factory):
    """A tiny bundle shared by the scheduler-port tests: DiT depth 2, hidden 32, 16x16x1 images, 10 DDIM steps,
    interval:2 schedule (two variants), ExecuTorch only, with its golden trace.

    ``--no-verify`` skips the exporter's own parity check (tested elsewhere); the tests using this bundle
    compare against the Python scheduler and the golden trace themselves.
    """
    import subprocess
    import sys

    import torch

    from lazydit.export.checkpoint import save_safetensors
    from lazydit.export.model import DiT, config_from_name

    work = tmp_path_factory.mktemp("tiny-executorch")
    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    torch.manual_seed(0)
    dit = DiT(cfg).eval()
    with torch.no_grad():
        for name, p in dit.named_parameters():
            if name != "pos_embed":
                p.normal_(0, 0.05)
    ckpt = work / "tiny.safetensors"
    save_safetensors(dit, str(ckpt), dtype=torch.float32,
                     sampling={"cfg_scale": 1.5, "clip_denoised": True, "num_steps": 10})
    out = work / "bundle"
    done = subprocess.run([sys.executable, "-m", "lazydit.cli", "export", "--checkpoint", str(ckpt),
                           "--schedule", "interval:2", "--steps", "10", "--targets", "executorch",
                           "--out", str(out), "--force", "--no-verify"],
                          capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "golden" / "trace.json").is_file(), "export wrote no golden trace"
    return out
