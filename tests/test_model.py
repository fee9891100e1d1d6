"""The DiT module: official parameter names and shapes, configs, embeddings, patching and guidance."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lazydit.export.model import (
    DiT,
    DiT_models,
    DiTConfig,
    TimestepEmbedder,
    config_from_name,
    count_parameters,
    get_2d_sincos_pos_embed,
)


@pytest.fixture(scope="module")
def xl2():
    """DiT-XL/2 built once, on the meta device (no memory for its 675M parameters)."""
    cfg = config_from_name("DiT-XL/2")
    with torch.device("meta"):
        model = DiT(cfg)
    return cfg, model


def test_xl2_state_dict_keys_and_shapes(xl2):
    cfg, model = xl2
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    h, d = 1152, 28
    expected = {
        "pos_embed": (1, 256, h),
        "x_embedder.proj.weight": (h, 4, 2, 2),
        "x_embedder.proj.bias": (h,),
        "t_embedder.mlp.0.weight": (h, 256),
        "t_embedder.mlp.0.bias": (h,),
        "t_embedder.mlp.2.weight": (h, h),
        "t_embedder.mlp.2.bias": (h,),
        "y_embedder.embedding_table.weight": (1001, h),
        "final_layer.linear.weight": (2 * 2 * 8, h),
        "final_layer.linear.bias": (2 * 2 * 8,),
        "final_layer.adaLN_modulation.1.weight": (2 * h, h),
        "final_layer.adaLN_modulation.1.bias": (2 * h,),
    }
    for i in range(d):
        expected.update(
            {
                f"blocks.{i}.attn.qkv.weight": (3 * h, h),
                f"blocks.{i}.attn.qkv.bias": (3 * h,),
                f"blocks.{i}.attn.proj.weight": (h, h),
                f"blocks.{i}.attn.proj.bias": (h,),
                f"blocks.{i}.mlp.fc1.weight": (4 * h, h),
                f"blocks.{i}.mlp.fc1.bias": (4 * h,),
                f"blocks.{i}.mlp.fc2.weight": (h, 4 * h),
                f"blocks.{i}.mlp.fc2.bias": (h,),
                f"blocks.{i}.adaLN_modulation.1.weight": (6 * h, h),
                f"blocks.{i}.adaLN_modulation.1.bias": (6 * h,),
            }
        )
    # Exactly the official key set: nothing missing, nothing extra (e.g. no norm weights, no buffers).
    assert set(shapes) == set(expected)
    assert shapes == expected
    assert len(shapes) == 292


def test_xl2_parameter_count(xl2):
    _, model = xl2
    # The number printed by the official train.py ("DiT Parameters: 675,129,632"), pos_embed included.
    assert count_parameters(model) == 675_129_632
    assert count_parameters(model, trainable_only=True) == 675_129_632 - 256 * 1152


def test_all_official_configs_exist():
    sizes = {"S": (12, 384, 6), "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16)}
    for size, (depth, hidden, heads) in sizes.items():
        for patch in (2, 4, 8):
            cfg = config_from_name(f"DiT-{size}/{patch}")
            assert cfg == DiT_models[f"DiT-{size}/{patch}"]
            assert (cfg.depth, cfg.hidden_size, cfg.num_heads, cfg.patch_size) == (depth, hidden, heads, patch)
            assert (cfg.input_size, cfg.in_channels, cfg.num_classes, cfg.learn_sigma) == (32, 4, 1000, True)
            assert cfg.mlp_ratio == 4.0 and cfg.class_dropout_prob == 0.1
    official = {n for n in DiT_models if re.fullmatch(r"DiT-(S|B|L|XL)/(2|4|8)", n)}
    assert len(official) == 12
    # Plus this project's toy sizes: 6 sizes x 3 patch sizes in all.
    assert {n for n in DiT_models if n not in official} == {f"DiT-{s}/{p}" for s in ("Tiny", "Mini") for p in (2, 4, 8)}
    assert len(DiT_models) == 18
    with pytest.raises(KeyError, match="unknown model"):
        config_from_name("DiT-XXL/2")


def test_config_overrides_and_dict_round_trip():
    cfg = config_from_name("DiT-S/4", input_size=64, num_classes=10)
    assert (cfg.input_size, cfg.num_classes, cfg.depth) == (64, 10, 12)
    assert cfg.num_patches == (64 // 4) ** 2
    assert DiTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown DiT config keys"):
        DiTConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def _mae_sincos(embed_dim: int, grid_size: int) -> np.ndarray:
    """Independent re-statement of MAE/DiT's get_2d_sincos_pos_embed."""

    def one_d(dim, pos):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    ww, hh = np.meshgrid(np.arange(grid_size, dtype=np.float32), np.arange(grid_size, dtype=np.float32))
    # The official code names the first meshgrid output (the w coordinate) "h": the first half of each
    # vector follows the column index, the second half the row index.
    return np.concatenate([one_d(embed_dim // 2, ww), one_d(embed_dim // 2, hh)], axis=1)


def test_pos_embed_is_fixed_sincos(pixel_config):
    model = DiT(pixel_config)
    grid = pixel_config.input_size // pixel_config.patch_size
    expected = torch.from_numpy(_mae_sincos(pixel_config.hidden_size, grid)).float().unsqueeze(0)
    assert not model.pos_embed.requires_grad
    torch.testing.assert_close(model.pos_embed.data, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        torch.from_numpy(get_2d_sincos_pos_embed(32, grid)).float(), expected[0], rtol=0, atol=1e-6
    )
    # Token 0 sits at (0, 0): sin halves are 0, cos halves are 1.
    q = pixel_config.hidden_size // 4
    first = model.pos_embed[0, 0]
    assert torch.all(first[:q] == 0) and torch.all(first[q : 2 * q] == 1)
    # Token 1 is one column to the right: only the first (column) half changes.
    assert not torch.equal(model.pos_embed[0, 1, : 2 * q], first[: 2 * q])
    assert torch.equal(model.pos_embed[0, 1, 2 * q :], first[2 * q :])


def test_fresh_model_is_adaln_zero(pixel_config):
    model = DiT(pixel_config).eval()
    x = torch.randn(2, 1, 16, 16)
    out = model(x, torch.tensor([10, 500]), torch.tensor([0, 3]))
    assert torch.equal(out, torch.zeros_like(out))


def test_timestep_embedding_layout():
    t = torch.tensor([0.0, 3.0])
    emb = TimestepEmbedder.timestep_embedding(t, 8)
    freqs = torch.exp(-np.log(10000) * torch.arange(4) / 4)
    torch.testing.assert_close(emb[1], torch.cat([torch.cos(3 * freqs), torch.sin(3 * freqs)]))
    assert torch.equal(emb[0], torch.cat([torch.ones(4), torch.zeros(4)]))
    assert TimestepEmbedder.timestep_embedding(t, 7).shape == (2, 7)


def test_unpatchify_inverts_patchify(latent_dit):
    model = latent_dit
    cfg = model.config
    p, c, s = cfg.patch_size, cfg.out_channels, cfg.input_size
    img = torch.randn(3, c, s, s)
    # Patchify by hand: (N, C, H, W) -> (N, T, p*p*C) with the (p, q, c) order that unpatchify expects.
    h = s // p
    tokens = img.reshape(3, c, h, p, h, p).permute(0, 2, 4, 3, 5, 1).reshape(3, h * h, p * p * c)
    back = model.unpatchify(tokens)
    assert back.shape == (3, c, s, s)
    assert torch.equal(back, img)


def test_forward_shapes_and_learn_sigma(pixel_dit, latent_dit):
    x = torch.randn(2, 1, 16, 16)
    out = pixel_dit(x, torch.tensor([1, 999]), torch.tensor([0, 1]))
    assert out.shape == (2, 1, 16, 16)  # learn_sigma=False: out == in channels
    assert pixel_dit.final_layer.linear.out_features == 4 * 4 * 1

    x = torch.randn(2, 4, 8, 8)
    out = latent_dit(x, torch.tensor([1, 999]), torch.tensor([0, 9]))
    assert out.shape == (2, 8, 8, 8)  # learn_sigma=True doubles the channels
    assert latent_dit.out_channels == 8 and latent_dit.final_layer.linear.out_features == 2 * 2 * 8
    # Outputs depend on t and y (the random weights make every path live).
    assert not torch.allclose(out[0], latent_dit(x, torch.tensor([500, 999]), torch.tensor([0, 9]))[0])
    assert not torch.allclose(out[0], latent_dit(x, torch.tensor([1, 999]), torch.tensor([3, 9]))[0])


def test_label_dropout_only_in_training(pixel_dit):
    emb = pixel_dit.y_embedder
    labels = torch.tensor([0, 1, 2, 3])
    assert torch.equal(emb(labels, train=False), emb.embedding_table.weight[labels])
    forced = emb(labels, train=False, force_drop_ids=torch.tensor([1, 0, 1, 0]))
    null = emb.embedding_table.weight[pixel_dit.config.num_classes]
    assert torch.equal(forced[0], null) and torch.equal(forced[2], null)
    assert torch.equal(forced[1], emb.embedding_table.weight[1])
    assert emb.embedding_table.num_embeddings == pixel_dit.config.num_classes + 1


@pytest.mark.parametrize("fixture", ["pixel_dit", "latent_dit"])
def test_forward_with_cfg_equals_manual_guidance(fixture, request):
    model = request.getfixturevalue(fixture)
    cfg = model.config
    torch.manual_seed(1)
    half = torch.randn(3, cfg.in_channels, cfg.input_size, cfg.input_size)
    x = torch.cat([half, torch.randn_like(half)])  # the second half's values must be ignored
    t = torch.tensor([700, 20, 300] * 2)
    y = torch.tensor([0, 1, 2] + [cfg.num_classes] * 3)
    scale = 4.0
    got = model.forward_with_cfg(x, t, y, scale)

    out = model(torch.cat([half, half]), t, y)
    cond, uncond = out[:3, : cfg.in_channels], out[3:, : cfg.in_channels]
    eps = uncond + scale * (cond - uncond)
    assert got.shape == out.shape
    torch.testing.assert_close(got[:3, : cfg.in_channels], eps)
    torch.testing.assert_close(got[3:, : cfg.in_channels], eps)
    # Extra (sigma) channels pass through unguided.
    torch.testing.assert_close(got[:, cfg.in_channels :], out[:, cfg.in_channels :])
    assert not torch.allclose(cond, uncond)
