"""The lazy forward: gate scores, what a skip computes, cache ages, and the three modes."""

from __future__ import annotations

import math

import pytest
import torch

from lazydit.export.diffusion import ddim_steps
from lazydit.export.gates import LazyGates
from lazydit.export.lazy_dit import LazyDiT, LazyState
from lazydit.export.model import modulate
from lazydit.export.sampling import ddim_sample, initial_noise


class AlwaysLazyGates(LazyGates):
    """Gates whose keep score is 0 for every sample: they skip whenever the cache allows it."""

    def keep_score(self, step, block, module, z):
        return torch.zeros(z.shape[0], dtype=z.dtype)


class PerSampleGates(LazyGates):
    """Keep score 1 for samples listed in ``keep``, 0 for the others (at every step and module)."""

    def __init__(self, *args, keep=(0,), **kw):
        super().__init__(*args, **kw)
        self.keep_ids = list(keep)

    def keep_score(self, step, block, module, z):
        s = torch.zeros(z.shape[0], dtype=z.dtype)
        s[self.keep_ids] = 1.0
        return s


def _inputs(config, batch=2, seed=0, step_values=(900, 800)):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(batch, config.in_channels, config.input_size, config.input_size, generator=g)
    x1 = x0 + 0.3 * torch.randn(x0.shape, generator=g)
    y = torch.arange(batch) % config.num_classes
    t0 = torch.full((batch,), step_values[0])
    t1 = torch.full((batch,), step_values[1])
    return x0, t0, x1, t1, y


def _block0_attn_input(dit, x, t, y):
    tokens, c = dit.embed(x, t, y)
    shift, scale, *_ = dit.blocks[0].modulation(c)
    return modulate(dit.blocks[0].norm1(tokens), shift, scale)


def _with_block0_attn(dit, x, t, y, attn_out):
    """The DiT's output by hand when block 0's attention output (before its adaLN gate) is ``attn_out``."""
    tokens, c = dit.embed(x, t, y)
    b0 = dit.blocks[0]
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = b0.modulation(c)
    tokens = tokens + gate_msa.unsqueeze(1) * attn_out
    tokens = tokens + gate_mlp.unsqueeze(1) * b0.mlp(modulate(b0.norm2(tokens), shift_mlp, scale_mlp))
    for block in dit.blocks[1:]:
        tokens = block(tokens, c)
    return dit.head(tokens, c)


@torch.no_grad()
def test_skip_reuses_cache_before_adaln_gate(pixel_dit):
    dit = pixel_dit
    lazy = LazyDiT(dit)
    x0, t0, x1, t1, y = _inputs(dit.config)
    state = LazyState(dit.config.depth)
    dense0 = lazy(x0, t0, y, 0, state, mode="dense")
    torch.testing.assert_close(dense0, dit(x0, t0, y), rtol=0, atol=1e-6)

    # What is cached is the attention output itself, before gate_msa is applied.
    z0 = _block0_attn_input(dit, x0, t0, y)
    cached = dit.blocks[0].attn(z0)
    torch.testing.assert_close(state.cache[(0, "attn")], cached, rtol=0, atol=1e-6)
    assert set(state.cache) == {(b, m) for b in range(dit.config.depth) for m in ("attn", "mlp")}

    mask = torch.zeros(dit.config.depth, 2, dtype=torch.bool)
    mask[0, 0] = True  # skip block 0 attention at step 1
    out = lazy(x1, t1, y, 1, state, mode="static", skip_mask=mask)

    # The same evaluation by hand: x + gate_msa(step 1) * cache(step 0), then everything else as usual.
    torch.testing.assert_close(out, _with_block0_attn(dit, x1, t1, y, cached), rtol=0, atol=1e-5)

    # The skip made a difference (the comparison is not vacuous) ...
    assert (out - dit(x1, t1, y)).abs().max() > 1e-3
    # ... the cache was kept and aged, the computed modules were refreshed.
    assert torch.equal(state.cache[(0, "attn")], cached)
    assert state.age[(0, "attn")].tolist() == [1, 1]
    assert state.age[(0, "mlp")].tolist() == [0, 0]
    assert state.decisions[-1][:, 0, 0].tolist() == [False, False]
    assert state.decisions[-1][:, 1:].all() and state.decisions[-1][:, 0, 1].all()


