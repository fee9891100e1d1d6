"""Export options beyond the fp32 default: fp16 graphs and int8 ExecuTorch weights, verified by the exporter
and run by the scheduler."""

import json

import numpy as np
import pytest
import torch

from lazydit.export.checkpoint import save_safetensors
from lazydit.export.model import DiT, config_from_name, randomize_weights

from helpers import lazydit


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    work = tmp_path_factory.mktemp("opts")
    torch.manual_seed(0)
    dit = DiT(config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)).eval()
    randomize_weights(dit, 0.05)
    save_safetensors(
        dit,
        work / "tiny.safetensors",
        dtype=torch.float32,
        sampling={"cfg_scale": 1.5, "clip_denoised": True, "num_steps": 10},
    )
    return work / "tiny.safetensors"


def _export(ckpt, out, *extra):
    done = lazydit(
        "export", "--checkpoint", str(ckpt), "--schedule", "interval:2", "--steps", "10", "--out", str(out), *extra
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out / "verification.json"
    return json.loads((out / "manifest.json").read_text()), json.loads(report.read_text()) if report.is_file() else None


def test_float16_bundle(tiny_ckpt, tmp_path):
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    m, report = _export(tiny_ckpt, tmp_path / "fp16", "--dtype", "float16", "--targets", "executorch,onnx")
    assert m["dtype"] == "float16" and m["tensors"]["cache"]["dtype"] == "float16"
    assert max(report["trajectory"].values()) <= report["tolerances"]["trajectory"]
    bundle = load_bundle(tmp_path / "fp16")
    a = Scheduler(bundle, create_backend("executorch", bundle)).run(2, seed=1).image
    b = Scheduler(bundle, create_backend("onnxruntime", bundle)).run(2, seed=1).image
    assert a.dtype == np.float16 and np.abs(a.astype(np.float32) - b.astype(np.float32)).max() < 0.05


def test_int8_executorch_weights_shrink_the_program(tiny_ckpt, tmp_path):
    m8, report = _export(tiny_ckpt, tmp_path / "int8", "--quantize", "int8", "--targets", "executorch")
    m32, _ = _export(tiny_ckpt, tmp_path / "fp32", "--targets", "executorch", "--no-verify")
    assert m8["targets"]["executorch"]["weights"] == "int8"
    # The tiny model's weights are a small part of its program; int8 still has to shrink the file.
    assert m8["targets"]["executorch"]["bytes"] < 0.8 * m32["targets"]["executorch"]["bytes"]
    # The quantization error of the whole trajectory stays bounded.
    assert report["trajectory"]["executorch"] < 0.25


def test_coreml_palettization_shrinks_the_package(tiny_ckpt, tmp_path):
    m16, _ = _export(tiny_ckpt, tmp_path / "fp16", "--targets", "coreml")
    m4, _ = _export(tiny_ckpt, tmp_path / "pal4", "--targets", "coreml", "--palettize", "4")
    assert m4["targets"]["coreml"]["palettize_bits"] == 4
    weights16 = (
        tmp_path / "fp16" / "coreml" / "model.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    )
    weights4 = tmp_path / "pal4" / "coreml" / "model.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    # 4-bit indices plus small lookup tables against fp16 values.
    assert weights4.stat().st_size < 0.6 * weights16.stat().st_size
    assert set(m4["targets"]["coreml"]["functions"]) == {"v0", "v1"}
