"""Shared fixtures: tiny DiT configs with random, non-trivial weights.

A freshly built DiT is adaLN-Zero initialised (every block is the identity and the final layer outputs zero),
which would make most lazy/dense comparisons vacuous; ``make_dit`` fills every parameter except the fixed
sin-cos ``pos_embed`` with scaled Gaussian noise so that every module contributes and outputs depend on
x, t and y.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Keep progress bars out of the test output (tqdm >= 4.66 honours this variable).
os.environ.setdefault("TQDM_DISABLE", "1")

import pytest
import torch

from lazydit import cli
from lazydit.export.checkpoint import save_safetensors
from lazydit.export.model import DiT, DiTConfig, config_from_name, randomize_weights

from helpers import TINY_STEPS, lazydit


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
def tiny_eval(tmp_path, monkeypatch):
    """``(dit, classifier_path)`` for the quality metrics: a tiny 28x28x1, 10-class DiT (guidance 1.5, clipped,
    4 steps) and an untrained classifier, with the sample cache in ``tmp_path``."""
    from lazydit.benchmarks import evaluate as ev
    from lazydit.benchmarks.classifier import SmallClassifier, save_classifier

    monkeypatch.setattr(ev, "CACHE_DIR", tmp_path / "cache")
    cfg = config_from_name("DiT-Tiny/4", input_size=28, in_channels=1, num_classes=10, learn_sigma=False)
    torch.manual_seed(0)
    dit = randomize_weights(DiT(cfg).eval(), 0.05)
    dit.sampling_defaults = {"cfg_scale": 1.5, "clip_denoised": True, "num_steps": 4}
    clf_path = tmp_path / "clf.safetensors"
    save_classifier(SmallClassifier(10).eval(), clf_path, {"test_accuracy": 0.5, "num_classes": 10})
    return dit, clf_path


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

    import torch

    from lazydit.export.checkpoint import save_safetensors
    from lazydit.export.model import DiT, config_from_name

    work = tmp_path_factory.mktemp("tiny-executorch")
    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    torch.manual_seed(0)
    dit = DiT(cfg).eval()
    randomize_weights(dit, 0.05)
    ckpt = work / "tiny.safetensors"
    save_safetensors(
        dit, str(ckpt), dtype=torch.float32, sampling={"cfg_scale": 1.5, "clip_denoised": True, "num_steps": 10}
    )
    out = work / "bundle"
    done = lazydit(
        "export",
        "--checkpoint",
        str(ckpt),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "executorch",
        "--out",
        str(out),
        "--force",
        "--no-verify",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "golden" / "trace.json").is_file(), "export wrote no golden trace"
    return out


ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "runtime" / "native"
BUILD = ROOT / "build" / "native"
BINARY = BUILD / "lazydit_runner"
STAMP = BUILD / ".lazydit-build-stamp"


def _stamp() -> str:
    """Hash of everything the build depends on that can change between runs: sources, compiler, python and
    the executorch wheel's version."""
    import importlib.util

    h = hashlib.sha256()
    for p in sorted(NATIVE.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(NATIVE)).encode())
            h.update(p.read_bytes())
    h.update(sys.executable.encode())
    spec = importlib.util.find_spec("executorch.version")
    if spec is not None and spec.origin:
        h.update(Path(spec.origin).read_bytes())
    h.update(str(shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")).encode())
    return h.hexdigest()


def skip_unless_ci(reason: str) -> None:
    """Skip for a missing tool that scripts/setup_env.sh installs; under CI (CI=true) the set-up ran, so a
    missing tool is a broken set-up and fails instead of hiding behind a green run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (under CI, scripts/setup_env.sh must have installed it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing_tool():
    """:func:`skip_unless_ci`, for test modules (which do not import conftest)."""
    return skip_unless_ci


@pytest.fixture(scope="session")
def native_runner() -> Path:
    """``build/native/lazydit_runner``, built with CMake unless its build stamp is current."""
    if shutil.which("cmake") is None:
        skip_unless_ci("cmake not installed (apt-get install cmake); the native runner cannot be built")
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        skip_unless_ci("no C++ compiler (apt-get install g++); the native runner cannot be built")
    stamp = _stamp()
    if BINARY.is_file() and STAMP.is_file() and STAMP.read_text() == stamp:
        return BINARY
    BUILD.mkdir(parents=True, exist_ok=True)
    STAMP.unlink(missing_ok=True)
    configure = [
        "cmake",
        "-S",
        str(NATIVE),
        "-B",
        str(BUILD),
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DLAZYDIT_PYTHON={sys.executable}",
    ]
    if shutil.which("ninja") and not (BUILD / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja"]
    done = subprocess.run(configure, capture_output=True, text=True)
    if done.returncode != 0 and "nlohmann_json" in done.stdout + done.stderr:
        skip_unless_ci("nlohmann-json3-dev not installed (scripts/setup_env.sh installs it as root)")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = subprocess.run(
        ["cmake", "--build", str(BUILD), "-j", str(os.cpu_count() or 2)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    STAMP.write_text(stamp)
    return BINARY


@pytest.fixture(scope="session")
def embedded_executorch_bundle(tmp_path_factory) -> Path:
    """The embedded model's 20-step bundle with the committed calibrated schedule (what `make demo` ships),
    ExecuTorch only, with its golden trace: the trace the native, Android and Python tests share."""
    out = tmp_path_factory.mktemp("embedded") / "bundle"
    done = lazydit("export", "--schedule", "embedded", "--targets", "executorch", "--no-verify", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def tiny_latency_set(tmp_path_factory):
    """The benchmark bundle set of a tiny DiT (depth 2, hidden 32): LazyDiT 10 steps interval:2, DDIM 10, DDIM 5;
    ExecuTorch and ONNX; exported in process by ``build_bundle_set``."""
    from lazydit.benchmarks.latency_set import build_bundle_set
    from lazydit.export.schedule import interval_schedule

    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    torch.manual_seed(0)
    dit = randomize_(DiT(cfg), 3).eval()
    sched = interval_schedule(10, cfg.depth, 2)
    return build_bundle_set(dit, sched, ("executorch", "onnx"), tmp_path_factory.mktemp("latency-set"), "tiny")


# --- the tiny bundles of this pytest run, exported once through the real `lazydit export` ------------------------
# Exporting costs most of a minute (ExecuTorch lowering), so one run builds at most three, on first use; a test
# that damages a bundle works on a copy.

BUNDLES = {
    # name: (--schedule, --targets, more arguments)
    "interval": ("interval:2", "executorch,onnx,coreml,torch", ()),
    "dense": ("ddim", "executorch,onnx", ()),
    "forecast": ("interval:2", "executorch,onnx,coreml", ("--reuse", "forecast")),
}


def tiny_checkpoint(folder: Path) -> Path:
    """DiT-Tiny/4 on 16x16x1 images, 4 classes, random weights, sampled with CFG 1.5 and clipping."""
    path = folder / "tiny.safetensors"
    if not path.exists():
        cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
        torch.manual_seed(0)
        dit = DiT(cfg).eval()
        randomize_weights(dit, 0.05)
        save_safetensors(
            dit, path, dtype=torch.float32, sampling={"cfg_scale": 1.5, "clip_denoised": True, "num_steps": TINY_STEPS}
        )
    return path


def _export_tiny_bundle(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """This pytest run's bundle ``name`` (see BUNDLES), exported on first use with ``lazydit export``.

    Idempotent across test modules: a bundle folder appears only when its export finished (the export
    renames it into place), so an existing ``manifest.json`` means it is complete.
    """
    base = tmp_path_factory.getbasetemp() / "tiny-bundles"
    base.mkdir(exist_ok=True)
    out = base / name
    if (out / "manifest.json").is_file():
        return out
    schedule, targets, more = BUNDLES[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two busy cores: one intra-op thread is much faster for a tiny model
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            rc = cli.main(
                [
                    "export",
                    "--checkpoint",
                    str(tiny_checkpoint(base)),
                    "--schedule",
                    schedule,
                    "--steps",
                    str(TINY_STEPS),
                    "--targets",
                    targets,
                    "--out",
                    str(out),
                    *more,
                ]
            )
    finally:
        torch.set_num_threads(threads)
    assert rc == 0, f"export of the {name} bundle failed"
    (base / f"{name}.stdout").write_text(stdout.getvalue())
    return out


@pytest.fixture(scope="session")
def interval_bundle(tmp_path_factory) -> Path:
    """interval:2, 10 steps, every target (executorch, onnx, coreml, torch)."""
    return _export_tiny_bundle(tmp_path_factory, "interval")


@pytest.fixture(scope="session")
def dense_bundle(tmp_path_factory) -> Path:
    """Dense DDIM, 10 steps, executorch and onnx."""
    return _export_tiny_bundle(tmp_path_factory, "dense")


@pytest.fixture(scope="session")
def forecast_bundle(tmp_path_factory) -> Path:
    """interval:2 forecasting, 10 steps, executorch, onnx and coreml."""
    return _export_tiny_bundle(tmp_path_factory, "forecast")


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    """The checkpoint of the tiny bundles."""
    base = tmp_path_factory.getbasetemp() / "tiny-bundles"
    base.mkdir(exist_ok=True)
    return tiny_checkpoint(base)


@pytest.fixture(scope="session")
def contract_index(tiny_executorch_bundle, tmp_path_factory) -> Path:
    """The bundle contract corpus (tests/contract/bundle_cases.json) built from the tiny ExecuTorch bundle:
    the ``index.json`` that every scheduler port's test reads."""
    from contract_cases import build_all

    return build_all(tiny_executorch_bundle, tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="session")
def latent_tiny_bundle(tmp_path_factory):
    """A latent DiT (DiT-Tiny/2 on 8x8x4 latents, 4 classes, learn_sigma) with a tiny random AutoencoderKL as
    its decoder (16x16x3 images): interval:2, 10 steps, ExecuTorch, ONNX and eager weights, with its golden
    trace, which records the decoded image too. Returns (bundle, work folder holding dit.safetensors and vae/)."""

    from lazydit.export.vae import random_vae

    work = tmp_path_factory.mktemp("latent")
    random_vae(work / "vae", "tiny")  # seeds torch with 0; the DiT's weights are drawn after it, as before
    dit = DiT(config_from_name("DiT-Tiny/2", input_size=8, in_channels=4, num_classes=4, learn_sigma=True)).eval()
    randomize_weights(dit, 0.05)
    save_safetensors(dit, work / "dit.safetensors", dtype=torch.float32)
    out = work / "bundle"
    done = lazydit(
        "export",
        "--checkpoint",
        str(work / "dit.safetensors"),
        "--vae",
        str(work / "vae"),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "executorch,onnx,torch",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, work
