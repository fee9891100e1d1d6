"""The Python runtime on a real exported bundle: validation before anything runs, the step scheduler, backend
agreement and the golden trace.

The bundles come from conftest.py's ``interval_bundle`` (built once per pytest run); tests that damage a
bundle work on a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import lazydit.export.reference_backend  # noqa: F401  (registers the torch backend these tests compare with)
from lazydit import cli
from lazydit.errors import UserError
from lazydit.runtime.backends import create_backend
from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.golden import checksums, compare_to_golden
from lazydit.runtime.scheduler import Scheduler, initial_noise

from helpers import TINY_STEPS


@pytest.fixture(scope="module")
def bundle(interval_bundle):
    return load_bundle(interval_bundle)


@pytest.fixture(scope="module")
def backends(bundle) -> dict:
    """Every backend that runs here, loaded once (loading is the slow part)."""
    return {name: create_backend(name, bundle, threads=1) for name in ("executorch", "onnxruntime", "torch")}


@pytest.fixture
def damaged(interval_bundle, tmp_path) -> Path:
    """A private copy of the bundle to break."""
    copy = tmp_path / "bundle"
    shutil.copytree(interval_bundle, copy)
    return copy


def _edit_manifest(root: Path, edit) -> None:
    path = root / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


def _refused(root: Path, *needles: str) -> str:
    """load_bundle refuses ``root`` with one line containing every needle."""
    with pytest.raises(UserError) as e:
        load_bundle(root)
    msg = str(e.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


# --- validation before anything runs --------------------------------------------------------------------------


def test_an_edited_byte_in_a_graph_is_refused(damaged):
    graph = damaged / "onnx" / "v1.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    _refused(damaged, str(graph), "sha256 does not match")


def test_a_truncated_weights_file_is_refused(damaged):
    pte = damaged / "executorch" / "model.pte"
    pte.write_bytes(pte.read_bytes()[:-10])
    _refused(damaged, str(pte), "bytes", "damaged")


def test_a_missing_graph_is_refused(damaged):
    (damaged / "executorch" / "model.pte").unlink()
    _refused(damaged, str(damaged / "executorch" / "model.pte"), "missing")


def test_an_unlisted_graph_is_refused(damaged):
    def drop(m):
        del m["files"]["onnx/v0.onnx"]

    _edit_manifest(damaged, drop)
    _refused(damaged, "onnx/v0.onnx", "onnx graph missing from the manifest's file list")


def test_a_future_schema_version_is_refused(damaged):
    _edit_manifest(damaged, lambda m: m.update(schema_version=99))
    _refused(damaged, "manifest.json", "unknown schema_version 99", "upgrade lazydit")


def test_a_manifest_breaking_the_schema_is_refused(damaged):
    _edit_manifest(damaged, lambda m: m["steps"][3].pop("coef"))
    _refused(damaged, "manifest.json", "invalid manifest at steps/3", "coef")


@pytest.mark.parametrize("tensor, shape", [("cache", [1, 16, 32]), ("x", [1, 3, 16, 16]), ("y", [2])])
def test_wrong_tensor_shapes_are_refused(damaged, tensor, shape):
    _edit_manifest(damaged, lambda m: m["tensors"][tensor].update(shape=shape))
    _refused(damaged, "manifest.json", f"tensor {tensor} has shape {shape}")


def test_reading_a_slot_before_any_write_is_refused(damaged):
    def start_lazy(m):
        lazy = next(v for v in m["variants"] if v["reads"])
        m["steps"][0].update(variant=lazy["name"], reads=lazy["reads"], writes=lazy["writes"])

    _edit_manifest(damaged, start_lazy)
    _refused(damaged, "manifest.json", "step 0 reads cache_0_attn before any step writes it")


def test_a_step_disagreeing_with_its_variant_is_refused(damaged):
    _edit_manifest(damaged, lambda m: m["steps"][1].update(reads=[]))
    _refused(damaged, "step 1 slots disagree with variant v1")


def test_missing_folder_and_manifest(tmp_path):
    _refused(tmp_path / "nowhere", "bundle folder not found", "lazydit export")
    _refused(tmp_path, "manifest.json", "not a lazydit bundle")


def test_the_cli_refuses_a_damaged_bundle_before_sampling(damaged, tmp_path, capsys):
    (damaged / "onnx" / "weights.bin").write_bytes(b"\0" * 16)
    out = tmp_path / "never.png"
    rc = cli.main(["sample", "--bundle", str(damaged), "--backend", "onnxruntime", "--n", "1", "--out", str(out)])
    err = capsys.readouterr().err.splitlines()
    assert rc == 2 and len(err) == 1 and "weights.bin" in err[0]
    assert not out.exists()


# --- the scheduler --------------------------------------------------------------------------------------------


class Spy:
    """A real backend, watched: records what each step is given and returns."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.calls: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []

    def run(self, variant, inputs):
        outs = self.inner.run(variant, inputs)
        self.calls.append((variant, list(inputs), [np.array(o, copy=True) for o in outs]))
        return outs


