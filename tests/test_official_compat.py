"""Checks against fixtures written by the official facebookresearch/DiT code (scripts/make_official_golden.py):
its checkpoints load here and give its outputs, and our DDIM reproduces its respacing and sampler, guided
sampling included (the official rule guides the first three output channels only), eagerly and from a bundle."""

import json
from pathlib import Path

import pytest
import torch

from lazydit.export.checkpoint import load_dit
from lazydit.export.diffusion import ddim_timesteps, guidance_rule_of
from lazydit.export.lazy_dit import LazyDiT
from lazydit.export.sampling import ddim_sample
from lazydit.export.schedule import dense_schedule

DATA = Path(__file__).parent / "data" / "official"


@pytest.fixture(scope="module")
def official():
    return torch.load(DATA / "official_outputs.pt", weights_only=True), json.loads((DATA / "official.json").read_text())


@pytest.mark.parametrize("name", ["dit_tiny_raw.pt", "dit_tiny_train.pt"])
def test_official_checkpoint_gives_official_outputs(name, official):
    out, meta = official
    model = load_dit(DATA / name, num_heads=meta["config"]["num_heads"])
    cfg = model.config
    for k, v in meta["config"].items():
        assert getattr(cfg, k) == v, k
    with torch.no_grad():
        mine = model(out["x"], out["t"], out["y"])
        mine_cfg = model.forward_with_cfg(out["x"], out["t"], out["y"], 1.5, rule="official-3-channels")
        all_cfg = model.forward_with_cfg(out["x"], out["t"], out["y"], 1.5, rule="all-channels")
    torch.testing.assert_close(mine, out["out"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mine_cfg, out["out_cfg"], rtol=1e-5, atol=1e-5)
    # The rules differ only in the fourth eps channel, which the official rule leaves unguided.
    torch.testing.assert_close(all_cfg[:, :3], out["out_cfg"][:, :3], rtol=1e-5, atol=1e-5)
    assert (all_cfg[:, 3] - out["out_cfg"][:, 3]).abs().max() > 1e-2
    assert model.sampling_defaults["guidance_rule"] == "official-3-channels"


def test_respacing_matches_space_timesteps(official):
    _, meta = official
    for n, timestep_map in meta["ddim_timestep_map"].items():
        assert sorted(ddim_timesteps(int(n))) == timestep_map


@pytest.mark.parametrize("clip", [False, True])
def test_ddim_sampler_matches_official(clip, official):
    out, meta = official
    model = load_dit(DATA / "dit_tiny_raw.pt", num_heads=meta["config"]["num_heads"])
    res = ddim_sample(LazyDiT(model), out["ddim_labels"], out["ddim_noise"], 10, cfg_scale=1.0, clip_denoised=clip)
    torch.testing.assert_close(res.images, out[f"ddim10_clip{int(clip)}"], rtol=1e-4, atol=1e-4)


TRAJECTORY = "ddim10_cfg1.5_trajectory"


def test_guided_ddim_trajectory_matches_official(official):
    """Every x of the official guided sampler (10 steps, guidance 1.5): an official .pt is sampled with the
    official rule by default; guiding all four channels leaves that trajectory."""
    out, meta = official
    model = load_dit(DATA / "dit_tiny_raw.pt", num_heads=meta["config"]["num_heads"])
    noise, labels = out["ddim_noise"], out["ddim_labels"]
    res = ddim_sample(LazyDiT(model), labels, noise, 10, cfg_scale=1.5, clip_denoised=False, keep_trajectory=True)
    ref = out[TRAJECTORY]
    assert len(res.trajectory) == len(ref) == 11
    for i, (mine, theirs) in enumerate(zip(res.trajectory, ref)):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4, msg=lambda m, i=i: f"x before step {i}: {m}")
    other = ddim_sample(LazyDiT(model), labels, noise, 10, 1.5, clip_denoised=False, guidance_rule="all-channels")
    assert (other.images - ref[-1]).abs().max() > 1e-2


def test_bundle_of_an_official_checkpoint_reproduces_the_official_guided_sampler(official, tmp_path):
    """The rule is baked into the exported graphs and recorded in the manifest; the runtime's scheduler on
    onnxruntime ends where the official sampler does."""
    from lazydit.export.bundle import ExportOptions, export_bundle
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    out, meta = official
    model = load_dit(DATA / "dit_tiny_raw.pt", num_heads=meta["config"]["num_heads"])
    noise, labels = out["ddim_noise"], out["ddim_labels"]
    opts = ExportOptions(targets=("onnx",), batch=len(labels), cfg_scale=1.5, clip_denoised=False, name="official")
    m = export_bundle(model, dense_schedule(10, model.config.depth), tmp_path / "b", opts, progress=False)
    assert m["guidance"] == {"scale": 1.5, "rule": guidance_rule_of(model)} and m["guidance_scale"] == 1.5
    assert m["guidance"]["rule"] == "official-3-channels"
    bundle = load_bundle(tmp_path / "b")
    res = Scheduler(bundle, create_backend("onnxruntime", bundle)).run(labels.tolist(), noise=noise.numpy())
    torch.testing.assert_close(torch.from_numpy(res.latent), out[TRAJECTORY][-1], rtol=1e-4, atol=1e-4)
