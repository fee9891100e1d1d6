"""The C++ runner (runtime/native) against the Python scheduler, the golden trace and damaged bundles.

Builds ``lazydit_runner`` with CMake into build/native (skipped when the sources have not changed since the
last build, see ``_stamp``), exports a tiny ExecuTorch bundle once per test run, and runs the real binary.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

@pytest.fixture(scope="session")
def runner(native_runner) -> Path:
    return native_runner


@pytest.fixture(scope="session")
def tiny_bundle(tiny_executorch_bundle) -> Path:
    return tiny_executorch_bundle


def _run(runner: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(runner), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def golden_run(runner, tiny_bundle, tmp_path_factory):
    """One --golden run of the runner with a report and the final latent."""
    out = tmp_path_factory.mktemp("native_run")
    done = _run(runner, "--bundle", str(tiny_bundle), "--golden", "--warmup", "1", "--repeat", "3",
                "--threads", "1", "--report", str(out / "report.json"), "--out-latent", str(out / "latent.bin"))
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads((out / "report.json").read_text()), np.fromfile(out / "latent.bin", dtype="<f4")


def test_runner_matches_golden_and_python_scheduler(tiny_bundle, golden_run):
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    done, report, latent = golden_run
    assert "golden: 10 steps match" in done.stdout
    bundle = load_bundle(tiny_bundle)
    trace = json.loads((tiny_bundle / "golden" / "trace.json").read_text())
    noise = np.fromfile(tiny_bundle / "golden" / "noise.bin", dtype="<f4").reshape(trace["shape"])
    expected = Scheduler(bundle, create_backend("executorch", bundle)).run(trace["classes"], noise=noise).image
    assert latent.shape == (expected.size,)
    assert np.max(np.abs(latent - expected.ravel())) <= 1e-4


def test_report_fields(tiny_bundle, golden_run):
    _, r, _ = golden_run
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    variants = [v["name"] for v in manifest["variants"]]
    plan = [s["variant"] for s in manifest["steps"]]
    assert r["runner"]["name"] == "lazydit_runner" and r["runner"]["executorch"]
    assert r["device"]["threads"] == 1 and r["device"]["arch"]
    assert set(r["load_ms"]["methods"]) == set(variants)
    assert r["load_ms"]["program"] > 0
    assert r["load_ms"]["total"] == pytest.approx(r["load_ms"]["program"] + sum(r["load_ms"]["methods"].values()))
    assert len(r["runs"]) == 3
    for run in r["runs"]:
        assert [s["variant"] for s in run["steps"]] == plan
        assert all(s["ms"] > 0 for s in run["steps"])
        assert run["total_ms"] >= sum(s["ms"] for s in run["steps"])
    totals = sorted(run["total_ms"] for run in r["runs"])
    assert r["total_ms"]["median"] == pytest.approx(totals[1])
    assert totals[0] <= r["total_ms"]["p90"] <= totals[-1]
    assert set(r["per_variant_step_ms"]) == set(plan)
    assert r["per_variant_step_ms"][plan[0]]["count"] == 3 * plan.count(plan[0])
    stages = [s["stage"] for s in r["memory"]["stages"]]
    assert stages[:2] == ["start", "program loaded"] and [f"method {v} loaded" for v in variants] == stages[2:-1]
    assert r["memory"]["peak_rss_kb"] >= max(s["peak_rss_kb"] for s in r["memory"]["stages"][:-1]) > 0
    assert r["golden"] == {"checked": True, "ok": True, "problems": []}


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(bundle, dst)
    return dst


def test_corrupted_program_is_refused_before_running(runner, tiny_bundle, tmp_path):
    bundle = _copy(tiny_bundle, tmp_path)
    pte = bundle / "executorch" / "model.pte"
    data = bytearray(pte.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pte.write_bytes(bytes(data))
    done = _run(runner, "--bundle", str(bundle), "--golden")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "executorch/model.pte" in lines[0] and "sha256" in lines[0]
    assert done.stdout == ""  # nothing ran


def test_golden_mismatch_exits_3(runner, tiny_bundle, tmp_path):
    bundle = _copy(tiny_bundle, tmp_path)
    trace_path = bundle / "golden" / "trace.json"
    trace = json.loads(trace_path.read_text())
    trace["steps"][3]["latent"]["sum"] += 10.0
    trace_path.write_text(json.dumps(trace))
    # A consistent bundle whose trace disagrees with the graphs: re-list the edited trace in the manifest.
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    data = trace_path.read_bytes()
    manifest["files"]["golden/trace.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest_path.write_text(json.dumps(manifest))
    done = _run(runner, "--bundle", str(bundle), "--golden", "--warmup", "0", "--repeat", "1")
    assert done.returncode == 3
    assert "step 3: latent sum" in done.stderr


@pytest.mark.parametrize("case", ["noise_size", "class_range", "manifest_shape", "missing_bundle"])
def test_bad_input_is_one_line_exit_2(runner, tiny_bundle, tmp_path, case):
    bundle = _copy(tiny_bundle, tmp_path)
    args = ["--bundle", str(bundle)]
    if case == "noise_size":
        (tmp_path / "noise.bin").write_bytes(b"\0" * 12)
        args += ["--noise", str(tmp_path / "noise.bin")]
        expect = "noise.bin"
    elif case == "class_range":
        args += ["--classes", "7"]
        expect = "class 7 out of range"
    elif case == "manifest_shape":
        m = json.loads((bundle / "manifest.json").read_text())
        m["tensors"]["cache"]["shape"][1] += 1
        (bundle / "manifest.json").write_text(json.dumps(m))
        expect = "manifest.json: tensor cache has shape"
    else:
        args = ["--bundle", str(tmp_path / "nowhere")]
        expect = "bundle folder not found"
    done = _run(runner, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], done.stderr


def test_runner_on_the_embedded_bundle_matches_the_python_scheduler(runner, embedded_executorch_bundle,
                                                                   tmp_path_factory):
    """The embedded Fashion-MNIST model's 20-step 50%-lazy bundle (the one `make demo` ships): the native runner
    and the Python scheduler, both on ExecuTorch, give the same final latent within 1e-4."""
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    out = embedded_executorch_bundle
    latent = tmp_path_factory.mktemp("embedded-run") / "final.bin"
    ran = _run(runner, "--bundle", str(out), "--golden", "--warmup", "0", "--repeat", "1",
               "--out-latent", str(latent))
    assert ran.returncode == 0, ran.stderr
    bundle = load_bundle(out)
    trace = json.loads((out / "golden" / "trace.json").read_text())
    noise = np.fromfile(out / "golden" / "noise.bin", dtype="<f4").reshape(trace["shape"])
    python = Scheduler(bundle, create_backend("executorch", bundle)).run(trace["classes"], noise=noise)
    native = np.fromfile(latent, dtype="<f4").reshape(python.latent.shape)
    assert np.abs(native - python.latent).max() <= 1e-4