def test_slot_buffers_are_allocated_once_and_written_in_place(bundle, backends):
    spy = Spy(backends["onnxruntime"])
    sched = Scheduler(bundle, spy)
    m = bundle.manifest
    assert list(sched.slots) == m["slots"]
    before = {s: (a, a.ctypes.data) for s, a in sched.slots.items()}
    for a in sched.slots.values():
        assert a.shape == tuple(m["tensors"]["cache"]["shape"]) and a.dtype == np.float32 and not a.any()

    for run in range(2):
        seen: list[tuple[int, str]] = []
        result = sched.run([1], seed=run, on_step=lambda i, v, ms, seen=seen: seen.append((i, v)))
        assert len(result.step_ms) == TINY_STEPS and all(ms >= 0 for ms in result.step_ms)
        assert result.variants == [s["variant"] for s in m["steps"]]
        assert seen == list(enumerate(result.variants))
        assert sorted(len(v) for v in result.per_variant_ms.values()) == [5, 5]
        for s, (arr, ptr) in before.items():
            assert sched.slots[s] is arr and arr.ctypes.data == ptr, f"{s} was reallocated"
            assert arr.any(), f"{s} was never written"

    # Each read hands the graph the slot buffer itself, holding what the latest writing step returned.
    calls = spy.calls[-TINY_STEPS:]
    latest: dict[str, np.ndarray] = {}
    for variant, inputs, outs in calls:
        v = bundle.variants[variant]
        for slot, given in zip(v["reads"], inputs[4:]):
            assert np.shares_memory(given, sched.slots[slot])
        for slot, out in zip(v["writes"], outs[1:]):
            latest[slot] = out
    for slot, value in latest.items():
        np.testing.assert_array_equal(sched.slots[slot], value)


def test_inputs_follow_the_manifest(bundle, backends):
    spy = Spy(backends["onnxruntime"])
    Scheduler(bundle, spy).run([2], seed=5)
    m = bundle.manifest
    for step, (variant, inputs, outs) in zip(m["steps"], spy.calls):
        v = bundle.variants[variant]
        x, t, y, coef = inputs[:4]
        assert len(inputs) == 4 + len(v["reads"]) and len(outs) == 1 + len(v["writes"])
        assert x.shape == (1, 1, 16, 16) and x.dtype == np.float32
        assert t.dtype == np.float32 and t.tolist() == [step["timestep"]]
        assert y.dtype == np.int32 and y.tolist() == [2]
        assert coef.dtype == np.float32 and coef == pytest.approx(step["coef"], rel=1e-6)
    np.testing.assert_array_equal(spy.calls[0][1][0], initial_noise(bundle, 5))


def test_bad_run_arguments(bundle, backends):
    sched = Scheduler(bundle, backends["onnxruntime"])
    with pytest.raises(UserError, match="1 image"):
        sched.run([0, 1])
    with pytest.raises(UserError, match="class 4 out of range 0..3"):
        sched.run([4])
    with pytest.raises(UserError, match="noise has shape"):
        sched.run([0], noise=np.zeros((1, 1, 8, 8), np.float32))