@torch.no_grad()
def test_forecast_extrapolates_the_last_two_computed_outputs(pixel_dit):
    dit = pixel_dit
    lazy = LazyDiT(dit, reuse="forecast")
    g = torch.Generator().manual_seed(3)
    y = torch.tensor([0, 1])
    xs = [torch.randn(2, 1, 16, 16, generator=g) for _ in range(4)]
    ts = [torch.full((2,), v) for v in (900, 800, 650, 600)]
    state = LazyState(dit.config.depth)
    lazy(xs[0], ts[0], y, 0, state, mode="dense")
    f0 = state.cache[(0, "attn")].clone()
    mask = torch.zeros(dit.config.depth, 2, dtype=torch.bool)
    mask[0, 0] = True
    # One computed output so far: a forecast has nothing to extrapolate from and holds it.
    held = lazy(xs[1], ts[1], y, 1, state.clone(), mode="static", skip_mask=mask)
    assert torch.equal(held, LazyDiT(dit)(xs[1], ts[1], y, 1, state.clone(), mode="static", skip_mask=mask))

    lazy(xs[1], ts[1], y, 1, state, mode="dense")
    f1 = state.cache[(0, "attn")].clone()
    assert torch.equal(state.prev[(0, "attn")], f0)
    assert state.t_cache[(0, "attn")].tolist() == [800, 800] and state.t_prev[(0, "attn")].tolist() == [900, 900]
    before = state.clone()
    out = lazy(xs[2], ts[2], y, 2, state, mode="static", skip_mask=mask)

    # By hand: x + gate_msa(step 2) * (F1 + r (F1 - F0)), r = (650 - 800) / (800 - 900) = 1.5.
    forecast = f1 + 1.5 * (f1 - f0)
    torch.testing.assert_close(out, _with_block0_attn(dit, xs[2], ts[2], y, forecast), rtol=0, atol=1e-5)
    held = LazyDiT(dit)(xs[2], ts[2], y, 2, before, mode="static", skip_mask=mask)
    assert (out - held).abs().max() > 1e-3  # the forecast is not the held output
    # A skip leaves the computed outputs and their timesteps alone, so the next forecast uses them again.
    assert torch.equal(state.cache[(0, "attn")], f1) and torch.equal(state.prev[(0, "attn")], f0)
    assert state.t_cache[(0, "attn")].tolist() == [800, 800]


@torch.no_grad()
def test_dynamic_forecast_tracks_each_samples_own_computations(pixel_dit):
    """Sample 0 computes at every step, sample 1 skips whenever it may: their forecasts use their own history."""
    dit = pixel_dit
    D = dit.config.depth
    gates = PerSampleGates(4, D, dit.config.hidden_size, keep=(0,))
    lazy = LazyDiT(dit, gates, max_cache_age=1, reuse="forecast")
    labels = torch.tensor([0, 1])
    noise = initial_noise(2, dit.config, 5)
    res = ddim_sample(lazy, labels, noise, 4, cfg_scale=1.0, mode="dynamic", keep_trajectory=True)
    kept = torch.stack(res.state.decisions)[:, :, 0, 0].tolist()
    assert kept == [[True, True], [True, False], [True, True], [True, False]]
    # Sample 1 alone, with the same steps as a static schedule, gives the same image (per-sample state).
    mask = torch.zeros(4, D, 2, dtype=torch.bool)
    mask[1] = mask[3] = True
    alone = ddim_sample(
        LazyDiT(dit, reuse="forecast"), labels[1:], noise[1:], 4, cfg_scale=1.0, mode="static", skip_masks=mask
    )
    torch.testing.assert_close(res.images[1:], alone.images, rtol=0, atol=1e-5)
    held = ddim_sample(LazyDiT(dit), labels[1:], noise[1:], 4, cfg_scale=1.0, mode="static", skip_masks=mask)
    assert (alone.images - held.images).abs().max() > 1e-4


def test_unknown_reuse_mode_is_refused(pixel_dit):
    with pytest.raises(ValueError, match="unknown reuse mode"):
        LazyDiT(pixel_dit, reuse="taylor")


@torch.no_grad()
@pytest.mark.parametrize("fixture", ["pixel_dit", "latent_dit"])
def test_zero_gates_compute_everything(fixture, request):
    dit = request.getfixturevalue(fixture)
    gates = LazyGates(5, dit.config.depth, dit.config.hidden_size)
    assert torch.count_nonzero(gates.attn.weight) == 0 and torch.count_nonzero(gates.mlp.weight) == 0
    lazy = LazyDiT(dit, gates)
    x, t0, _, _, y = _inputs(dit.config, batch=3)
    dyn_state, dense_state = LazyState(dit.config.depth), LazyState(dit.config.depth)
    for step, t in enumerate((900, 700, 500, 300, 100)):
        tt = torch.full((3,), t)
        dyn = lazy(x, tt, y, step, dyn_state, mode="dynamic")
        dense = lazy(x, tt, y, step, dense_state, mode="dense")
        assert torch.equal(dyn, dense)
        assert torch.equal(dyn, dit(x, tt, y))
        assert dyn_state.decisions[-1].all()
        assert torch.all(dyn_state.keep_scores[-1] == 0.5)
        x = x + 0.1 * dense[:, : dit.config.in_channels]


