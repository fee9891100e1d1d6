"""Checkpoints: safetensors round trips, official .pt layouts, config inference, refusing unsafe pickles,
fingerprints, and gates files that must match their model."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import torch

from lazydit.errors import UserError
from lazydit.export.checkpoint import (
    CONFIG_METADATA_KEY,
    DEFAULT_SAMPLING,
    SAMPLING_METADATA_KEY,
    fingerprint,
    infer_config,
    load_dit,
    read_checkpoint,
    save_safetensors,
)
from lazydit.export.diffusion import ddim_timesteps
from lazydit.export.gates import GatesMeta, LazyGates, check_gates_match, load_gates, save_gates
from lazydit.export.model import DiT, config_from_name


def _probe(model, seed=0):
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)
    return x, torch.tensor([999, 500, 3]), torch.tensor([0, 1, cfg.num_classes])


@pytest.mark.parametrize("fixture", ["pixel_dit", "latent_dit"])
def test_safetensors_fp16_round_trip(fixture, request, tmp_path):
    model = request.getfixturevalue(fixture)
    path = tmp_path / "m.safetensors"
    sampling = {"cfg_scale": 3.0, "clip_denoised": True, "num_steps": 20}
    save_safetensors(model, path, sampling=sampling, extra={"note": 7})
    assert path.is_file() and not (tmp_path / "m.safetensors.tmp").exists()

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        assert set(f.keys()) == set(model.state_dict())
    assert CONFIG_METADATA_KEY in meta and SAMPLING_METADATA_KEY in meta and meta["note"] == "7"

    loaded = load_dit(path)
    assert loaded.config == model.config
    assert loaded.sampling_defaults == sampling
    assert not loaded.training
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in loaded.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.half().float(), rtol=0, atol=0)
    with torch.no_grad():
        a, b = model(*_probe(model)), loaded(*_probe(model))
    # fp16 weights: relative error of the order of 1e-3.
    torch.testing.assert_close(b, a, rtol=2e-2, atol=2e-2 * a.abs().max().item())
    assert (a - b).abs().max() > 0  # the weights really were rounded
    # The fingerprint ignores the fp16 rounding, so gates trained on the fp32 model stay valid.
    assert fingerprint(loaded) == fingerprint(model)


def test_safetensors_fp32_exact_and_default_sampling(pixel_dit, tmp_path):
    path = tmp_path / "m32.safetensors"
    save_safetensors(pixel_dit, path, dtype=torch.float32)
    loaded = load_dit(path)
    assert loaded.sampling_defaults == DEFAULT_SAMPLING
    with torch.no_grad():
        assert torch.equal(loaded(*_probe(pixel_dit)), pixel_dit(*_probe(pixel_dit)))


def test_fingerprint_changes_with_weights(make_dit, pixel_config):
    a, b = make_dit(pixel_config, seed=0), make_dit(pixel_config, seed=1)
    assert fingerprint(a) == fingerprint(make_dit(pixel_config, seed=0))
    assert fingerprint(a) != fingerprint(b)
    assert len(fingerprint(a)) == 64


def test_infer_config_from_raw_state_dict(pixel_dit, latent_dit):
    for model in (pixel_dit, latent_dit):
        sd = model.state_dict()
        with pytest.raises(UserError, match="head count"):
            infer_config(sd)  # hidden 32 is not an official size
        assert infer_config(sd, num_heads=2) == model.config
    # Official sizes need no head count; shapes suffice (a meta-device model has them without memory).
    for name in ("DiT-XL/2", "DiT-S/8", "DiT-B/4"):
        cfg = config_from_name(name)
        with torch.device("meta"):
            sd = DiT(cfg).state_dict()
        assert infer_config(sd) == cfg
    with pytest.raises(UserError, match="not a DiT state_dict"):
        infer_config({"weight": torch.zeros(3)})


def test_pt_plain_state_dict_and_official_training_checkpoint(pixel_dit, make_dit, pixel_config, tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save(pixel_dit.state_dict(), plain)
    loaded = load_dit(plain, num_heads=2)
    # An official .pt is sampled as the official sampler does: guidance on the first three channels.
    official = DEFAULT_SAMPLING | {"guidance_rule": "official-3-channels"}
    assert loaded.config == pixel_dit.config and loaded.sampling_defaults == official
    with torch.no_grad():
        assert torch.equal(loaded(*_probe(pixel_dit)), pixel_dit(*_probe(pixel_dit)))

    # The official train.py layout: model, ema, opt and args (an argparse.Namespace) in one dict.
    other = make_dit(pixel_config, seed=5)
    opt = torch.optim.AdamW(other.parameters(), lr=1e-4)
    full = tmp_path / "0400000.pt"
    torch.save(
        {
            "model": other.state_dict(),
            "ema": pixel_dit.state_dict(),
            "opt": opt.state_dict(),
            "args": argparse.Namespace(model="DiT-Tiny/4", image_size=16),
        },
        full,
    )
    ema = load_dit(full, config=pixel_config)
    assert fingerprint(ema) == fingerprint(pixel_dit)
    raw = load_dit(full, config=pixel_config, weights="model")
    assert fingerprint(raw) == fingerprint(other)
    sd, meta = read_checkpoint(full)
    cfg = meta.config
    assert cfg is None and set(sd) == set(pixel_dit.state_dict())


class _ShellPayload:
    """Pickles to a call of os.system: the classic malicious checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _StatefulObject:
    """An arbitrary class of ours: unpickling it would run __setstate__."""

    def __setstate__(self, state):
        Path(state["marker"]).write_text("ran")


