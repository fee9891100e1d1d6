"""Hostile input to the command line, as a user (or an attacker) hands it over: damaged checkpoints, schedules,
gates and bundles, and values no command can run with. Every case runs the real ``lazydit`` command in a
subprocess and must end with exit status 2, exactly one ``lazydit: error:`` line naming the problem, no
traceback or native abort, and nothing written. (The bundle contract corpus that all four runtimes share is in
tests/contract; this file covers the Python CLI's own inputs.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lazydit.export.checkpoint import save_safetensors
from lazydit.export.model import DiT, config_from_name, randomize_weights


def _run(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lazydit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def _refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The one error line of a refused command, after checking status 2 and no traceback or abort."""
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{err[-3000:]}"
    assert "Traceback" not in err and "terminate called" not in err and "Abort" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("lazydit: error: ")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), f"expected one final error line:\n{err[-3000:]}"
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in: {lines[0]}"
    return lines[0]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny checkpoint and a few damaged copies of it, in a folder whose listing every test compares."""
    root = tmp_path_factory.mktemp("hostile")
    torch.manual_seed(0)
    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    dit = randomize_weights(DiT(cfg).eval(), 0.05)
    save_safetensors(
        dit,
        root / "tiny.safetensors",
        dtype=torch.float32,
        sampling={"cfg_scale": 1.5, "clip_denoised": True, "num_steps": 10},
    )
    nan = DiT(cfg).eval()
    nan.load_state_dict(dit.state_dict())
    with torch.no_grad():
        nan.blocks[1].mlp.fc1.weight[3, 5] = float("nan")
    save_safetensors(nan, root / "nan.safetensors", dtype=torch.float32)
    # An official-layout state_dict (no config): the head count has to come from the user.
    torch.save(dit.state_dict(), root / "raw.pt")
    return root


CHECKPOINT_CASES = {
    "nan-weights": (
        ["export", "--checkpoint", "nan.safetensors", "--schedule", "ddim:10", "--targets", "torch"],
        ["NaN", "nan.safetensors"],
    ),
    "heads-do-not-divide": (
        ["export", "--checkpoint", "raw.pt", "--num-heads", "5", "--schedule", "ddim:10", "--targets", "torch"],
        ["5 heads do not divide hidden size 32"],
    ),
    "zero-heads": (["export", "--checkpoint", "raw.pt", "--num-heads", "0"], ["--num-heads", ">= 1"]),
    "cfg-scale-nan": (["export", "--checkpoint", "tiny.safetensors", "--cfg-scale", "nan"], ["--cfg-scale", "finite"]),
    "steps-beyond-the-timesteps": (
        ["export", "--checkpoint", "tiny.safetensors", "--schedule", "ddim", "--steps", "1000000000"],
        ["--steps", "1 to 1000"],
    ),
    "steps-in-the-source": (
        ["export", "--checkpoint", "tiny.safetensors", "--schedule", "ddim:1000000000", "--targets", "torch"],
        ["ddim:1000000000"],
    ),
    "unknown-target": (["export", "--checkpoint", "tiny.safetensors", "--targets", "tflite"], ["--targets", "tflite"]),
    "batch-zero": (["export", "--checkpoint", "tiny.safetensors", "--batch", "0"], ["--batch"]),
}


@pytest.mark.parametrize("name", sorted(CHECKPOINT_CASES))
def test_export_refuses_in_one_line(work, name, tmp_path):
    args, words = CHECKPOINT_CASES[name]
    before = _listing(work)
    out = tmp_path / "bundle"
    line = _refused(_run(*args, "--out", out, cwd=work), *words)
    assert not out.exists() and not list(tmp_path.glob(".*partial*")), line
    assert _listing(work) == before


def test_a_schedule_with_nan_in_its_mask_is_refused(work, tmp_path):
    from lazydit.export.schedule import interval_schedule

    path = tmp_path / "s.json"
    interval_schedule(10, 2, 2).save(path)
    d = json.loads(path.read_text())
    d["skip"][3][0][1] = float("nan")
    path.write_text(json.dumps(d))
    out = tmp_path / "bundle"
    _refused(
        _run("export", "--checkpoint", work / "tiny.safetensors", "--schedule", path, "--out", out, cwd=work),
        str(path),
        "true/false",
    )
    assert not out.exists()


def test_gates_with_nan_are_refused(work, tmp_path):
    from lazydit.export.checkpoint import fingerprint, load_dit
    from lazydit.export.diffusion import ddim_timesteps
    from lazydit.export.gates import GatesMeta, LazyGates, save_gates

    dit = load_dit(work / "tiny.safetensors")
    c = dit.config
    gates = LazyGates(10, c.depth, c.hidden_size)
    with torch.no_grad():
        next(gates.parameters()).view(-1)[7] = float("inf")
    path = tmp_path / "g.safetensors"
    save_gates(
        path, gates, GatesMeta(10, tuple(ddim_timesteps(10)), c.depth, c.hidden_size, c.num_patches, fingerprint(dit))
    )
    _refused(
        _run(
            "calibrate",
            "--checkpoint",
            work / "tiny.safetensors",
            "--steps",
            "10",
            "--gates",
            path,
            "--out",
            tmp_path / "s.json",
            cwd=work,
        ),
        "NaN or infinite",
        "retrain",
    )
    assert not (tmp_path / "s.json").exists()


# --- lazydit sample: values and output paths ------------------------------------------------------------------

SAMPLE_CASES = {
    "negative-seed": (["--seed", "-1"], ["--seed"]),
    "seed-beyond-63-bits": (["--seed", str(2**63)], ["--seed"]),
    "zero-images": (["--n", "0"], ["--n"]),
    "negative-images": (["--n", "-4"], ["--n"]),
    "negative-threads": (["--threads", "-2"], ["--threads"]),
    "class-outside-the-bundle": (["--classes", "1,9"], ["class 9", "0..3"]),
    "classes-not-numbers": (["--classes", "one"], ["--classes"]),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_CASES))
def test_sample_refuses_bad_values_in_one_line(tiny_executorch_bundle, name, tmp_path):
    args, words = SAMPLE_CASES[name]
    out = tmp_path / "grid.png"
    _refused(_run("sample", "--bundle", tiny_executorch_bundle, "--out", out, *args, cwd=tmp_path), *words)
    assert _listing(tmp_path) == []


def test_sample_output_under_a_file_or_onto_a_folder_or_an_existing_file(tiny_executorch_bundle, tmp_path):
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "adir").mkdir()
    (tmp_path / "old.png").write_bytes(b"old")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    for out, words in (
        (tmp_path / "afile" / "grid.png", ["is (under) a file"]),
        (tmp_path / "adir", ["folder"]),
        (tmp_path / "old.png", ["exists", "--force"]),
    ):
        _refused(_run("sample", "--bundle", tiny_executorch_bundle, "--n", "1", "--out", out, cwd=tmp_path), *words)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert (tmp_path / "old.png").read_bytes() == b"old"


# --- damaged graphs whose checksums were recomputed ------------------------------------------------------------


def _rehashed_copy(bundle: Path, dest: Path, rel: str, damage) -> Path:
    shutil.copytree(bundle, dest)
    path = dest / rel
    path.write_bytes(damage(path.read_bytes()))
    m = json.loads((dest / "manifest.json").read_text())
    data = path.read_bytes()
    m["files"][rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (dest / "manifest.json").write_text(json.dumps(m))
    return dest


def _garble(data: bytes, start: int = 0) -> bytes:
    rng = np.random.default_rng(1)
    return data[:start] + rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()


GRAPH_CASES = {
    "pte-garbage": ("executorch", "executorch/model.pte", lambda d: _garble(d), ["model.pte", "ExecuTorch"]),
    "pte-garbage-after-its-header": (
        "executorch",
        "executorch/model.pte",
        lambda d: _garble(d, 64),
        ["model.pte", "cannot load"],
    ),
    "pte-truncated": ("executorch", "executorch/model.pte", lambda d: d[: len(d) // 3], ["model.pte"]),
    "onnx-garbage": ("onnxruntime", "onnx/v0.onnx", lambda d: _garble(d), ["v0.onnx", "ONNX"]),
    "onnx-truncated": ("onnxruntime", "onnx/v1.onnx", lambda d: d[: len(d) // 2], ["v1.onnx"]),
    "onnx-weights-shorter-than-the-offsets": (
        "onnxruntime",
        "onnx/weights.bin",
        lambda d: d[: len(d) // 2],
        ["weights.bin", "spans bytes"],
    ),
}


@pytest.mark.parametrize("name", sorted(GRAPH_CASES))
def test_a_damaged_graph_with_a_matching_checksum_is_one_line(interval_bundle, name, tmp_path):
    backend, rel, damage, words = GRAPH_CASES[name]
    bundle = _rehashed_copy(interval_bundle, tmp_path / "b", rel, damage)
    out = tmp_path / "grid.png"
    _refused(_run("sample", "--bundle", bundle, "--backend", backend, "--n", "1", "--out", out, cwd=tmp_path), *words)
    assert not out.exists()


def test_a_manifest_consistent_in_itself_but_not_with_its_graphs(interval_bundle, tmp_path):
    """Twice the image size everywhere in the manifest: its own shape checks pass, the graphs' do not."""
    bundle = tmp_path / "b"
    shutil.copytree(interval_bundle, bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    m["model"]["config"]["input_size"] = 32
    m["image"]["height"] = m["image"]["width"] = 32
    for name in ("x", "x_next"):
        m["tensors"][name]["shape"][2:] = [32, 32]
    m["tensors"]["cache"]["shape"][1] = 64
    (bundle / "manifest.json").write_text(json.dumps(m))
    for backend, graph in (("onnxruntime", "v0.onnx"), ("executorch", "model.pte")):
        _refused(
            _run(
                "sample",
                "--bundle",
                bundle,
                "--backend",
                backend,
                "--n",
                "1",
                "--out",
                tmp_path / "g.png",
                cwd=tmp_path,
            ),
            graph,
            "variant v0",
            "[1, 1, 32, 32]",
        )


# --- interrupts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_export_leaves_nothing(work, tmp_path, sig):
    out = tmp_path / "bundle"
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lazydit.cli",
            "export",
            "--checkpoint",
            work / "tiny.safetensors",
            "--schedule",
            "interval:10:2",
            "--targets",
            "executorch,onnx",
            "--out",
            out,
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    partial = tmp_path / ".bundle.partial"
    deadline = time.time() + 120
    while not partial.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert partial.exists(), "the export never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "lazydit: interrupted" in err and "Traceback" not in err, err[-2000:]
    assert _listing(tmp_path) == []


def test_a_class_count_beyond_the_graphs_label_table(interval_bundle, tmp_path):
    """More classes in the manifest (and its config) than the graph's label table holds."""
    bundle = tmp_path / "b"
    shutil.copytree(interval_bundle, bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    m["classes"]["count"] = m["model"]["config"]["num_classes"] = 9
    m["classes"]["names"] = [str(i) for i in range(9)]
    m["classes"]["null_class"] = 9
    (bundle / "manifest.json").write_text(json.dumps(m))
    _refused(
        _run(
            "sample",
            "--bundle",
            bundle,
            "--backend",
            "onnxruntime",
            "--n",
            "1",
            "--out",
            tmp_path / "g.png",
            cwd=tmp_path,
        ),
        "label table has 5 rows",
        "need 10",
    )
    # ExecuTorch does not show the table's size: the run itself fails, as one line.
    _refused(
        _run("sample", "--bundle", bundle, "--classes", "8", "--n", "1", "--out", tmp_path / "g.png", cwd=tmp_path),
        "model.pte",
        "class ids",
    )