def test_keep_score_formula():
    torch.manual_seed(0)
    gates = LazyGates(num_steps=3, depth=2, hidden_size=8)
    with torch.no_grad():
        gates.attn.weight.normal_(0, 0.1)
        gates.mlp.weight.normal_(0, 0.1)
    z = torch.randn(4, 5, 8, dtype=torch.float64)
    for step in range(3):
        for block in range(2):
            for m in ("attn", "mlp"):
                w = getattr(gates, m).weight[step * 2 + block].detach().double()
                assert torch.equal(gates.weight(step, block, m), getattr(gates, m).weight[step * 2 + block])
                manual = []
                for b in range(4):
                    logit = sum(float(z[b, n, d]) * float(w[d]) for n in range(5) for d in range(8))
                    manual.append(1 / (1 + math.exp(-logit)))
                manual = torch.tensor(manual, dtype=torch.float64)
                got = gates.keep_score(step, block, m, z).detach()
                assert got.shape == (4,)
                torch.testing.assert_close(got, manual, rtol=1e-12, atol=1e-12)
                # On-disk layout: [step, block] of the stacked tensor is the same gate.
                assert torch.equal(gates.state_tensors()[f"{m}.weight"][step, block], gates.weight(step, block, m))
    # The score sums over tokens (not a mean): repeating every token doubles the logit.
    w = gates.weight(1, 1, "attn").detach().double()
    logit = torch.logit(gates.keep_score(1, 1, "attn", z).detach())
    logit2 = torch.logit(gates.keep_score(1, 1, "attn", torch.cat([z, z], dim=1)).detach())
    torch.testing.assert_close(logit2, 2 * logit, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(logit, (z @ w).sum(1), rtol=1e-9, atol=1e-9)


@torch.no_grad()
def test_dynamic_scores_use_the_modules_own_modulated_input(pixel_dit):
    dit = pixel_dit
    gates = LazyGates(2, dit.config.depth, dit.config.hidden_size)
    torch.manual_seed(3)
    gates.attn.weight.normal_(0, 0.05)
    gates.mlp.weight.normal_(0, 0.05)
    lazy = LazyDiT(dit, gates)
    x0, t0, x1, t1, y = _inputs(dit.config, batch=4)
    state = LazyState(dit.config.depth)
    lazy(x0, t0, y, 0, state, mode="dense")
    lazy(x1, t1, y, 1, state, mode="dynamic")
    z = _block0_attn_input(dit, x1, t1, y)
    manual = torch.sigmoid((z * gates.weight(1, 0, "attn")).sum(dim=(1, 2)))
    torch.testing.assert_close(state.keep_scores[-1][:, 0, 0], manual, rtol=1e-5, atol=1e-6)
    assert torch.equal(state.decisions[-1][:, 0, 0], manual >= 0.5)


@torch.no_grad()
@pytest.mark.parametrize("max_age, pattern", [(1, [1, 0, 1, 0, 1, 0]), (2, [1, 0, 0, 1, 0, 0])])
def test_max_cache_age_bounds_consecutive_skips(pixel_dit, max_age, pattern):
    dit = pixel_dit
    depth = dit.config.depth
    lazy = LazyDiT(dit, AlwaysLazyGates(6, depth, dit.config.hidden_size), max_cache_age=max_age)
    x, _, _, _, y = _inputs(dit.config)
    state = LazyState(depth)
    for step in range(6):
        lazy(x, torch.full((2,), 900 - 100 * step), y, step, state, mode="dynamic")
    keep = torch.stack(state.decisions)  # (steps, B, depth, 2)
    for step, expected in enumerate(pattern):
        assert torch.all(keep[step] == bool(expected)), (step, keep[step])
    # Never more than max_age consecutive skips of the same module.
    assert torch.all(torch.stack([a for a in state.age.values()]) <= max_age)


@torch.no_grad()
def test_dynamic_decides_per_sample(pixel_dit):
    dit = pixel_dit
    depth = dit.config.depth
    x0, t0, x1, t1, y = _inputs(dit.config, batch=2)
    # Sample 0 keeps everything, sample 1 skips everything: each must match its own single-sample run.
    batch_lazy = LazyDiT(dit, PerSampleGates(2, depth, dit.config.hidden_size, keep=(0,)))
    state = LazyState(depth)
    batch_lazy(x0, t0, y, 0, state, mode="dynamic")
    out = batch_lazy(x1, t1, y, 1, state, mode="dynamic")
    assert state.decisions[-1][0].all() and not state.decisions[-1][1].any()

    dense = dit(x1[:1], t1[:1], y[:1])
    torch.testing.assert_close(out[:1], dense, rtol=1e-5, atol=1e-5)

    solo = LazyDiT(dit, AlwaysLazyGates(2, depth, dit.config.hidden_size))
    s1 = LazyState(depth)
    solo(x0[1:], t0[1:], y[1:], 0, s1, mode="dynamic")
    lazy1 = solo(x1[1:], t1[1:], y[1:], 1, s1, mode="dynamic")
    torch.testing.assert_close(out[1:], lazy1, rtol=1e-5, atol=1e-5)
    assert (lazy1 - dit(x1[1:], t1[1:], y[1:])).abs().max() > 1e-3


@torch.no_grad()
def test_static_mode_refuses_skip_without_usable_cache(pixel_dit):
    dit = pixel_dit
    depth = dit.config.depth
    lazy = LazyDiT(dit, max_cache_age=1)
    x0, t0, x1, t1, y = _inputs(dit.config)
    mask = torch.zeros(depth, 2, dtype=torch.bool)
    mask[1, 1] = True
    with pytest.raises(ValueError, match="cache is missing"):
        lazy(x0, t0, y, 0, LazyState(depth), mode="static", skip_mask=mask)
    # A cache that is already max_cache_age steps old cannot be reused either.
    state = LazyState(depth)
    lazy(x0, t0, y, 0, state, mode="dense")
    lazy(x1, t1, y, 1, state, mode="static", skip_mask=mask)
    with pytest.raises(ValueError, match="older than 1 step"):
        lazy(x1, t1, y, 2, state, mode="static", skip_mask=mask)
    with pytest.raises(ValueError, match="needs a skip mask"):
        lazy(x0, t0, y, 0, LazyState(depth), mode="static")
    with pytest.raises(ValueError, match="needs gates"):
        lazy(x0, t0, y, 0, LazyState(depth), mode="dynamic")
    with pytest.raises(ValueError, match="unknown mode"):
        lazy(x0, t0, y, 0, LazyState(depth), mode="lazy")


@torch.no_grad()
@pytest.mark.parametrize("cfg_scale", [1.0, 1.5])
def test_ddim_sample_static_all_false_equals_dense(latent_dit, cfg_scale):
    dit = latent_dit
    n = 10
    lazy = LazyDiT(dit, LazyGates(n, dit.config.depth, dit.config.hidden_size))
    labels = torch.tensor([0, 3, 7])
    noise = initial_noise(3, dit.config, seed=5)
    dense = ddim_sample(lazy, labels, noise, n, cfg_scale, mode="dense", clip_denoised=False)
    masks = torch.zeros(n, dit.config.depth, 2, dtype=torch.bool)
    static = ddim_sample(lazy, labels, noise, n, cfg_scale, mode="static", skip_masks=masks, clip_denoised=False)
    dynamic = ddim_sample(lazy, labels, noise, n, cfg_scale, mode="dynamic", clip_denoised=False)
    assert torch.equal(static.images, dense.images)
    assert torch.equal(dynamic.images, dense.images)  # zero gates
    assert len(dense.state.decisions) == n
    assert torch.isfinite(dense.images).all() and not torch.equal(dense.images, noise)


@torch.no_grad()
def test_ddim_sample_static_skips_change_the_result(latent_dit):
    dit = latent_dit
    n = 10
    lazy = LazyDiT(dit)
    labels = torch.tensor([1, 2])
    noise = initial_noise(2, dit.config, seed=0)
    masks = torch.zeros(n, dit.config.depth, 2, dtype=torch.bool)
    masks[1::2] = True  # every odd step skips everything
    res = ddim_sample(
        lazy, labels, noise, n, 1.5, mode="static", skip_masks=masks, clip_denoised=False, keep_trajectory=True
    )
    dense = ddim_sample(lazy, labels, noise, n, 1.5, mode="dense", clip_denoised=False)
    assert len(res.trajectory) == n + 1 and torch.equal(res.trajectory[0], noise)
    assert not torch.allclose(res.images, dense.images)
    decided = torch.stack(res.state.decisions)  # (n, 2B, depth, 2), cond and uncond halves follow the mask
    assert torch.equal(~decided, masks[:, None].expand_as(decided))


def test_initial_noise_is_per_sample():
    from lazydit.export.model import config_from_name

    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1)
    a = initial_noise(3, cfg, seed=10)
    b = initial_noise(2, cfg, seed=[11, 12])
    assert a.shape == (3, 1, 16, 16)
    assert torch.equal(a[1:], b)
    assert ddim_steps(10)[0].timestep == 900
