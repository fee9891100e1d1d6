"""The exported bundle: its manifest, files and checksums, graphs per target, parity report, and a
forecasting bundle on every backend. The tiny bundles come from conftest.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from lazydit.export.checkpoint import fingerprint, load_dit
from lazydit.export.diffusion import ddim_steps, ddim_timesteps
from lazydit.export.graphs import plan_variants
from lazydit.export.schedule import interval_schedule

from helpers import TINY_STEPS, file_tree, read_manifest


def test_export_prints_a_summary(interval_bundle):
    out = (interval_bundle.parent / "interval.stdout").read_text()
    assert f"bundle {interval_bundle}: 2 graph variant(s) for {TINY_STEPS} steps, laziness 0.50" in out
    for target in ("executorch", "onnx", "coreml", "torch"):
        assert any(line.split()[:1] == [target] and "MB" in line for line in out.splitlines()), out


@pytest.mark.parametrize("name", ["interval", "dense"])
def test_manifest_validates_against_the_schema(request, name):
    import jsonschema

    from lazydit.runtime.bundle import SCHEMA_PATH

    bundle = request.getfixturevalue(f"{name}_bundle")
    m = read_manifest(bundle)
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(m)
    assert (m["schema_version"], m["format"], m["batch"], m["guidance_scale"], m["dtype"]) == (
        2,
        "lazydit-bundle",
        1,
        1.5,
        "float32",
    )
    assert m["clip_denoised"] is True


def test_manifest_describes_the_schedule(interval_bundle, tiny_ckpt):
    m = read_manifest(interval_bundle)
    dit = load_dit(tiny_ckpt)
    c = dit.config
    assert m["model"]["fingerprint"] == fingerprint(dit)
    assert m["tensors"]["x"] == {"shape": [1, c.in_channels, c.input_size, c.input_size], "dtype": "float32"}
    assert m["tensors"]["cache"] == {"shape": [2, c.num_patches, c.hidden_size], "dtype": "float32"}
    assert m["slots"] == ["cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp"]
    assert m["schedule"] | {"heatmap": None} == {
        "file": "schedule.json",
        "heatmap": None,
        "source": "interval:2",
        "num_steps": TINY_STEPS,
        "laziness": 0.5,
        "max_cache_age": 1,
        "reuse": "hold",
    }
    variants, per_step = plan_variants(interval_schedule(TINY_STEPS, c.depth, 2))
    for mv, v in zip(m["variants"], variants, strict=True):
        assert (mv["name"], mv["reads"], mv["writes"]) == (v.name, v.reads, v.writes)
        assert mv["inputs"] == ["x", "t", "y", "coef", *v.reads]
        assert mv["outputs"] == ["x_next", *[f"new_{s}" for s in v.writes]]
        assert mv["skipped_modules"] == len(v.skip)
    assert [s["index"] for s in m["steps"]] == list(range(TINY_STEPS))
    assert [s["timestep"] for s in m["steps"]] == ddim_timesteps(TINY_STEPS)
    assert [s["variant"] for s in m["steps"]] == per_step
    for s, ref in zip(m["steps"], ddim_steps(TINY_STEPS)):
        assert s["coef"] == pytest.approx(ref.coefficients(), rel=1e-12)
    assert m["macs"]["ratio"] == pytest.approx(
        interval_schedule(TINY_STEPS, c.depth, 2).macs_per_image(c, 1.5)["ratio"]
    )
    assert m["targets"]["executorch"]["methods"] == {"v0": "v0", "v1": "v1"}
    assert m["targets"]["coreml"]["functions"] == {"v0": "v0", "v1": "v1"}
    assert m["targets"]["onnx"]["graphs"] == {"v0": "onnx/v0.onnx", "v1": "onnx/v1.onnx"}


def test_every_file_is_listed_with_its_checksum(interval_bundle):
    m = read_manifest(interval_bundle)
    for rel, meta in m["files"].items():
        data = (interval_bundle / rel).read_bytes()
        assert meta == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, rel
    on_disk = set(file_tree(interval_bundle))
    # Everything but the manifest itself is listed, the golden trace and verification report included.
    assert on_disk - {"manifest.json"} == set(m["files"])
    for must in (
        "executorch/model.pte",
        "onnx/weights.bin",
        "onnx/v0.onnx",
        "onnx/v1.onnx",
        "schedule.json",
        "schedule.png",
        "torch/model.safetensors",
        "coreml/model.mlpackage/Manifest.json",
    ):
        assert must in m["files"]
    assert {"golden/trace.json", "golden/noise.bin", "golden/final.bin"} <= on_disk


def test_golden_files_are_checksummed_too(interval_bundle):
    listed = set(read_manifest(interval_bundle)["files"])
    assert {"golden/trace.json", "golden/noise.bin", "golden/final.bin", "verification.json"} <= listed


def test_onnx_graphs_match_theread_manifest(interval_bundle):
    import onnx

    m = read_manifest(interval_bundle)
    wsize = (interval_bundle / "onnx" / "weights.bin").stat().st_size
    for v in m["variants"]:
        g = onnx.load(str(interval_bundle / m["targets"]["onnx"]["graphs"][v["name"]]), load_external_data=False)
        assert [i.name for i in g.graph.input] == v["inputs"]
        assert [o.name for o in g.graph.output] == v["outputs"]
        for init in g.graph.initializer:
            if init.data_location == onnx.TensorProto.EXTERNAL:
                ext = {e.key: e.value for e in init.external_data}
                assert ext["location"] == "weights.bin"
                assert int(ext["offset"]) + int(ext["length"]) <= wsize


def test_executorch_program_has_one_method_per_variant(interval_bundle):
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(str(interval_bundle / "executorch" / "model.pte"))
    assert set(program.method_names) == {"v0", "v1"}


@pytest.mark.parametrize("name", ["interval", "dense"])
def test_verification_report_is_within_tolerance(request, name):
    bundle = request.getfixturevalue(f"{name}_bundle")
    report = json.loads((bundle / "verification.json").read_text())
    assert report["tolerances"] == {"variant": 1e-4, "trajectory": 1e-3}
    n_variants = len(read_manifest(bundle)["variants"])
    assert set(report["variants"]) == set(report["trajectory"]) == {"executorch", "onnxruntime"}
    for backend, errs in report["variants"].items():
        assert len(errs) == n_variants
        assert all(0 <= e <= 1e-4 for e in errs.values()), (backend, errs)
        assert 0 <= report["trajectory"][backend] <= 1e-3


def test_forecast_bundle_runs_its_forecast_on_every_backend(forecast_bundle, interval_bundle, tiny_ckpt):
    import jsonschema

    from lazydit.export.graphs import Variant
    from lazydit.runtime.bundle import SCHEMA_PATH

    m = read_manifest(forecast_bundle)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(m)
    assert m["schedule"]["reuse"] == "forecast" and read_manifest(interval_bundle)["schedule"]["reuse"] == "hold"
    assert m["slots"] == [f"cache_{b}_{k}{d}" for b in range(2) for k in ("attn", "mlp") for d in ("", "_delta")]
    sched = replace(interval_schedule(TINY_STEPS, load_dit(tiny_ckpt).config.depth, 2), reuse="forecast")
    variants, per_step = plan_variants(sched)
    assert [Variant.from_manifest(v) for v in m["variants"]] == variants
    assert [s["variant"] for s in m["steps"]] == per_step
    # Two graphs, as holding: the ratio is an input, fed per step (0 while a module has one output).
    deltas = [f"cache_{b}_{k}_delta" for b in range(2) for k in ("attn", "mlp")]
    assert [v["name"] for v in m["variants"]] == ["v0", "v1"] and m["variants"][1]["ratio_slots"] == deltas
    assert m["variants"][1]["inputs"][:5] == ["x", "t", "y", "coef", "ratio"] and "forecast" not in m["variants"][1]
    assert [s.get("ratio") for s in m["steps"][:4]] == [None, [0.0] * 4, None, [0.5] * 4]
    assert set(m["targets"]["coreml"]["functions"]) == {"v0", "v1"}
    # The exporter compared every graph and the whole trajectory with eager forecasting sampling.
    report = json.loads((forecast_bundle / "verification.json").read_text())
    assert set(report["trajectory"]) == {"executorch", "onnxruntime"}
    assert all(0 <= e <= 1e-4 for errs in report["variants"].values() for e in errs.values()), report
    assert all(0 <= e <= 1e-3 for e in report["trajectory"].values()), report
    # Same noise, same skips: the forecast changes the image (most of this toy's pixels clip to +-1, so the
    # change is small, but 100x above the runtimes' float error).
    a = np.fromfile(forecast_bundle / "golden" / "final.bin", dtype="<f4")
    b = np.fromfile(interval_bundle / "golden" / "final.bin", dtype="<f4")
    assert np.abs(a - b).max() > 1e-5
