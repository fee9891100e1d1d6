"""A latent DiT exports with its VAE decoder as one more graph (`decode`) in every target, and the runtime
returns decoded images; a pixel model refuses --vae."""

import json

import numpy as np
import pytest

from lazydit.export.checkpoint import save_safetensors
from lazydit.export.model import DiT, config_from_name

from helpers import lazydit


@pytest.fixture(scope="module")
def latent_bundle(latent_tiny_bundle):
    return latent_tiny_bundle


def test_manifest_describes_the_decoder(latent_bundle):
    out, _ = latent_bundle
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"]["latent"] is True
    assert m["decoder"]["name"] == "decode" and m["decoder"]["latent_scale"] == pytest.approx(0.18215)
    assert m["image"] == {"channels": 3, "height": 16, "width": 16, "value_range": [-1.0, 1.0]}
    assert m["targets"]["executorch"]["decoder"] == "decode"
    assert m["targets"]["onnx"]["decoder"] in m["files"]
    report = json.loads((out / "verification.json").read_text())
    assert max(report["decoder"].values()) < 1e-4


def test_every_backend_returns_the_same_decoded_image(latent_bundle):
    import lazydit.export.reference_backend  # noqa: F401  (registers the torch backend)
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    out, _ = latent_bundle
    bundle = load_bundle(out)
    images = {}
    for name in ("executorch", "onnxruntime", "torch"):
        res = Scheduler(bundle, create_backend(name, bundle)).run(1, seed=5)
        assert res.latent.shape == (1, 4, 8, 8) and res.image.shape == (1, 3, 16, 16)
        assert -1.0 <= res.image.min() and res.image.max() <= 1.0
        images[name] = res.image
    np.testing.assert_allclose(images["executorch"], images["torch"], atol=1e-4)
    np.testing.assert_allclose(images["onnxruntime"], images["torch"], atol=1e-4)


def test_vae_on_a_pixel_model_is_a_one_line_error(latent_bundle, tmp_path):
    _, work = latent_bundle
    pixel = DiT(config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False))
    save_safetensors(pixel, tmp_path / "pixel.safetensors")
    done = lazydit(
        "export",
        "--checkpoint",
        str(tmp_path / "pixel.safetensors"),
        "--vae",
        str(work / "vae"),
        "--schedule",
        "ddim",
        "--steps",
        "10",
        "--targets",
        "torch",
        "--out",
        str(tmp_path / "b"),
    )
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("lazydit:")]
    assert len(lines) == 1 and "latent models" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / ".b.partial").exists()