def test_backend_errors(bundle, damaged):
    with pytest.raises(UserError, match="unknown backend 'tflite'"):
        create_backend("tflite", bundle)
    _edit_manifest(damaged, lambda m: m["targets"].pop("torch"))
    with pytest.raises(UserError, match="no torch graphs; export it with --targets including torch"):
        create_backend("torch", load_bundle(damaged))


def test_backends_agree_on_the_same_seed_and_class(bundle, backends):
    images = {name: Scheduler(bundle, b).run([3], seed=11).image for name, b in backends.items()}
    ref = images["torch"]
    assert ref.shape == (1, 1, 16, 16) and np.abs(ref).max() <= 1.0 + 1e-6
    for name, img in images.items():
        assert np.abs(img - ref).max() <= 1e-4, name
    # Same seed and class again: the same image (no state leaks between runs of one scheduler).
    again = Scheduler(bundle, backends["executorch"]).run([3], seed=11).image
    np.testing.assert_allclose(again, images["executorch"], atol=1e-6)
    other = Scheduler(bundle, backends["executorch"]).run([3], seed=12).image
    assert np.abs(other - ref).max() > 1e-2, "another seed must give another image"


# --- the golden trace -----------------------------------------------------------------------------------------


def _trace(root: Path) -> dict:
    return json.loads((root / "golden" / "trace.json").read_text())


def _rerun(bundle, backend, trace) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """A scheduler port's view: the noise from noise.bin, the latent after every step."""
    noise = np.fromfile(bundle.root / "golden" / trace["noise"], dtype="<f4").reshape(trace["shape"])
    spy = Spy(backend)
    result = Scheduler(bundle, spy).run(trace["classes"], noise=noise)
    latents = [outs[0] for _, _, outs in spy.calls]
    return result.variants, latents, result.image


def test_golden_files_describe_the_run(interval_bundle, bundle):
    trace = _trace(interval_bundle)
    assert trace["format"] == "lazydit-golden/1" and trace["backend"] == "executorch"
    assert trace["shape"] == [1, 1, 16, 16] and trace["classes"] == [0]
    noise = np.fromfile(interval_bundle / "golden" / "noise.bin", dtype="<f4").reshape(trace["shape"])
    np.testing.assert_array_equal(noise, initial_noise(bundle, trace["seed"]))
    final = np.fromfile(interval_bundle / "golden" / "final.bin", dtype="<f4").reshape(trace["shape"])
    assert checksums(final) == trace["final_checksums"]
    assert checksums(final)["sum"] == pytest.approx(float(final.astype(np.float64).sum()))
    m = bundle.manifest
    assert [(s["index"], s["variant"], s["reads"], s["writes"], s["timestep"]) for s in trace["steps"]] == [
        (s["index"], s["variant"], s["reads"], s["writes"], s["timestep"]) for s in m["steps"]
    ]


@pytest.mark.parametrize("backend", ["executorch", "onnxruntime"])
def test_a_rerun_matches_the_golden_trace(interval_bundle, bundle, backends, backend):
    trace = _trace(interval_bundle)
    variants, latents, image = _rerun(bundle, backends[backend], trace)
    assert compare_to_golden(trace, variants, latents) == []
    final = np.fromfile(interval_bundle / "golden" / "final.bin", dtype="<f4").reshape(trace["shape"])
    assert np.abs(image - final).max() <= trace["tolerance"]


def test_the_golden_trace_catches_a_wrong_run(interval_bundle, bundle, backends):
    trace = _trace(interval_bundle)
    variants, latents, _ = _rerun(bundle, backends["onnxruntime"], trace)
    bumped = [x.copy() for x in latents]
    bumped[4][0, 0, 0, 0] += 0.05
    problems = compare_to_golden(trace, variants, bumped)
    assert problems and all(p.startswith("step 4:") for p in problems)
    assert any("latent[0]" in p for p in problems) and any("sum" in p for p in problems)

    swapped = list(variants)
    swapped[2] = "v1"
    assert compare_to_golden(trace, swapped, latents) == ["step 2: variant v1, trace says v0"]
    assert compare_to_golden(trace, variants[:-1], latents[:-1]) == [
        f"{TINY_STEPS - 1} steps run, trace has {TINY_STEPS}"
    ]
