"""Diffusion math: ADM's linear schedule, ddimN respacing, eta-0 DDIM updates and guidance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lazydit.export.diffusion import (
    alphas_cumprod,
    ddim_steps,
    ddim_timesteps,
    ddim_update,
    guided_eps,
    linear_betas,
    q_sample,
)


def test_linear_schedule():
    betas = linear_betas()
    assert betas.shape == (1000,) and betas.dtype == np.float64
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    assert np.all(np.diff(betas) > 0)
    abar = alphas_cumprod()
    assert abar[0] == pytest.approx(1 - 1e-4)
    assert abar[-1] == pytest.approx(4.0358e-05, rel=1e-3)  # well-known end value of ADM's linear schedule
    assert np.all(np.diff(abar) < 0)
    # Scaled for another number of diffusion steps.
    assert linear_betas(500)[-1] == pytest.approx(0.04)


@pytest.mark.parametrize("n, stride", [(10, 100), (20, 50), (25, 40), (50, 20), (100, 10), (7, 143), (2, 500)])
def test_ddim_timesteps_match_adm_space_timesteps(n, stride):
    ts = ddim_timesteps(n)
    assert ts == list(range(0, 1000, stride))[::-1]
    assert len(ts) == n
    assert ts[-1] == 0


def test_ddim_timesteps_examples():
    assert ddim_timesteps(50)[:3] == [980, 960, 940]
    assert ddim_timesteps(25)[0] == 960
    assert ddim_timesteps(20)[0] == 950
    assert ddim_timesteps(10) == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]


@pytest.mark.parametrize("n", [37, 99, 999, 1])
def test_ddim_timesteps_without_integer_stride_raise(n):
    # Sanity of the premise: no stride in ADM's search range gives exactly n timesteps.
    assert not any(len(range(0, 1000, s)) == n for s in range(1, 1000))
    with pytest.raises(ValueError, match=f"cannot create exactly {n} DDIM steps"):
        ddim_timesteps(n)


@pytest.mark.parametrize("n", [0, -3])
def test_ddim_timesteps_rejects_non_positive(n):
    with pytest.raises(ValueError, match="at least 1"):
        ddim_timesteps(n)


@pytest.mark.parametrize("n", [10, 25, 50])
def test_ddim_step_coefficients(n):
    steps = ddim_steps(n)
    abar = alphas_cumprod()
    ts = ddim_timesteps(n)
    assert [s.timestep for s in steps] == ts
    assert [s.index for s in steps] == list(range(n))
    for i, s in enumerate(steps):
        a = abar[s.timestep]
        a_prev = abar[ts[i + 1]] if i + 1 < n else 1.0
        assert s.sqrt_recip_alpha_bar == pytest.approx(math.sqrt(1 / a), rel=1e-12)
        assert s.sqrt_recipm1_alpha_bar == pytest.approx(math.sqrt(1 / a - 1), rel=1e-12)
        assert s.sqrt_alpha_bar_prev == pytest.approx(math.sqrt(a_prev), rel=1e-12)
        assert s.sqrt_one_minus_alpha_bar_prev == pytest.approx(math.sqrt(1 - a_prev), rel=1e-12, abs=0)
        assert s.coefficients() == [
            s.sqrt_recip_alpha_bar,
            s.sqrt_recipm1_alpha_bar,
            s.sqrt_alpha_bar_prev,
            s.sqrt_one_minus_alpha_bar_prev,
        ]
    last = steps[-1]
    assert last.timestep == 0
    assert last.sqrt_alpha_bar_prev == 1.0
    assert last.sqrt_one_minus_alpha_bar_prev == 0.0


def _noised(x0, eps, a):
    return math.sqrt(a) * x0 + math.sqrt(1 - a) * eps


@pytest.mark.parametrize("n", [10, 50])
def test_ddim_update_with_true_eps_follows_forward_process(n):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64) * 1.6 - 0.8  # inside [-1, 1]
    eps = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    abar = alphas_cumprod()
    steps = ddim_steps(n)
    for i, s in enumerate(steps):
        x_t = _noised(x0, eps, abar[s.timestep])
        coef = torch.tensor(s.coefficients(), dtype=torch.float64)
        a_prev = abar[steps[i + 1].timestep] if i + 1 < n else 1.0
        for clip in (False, True):  # x0 lies inside [-1, 1]: clipping changes nothing
            x_prev = ddim_update(x_t, eps, coef, clip_denoised=clip)
            torch.testing.assert_close(x_prev, _noised(x0, eps, a_prev), rtol=1e-9, atol=1e-9)
    # The last step lands on x0 itself.
    s = steps[-1]
    x_t = _noised(x0, eps, abar[0])
    out = ddim_update(x_t, eps, torch.tensor(s.coefficients(), dtype=torch.float64), clip_denoised=False)
    torch.testing.assert_close(out, x0, rtol=0, atol=1e-12)


def test_ddim_update_clipping():
    s = ddim_steps(10)[3]  # timestep 600
    a = alphas_cumprod()[s.timestep]
    a_prev = alphas_cumprod()[ddim_steps(10)[4].timestep]
    x0 = torch.tensor([-3.0, -0.5, 0.25, 2.0], dtype=torch.float64)
    eps = torch.tensor([0.3, -1.2, 0.7, -0.1], dtype=torch.float64)
    x_t = _noised(x0, eps, a)
    coef = torch.tensor(s.coefficients(), dtype=torch.float64)

    unclipped = ddim_update(x_t, eps, coef, clip_denoised=False)
    torch.testing.assert_close(unclipped, _noised(x0, eps, a_prev))

    clipped = ddim_update(x_t, eps, coef, clip_denoised=True)
    x0c = x0.clamp(-1, 1)
    # ADM: eps re-derived from the clipped x0, so that x_t is still explained by (x0c, eps').
    eps_c = (x_t / math.sqrt(a) - x0c) / math.sqrt(1 / a - 1)
    torch.testing.assert_close(clipped, _noised(x0c, eps_c, a_prev))
    torch.testing.assert_close(_noised(x0c, eps_c, a), x_t)
    # Entries whose x0 was inside the range are untouched by clipping.
    torch.testing.assert_close(clipped[1:3], unclipped[1:3])
    assert not torch.allclose(clipped[[0, 3]], unclipped[[0, 3]])


def test_ddim_update_keeps_dtype():
    s = ddim_steps(10)[0]
    x = torch.randn(2, 1, 4, 4)
    out = ddim_update(x, torch.randn_like(x), torch.tensor(s.coefficients(), dtype=torch.float64), True)
    assert out.dtype == torch.float32


def test_guided_eps():
    g = torch.Generator().manual_seed(0)
    out = torch.randn(4, 8, 3, 3, generator=g)  # 2 cond + 2 uncond; 4 eps channels + 4 sigma channels
    for scale in (1.0, 1.5, 4.0):
        got = guided_eps(out, 4, scale)
        cond, uncond = out[:2, :4], out[2:, :4]
        assert got.shape == (2, 4, 3, 3)
        torch.testing.assert_close(got, uncond + scale * (cond - uncond))
    torch.testing.assert_close(guided_eps(out, 4, 1.0), out[:2, :4])
    torch.testing.assert_close(guided_eps(out, 4, 0.0), out[2:, :4])
    # A tensor scale (as an exported graph passes it) gives the same.
    torch.testing.assert_close(guided_eps(out, 4, torch.tensor(1.5)), guided_eps(out, 4, 1.5))
    # Without learned sigma all channels are eps.
    torch.testing.assert_close(guided_eps(out, 8, 2.0), out[2:] + 2.0 * (out[:2] - out[2:]))


def test_q_sample():
    abar = torch.from_numpy(alphas_cumprod()).float()
    x0 = torch.randn(3, 1, 4, 4)
    noise = torch.randn_like(x0)
    t = torch.tensor([0, 500, 999])
    xt = q_sample(x0, t, noise, abar)
    for i in range(3):
        a = abar[t[i]]
        torch.testing.assert_close(xt[i], a.sqrt() * x0[i] + (1 - a).sqrt() * noise[i])