@pytest.mark.parametrize("kind", ["os.system", "class"])
def test_pickle_with_code_is_refused(kind, pixel_dit, tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    if kind == "os.system":
        payload = _ShellPayload(marker)
    else:
        payload = _StatefulObject()
        payload.marker = str(marker)
    path = tmp_path / "evil.pt"
    torch.save({"ema": pixel_dit.state_dict(), "extra": payload}, path)
    assert not marker.exists()
    with pytest.raises(UserError, match="refused to unpickle") as info:
        load_dit(path, config=pixel_dit.config)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    assert not marker.exists(), "the pickled payload ran"


def test_missing_and_unreadable_files(tmp_path, pixel_dit):
    with pytest.raises(UserError, match="checkpoint not found"):
        load_dit(tmp_path / "nope.pt")
    bad_st = tmp_path / "junk.safetensors"
    bad_st.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(UserError):
        load_dit(bad_st)
    not_sd = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], not_sd)
    with pytest.raises(UserError, match="expected a state_dict"):
        load_dit(not_sd)


@pytest.mark.parametrize(
    "content", [b"", b"this is not a checkpoint at all", b"hello world"], ids=["empty", "text", "hello"]
)
def test_corrupt_pt_is_a_user_error(content, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(content)
    with pytest.raises(UserError, match=str(junk)):
        load_dit(junk)


def test_wrong_config_is_a_user_error(pixel_dit, tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(pixel_dit.state_dict(), path)
    # Another depth: keys are missing.
    with pytest.raises(UserError, match="does not match the DiT config"):
        load_dit(path, config=config_from_name("DiT-S/2"))
    # Same keys, other shapes (patch 2 instead of 4, default 32x32x4 input).
    with pytest.raises(UserError, match="has shape"):
        load_dit(path, config=config_from_name("DiT-Tiny/2"))
    # A config stored in safetensors metadata is overridden by an explicit one, and checked the same way.
    st = tmp_path / "tiny.safetensors"
    save_safetensors(pixel_dit, st)
    with pytest.raises(UserError, match="does not match|has shape"):
        load_dit(st, config=config_from_name("DiT-Mini/4"))


def _meta_for(model, num_steps=10, fp=None):
    cfg = model.config
    return GatesMeta(
        num_steps=num_steps,
        timesteps=tuple(ddim_timesteps(num_steps)),
        depth=cfg.depth,
        hidden_size=cfg.hidden_size,
        num_patches=cfg.num_patches,
        model_fingerprint=fingerprint(model) if fp is None else fp,
        cfg_scale=2.5,
        max_cache_age=2,
    )


def test_gates_save_load_round_trip(pixel_dit, tmp_path):
    gates = LazyGates(10, 2, 32)
    torch.manual_seed(0)
    with torch.no_grad():
        gates.attn.weight.normal_()
        gates.mlp.weight.normal_()
    meta = _meta_for(pixel_dit)
    path = tmp_path / "sub" / "g.safetensors"
    save_gates(path, gates, meta)
    loaded, lmeta = load_gates(path)
    assert lmeta == meta
    assert torch.equal(loaded.attn.weight, gates.attn.weight) and torch.equal(loaded.mlp.weight, gates.mlp.weight)
    check_gates_match(lmeta, pixel_dit.config, fingerprint(pixel_dit), 10, path)  # no error


def test_load_gates_errors(pixel_dit, tmp_path):
    with pytest.raises(UserError, match="gates file not found"):
        load_gates(tmp_path / "none.safetensors")
    model_file = tmp_path / "model.safetensors"
    save_safetensors(pixel_dit, model_file)
    with pytest.raises(UserError, match="not a lazydit gates file"):
        load_gates(model_file)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"nope")
    with pytest.raises(UserError):
        load_gates(junk)


def test_gates_for_another_model_are_refused(pixel_dit, latent_dit, make_dit, pixel_config, tmp_path):
    path = tmp_path / "g.safetensors"
    meta = _meta_for(pixel_dit)
    # Other architecture (same depth and hidden, other token count).
    other_arch = config_from_name("DiT-Tiny/2", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    with pytest.raises(UserError, match="gates are for a model with depth 2, hidden 32, 16 tokens"):
        check_gates_match(meta, other_arch, None, None, path)
    with pytest.raises(UserError, match="depth"):
        check_gates_match(meta, config_from_name("DiT-Mini/4", input_size=16), None, None, path)
    # Same architecture, other weights.
    other = make_dit(pixel_config, seed=9)
    with pytest.raises(UserError, match="trained for other weights"):
        check_gates_match(meta, pixel_config, fingerprint(other), None, path)
    # Other sampler step count.
    with pytest.raises(UserError, match="gates are for 10 sampling steps, not 20"):
        check_gates_match(meta, pixel_config, fingerprint(pixel_dit), 20, path)
    # Without a fingerprint on either side only the shapes are checked.
    check_gates_match(_meta_for(pixel_dit, fp=""), pixel_config, fingerprint(other), 10, path)
    check_gates_match(meta, pixel_config, None, 10, path)
