"""The C++ runner (runtime/native) against the Python scheduler, the golden trace, damaged bundles and the
bundle contract corpus (tests/contract/bundle_cases.json) that every scheduler port runs.

Builds ``lazydit_runner`` with CMake into build/native (skipped when the sources have not changed since the
last build, see ``_stamp``), exports a tiny ExecuTorch bundle once per test run, and runs the real binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from contract_cases import load_cases, message_matches

CASES = load_cases()


@pytest.fixture(scope="session")
def runner(native_runner) -> Path:
    return native_runner


@pytest.fixture(scope="session")
def tiny_bundle(tiny_executorch_bundle) -> Path:
    return tiny_executorch_bundle


def _run(runner: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(runner), *args], capture_output=True, text=True, timeout=120)


def _golden_run(runner: Path, bundle: Path, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """One --golden run (one warm-up, three timed runs, one thread) writing its report, final latent and image
    into ``out``; returns the process and the report."""
    done = _run(
        runner,
        "--bundle",
        str(bundle),
        "--golden",
        "--warmup",
        "1",
        "--repeat",
        "3",
        "--threads",
        "1",
        "--report",
        str(out / "report.json"),
        "--out-latent",
        str(out / "latent.bin"),
        "--out-image",
        str(out / "image.bin"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def golden_run(runner, tiny_bundle, tmp_path_factory):
    """One --golden run of the runner with a report and the final latent."""
    out = tmp_path_factory.mktemp("native_run")
    done, report = _golden_run(runner, tiny_bundle, out)
    # A pixel bundle has no decoder: its image is the final latent.
    assert (out / "image.bin").read_bytes() == (out / "latent.bin").read_bytes()
    return done, report, np.fromfile(out / "latent.bin", dtype="<f4")


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
    # No decoder: the report has no decoder keys, as before decoders existed.
    assert r["bundle"]["decoder"] is None and "decode_ms" not in r and "decoder" not in r["load_ms"]
    assert all("decode_ms" not in run for run in r["runs"])


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


def test_runner_on_the_embedded_bundle_matches_the_python_scheduler(
    runner, embedded_executorch_bundle, tmp_path_factory
):
    """The embedded Fashion-MNIST model's 20-step 50%-lazy bundle (the one `make demo` ships): the native runner
    and the Python scheduler, both on ExecuTorch, give the same final latent within 1e-4."""
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    out = embedded_executorch_bundle
    latent = tmp_path_factory.mktemp("embedded-run") / "final.bin"
    ran = _run(runner, "--bundle", str(out), "--golden", "--warmup", "0", "--repeat", "1", "--out-latent", str(latent))
    assert ran.returncode == 0, ran.stderr
    bundle = load_bundle(out)
    trace = json.loads((out / "golden" / "trace.json").read_text())
    noise = np.fromfile(out / "golden" / "noise.bin", dtype="<f4").reshape(trace["shape"])
    python = Scheduler(bundle, create_backend("executorch", bundle)).run(trace["classes"], noise=noise)
    native = np.fromfile(latent, dtype="<f4").reshape(python.latent.shape)
    assert np.abs(native - python.latent).max() <= 1e-4


# --- untrusted bundles -------------------------------------------------------------------------------------


def _refused(done: subprocess.CompletedProcess) -> str:
    """The one stderr line of a refusal (exit 2, nothing run, no abort or uncaught exception)."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1, done.stderr[-2000:]
    assert "terminate" not in done.stderr and "Abort" not in done.stderr, done.stderr
    assert done.stdout == "", done.stdout  # the summary is printed only after the runs
    return lines[0]


def _entry(index: Path, name: str) -> dict:
    return next(e for e in json.loads(index.read_text())["cases"] if e["name"] == name)


def _relist(bundle: Path, rel: str) -> None:
    """Records ``rel``'s current size and sha256 in the manifest, as a careful attacker (or a re-export) would."""
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    data = (bundle / rel).read_bytes()
    manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", [c["name"] for c in CASES["refuse"]])
def test_runner_refuses_the_contract_case(runner, contract_index, name):
    entry = _entry(contract_index, name)
    line = _refused(_run(runner, "--bundle", entry["bundle"], "--warmup", "0", "--repeat", "1"))
    assert message_matches(line, entry), f"{name}: {line}"
    if entry["class"] == "containment":
        assert line.endswith("a bundle's paths must stay inside the bundle"), line


@pytest.mark.parametrize("name", [c["name"] for c in CASES["accept"]])
def test_runner_accepts_the_contract_case(runner, contract_index, name):
    entry = _entry(contract_index, name)
    done = _run(runner, "--bundle", entry["bundle"], "--golden", "--warmup", "0", "--repeat", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "golden: 10 steps match" in done.stdout


def _opened_under(folder: Path, command: list[str]) -> list[str]:
    """Runs ``command`` and returns the names of the files under ``folder`` it opened or read, as Linux's inotify
    reports them (through symlinks too: the events belong to the file, not to the name it was opened by)."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        pytest.skip("no inotify on this system")
    in_access, in_open, in_nonblock = 0x1, 0x20, 0o4000
    fd = libc.inotify_init1(in_nonblock)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        for d in [folder, *[p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()]]:
            assert libc.inotify_add_watch(fd, str(d).encode(), in_open | in_access) >= 0
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            data = b""
    finally:
        os.close(fd)
    names, i = [], 0
    while i < len(data):
        _, _, _, length = struct.unpack_from("iIII", data, i)
        names.append(data[i + 16 : i + 16 + length].rstrip(b"\0").decode())
        i += 16 + length
    assert "inside the bundle" in _refused(done)
    return sorted(set(names))


@pytest.mark.parametrize("name", [c["name"] for c in CASES["refuse"] if c["class"] == "containment"])
def test_a_path_outside_the_bundle_is_never_opened(runner, contract_index, name):
    """The containment check comes before any file is opened, hashing included: the folder outside the bundle
    (a full copy of it, where the manifest or a symlink points) sees no open and no read."""
    bundle = Path(_entry(contract_index, name)["bundle"])
    opened = _opened_under(
        bundle.parent / "outside", [str(runner), "--bundle", str(bundle), "--warmup", "0", "--repeat", "1"]
    )
    assert opened == [], f"{name}: opened {opened} outside the bundle"


def test_golden_noise_outside_the_bundle_is_refused(runner, tiny_bundle, tmp_path):
    """The trace names its noise file: a bundle path like any other, under the same rule."""
    bundle = _copy(tiny_bundle, tmp_path)
    trace_path = bundle / "golden" / "trace.json"
    trace = json.loads(trace_path.read_text())
    trace["noise"] = "../../outside/noise.bin"
    trace_path.write_text(json.dumps(trace))
    _relist(bundle, "golden/trace.json")
    line = _refused(_run(runner, "--bundle", str(bundle), "--golden"))
    assert "trace.json: noise '../../outside/noise.bin'" in line and "inside the bundle" in line, line


def _garbage(kind: str, data: bytes) -> bytes:
    if kind == "random-bytes":
        return random.Random(0).randbytes(len(data))
    if kind == "zeros":
        return bytes(len(data))
    if kind == "empty":
        return b""
    if kind == "truncated":
        return data[: len(data) // 2]
    # The header and identifier intact, 256 bytes of the flatbuffer garbled just past them: what the program
    # verifier must catch (the default, minimal verification reads only the header).
    out = bytearray(data)
    start = max(64, len(data) // 100)
    out[start : start + 256] = random.Random(1).randbytes(256)
    return bytes(out)


@pytest.mark.parametrize("kind", ["random-bytes", "zeros", "empty", "truncated", "garbled-flatbuffer"])
def test_garbage_program_with_matching_checksum_is_one_line(runner, tiny_bundle, tmp_path, kind):
    bundle = _copy(tiny_bundle, tmp_path)
    pte = bundle / "executorch" / "model.pte"
    pte.write_bytes(_garbage(kind, pte.read_bytes()))
    _relist(bundle, "executorch/model.pte")
    line = _refused(_run(runner, "--bundle", str(bundle), "--golden"))
    assert "executorch/model.pte" in line and "ExecuTorch cannot load this program" in line, line


def test_bit_flipped_programs_never_crash_the_runner(runner, tiny_bundle, tmp_path):
    """300 programs with 20 random bit flips each and a recomputed checksum. Flips in the weights still run
    (exit 0); flips in the program or a delegate blob give one line naming the file: exit 2, or exit 1 for a
    flip that renames an operator this build has no kernel for. Never a signal or an abort. Some flips reach
    XNNPACK's reader of the delegate blob, which trusts the ids in it; the runner turns that crash into its
    one line too."""
    bundle = _copy(tiny_bundle, tmp_path)
    pte = bundle / "executorch" / "model.pte"
    original = pte.read_bytes()
    outcomes = {}
    for seed in range(300):
        rng = random.Random(seed)
        data = bytearray(original)
        for _ in range(20):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        pte.write_bytes(bytes(data))
        _relist(bundle, "executorch/model.pte")
        done = subprocess.run(
            [str(runner), "--bundle", str(bundle), "--warmup", "0", "--repeat", "1", "--threads", "1"],
            capture_output=True,
            timeout=60,
        )
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode in (0, 1, 2), f"seed {seed}: exit {done.returncode}: {err[-1000:]}"
        if done.returncode:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "executorch/model.pte" in lines[0], f"seed {seed}: {err[-1000:]}"
            assert "terminate" not in err and "Abort" not in err, f"seed {seed}: {err}"
        outcomes[done.returncode] = outcomes.get(done.returncode, 0) + 1
    assert outcomes.get(2, 0) > 100, outcomes  # most flips land in the program or a delegate blob


@pytest.mark.parametrize(
    "path, why",
    [
        ("C:/bundle/schedule.json", "has a drive letter"),
        ("golden\\trace.json", "contains a backslash"),
        ("./schedule.json", "is not normalised"),
        ("golden//trace.json", "is not normalised"),
        ("", "is empty"),
    ],
)
def test_a_path_written_another_way_is_refused(runner, tiny_bundle, tmp_path, path, why):
    """The lexical half of the containment rule beyond the corpus: paths that would mean another file on
    another platform, or that are not written the one way the exporter writes them."""
    bundle = _copy(tiny_bundle, tmp_path)
    manifest_path = bundle / "manifest.json"
    m = json.loads(manifest_path.read_text())
    m["files"][path] = {"sha256": "0" * 64, "bytes": 0}
    manifest_path.write_text(json.dumps(m))
    line = _refused(_run(runner, "--bundle", str(bundle)))
    assert f"files key '{path}' {why}" in line and line.endswith("a bundle's paths must stay inside the bundle"), line


@pytest.mark.parametrize("case", ["method-not-in-program", "dtype-against-method", "manifest-symlink-outside"])
def test_manifest_against_the_program_is_one_line(runner, tiny_bundle, tmp_path, case):
    """A manifest consistent with itself but not with the program it lists: refused when the program is opened,
    naming the variant."""
    bundle = _copy(tiny_bundle, tmp_path)
    manifest_path = bundle / "manifest.json"
    m = json.loads(manifest_path.read_text())
    if case == "method-not-in-program":
        m["targets"]["executorch"]["methods"]["v1"] = "v7"
        expect = "variant v1 has no executorch method v7 in this program"
    elif case == "dtype-against-method":
        for key in ("x", "x_next", "cache", "coef"):
            m["tensors"][key]["dtype"] = "float16"
        expect = "variant v0 (method v0) input 0 is [1, 1, 16, 16] Float, the manifest says [1, 1, 16, 16] float16"
    else:
        # manifest.json is the one name the runner supplies itself; a link out of the bundle is refused as well.
        real = tmp_path / "elsewhere.json"
        real.write_text(json.dumps(m))
        manifest_path.unlink()
        manifest_path.symlink_to(real)
        expect = "manifest.json' resolves through a symlink to"
    if case != "manifest-symlink-outside":
        manifest_path.write_text(json.dumps(m))
    line = _refused(_run(runner, "--bundle", str(bundle)))
    assert expect in line, line


# --- latent bundles: the decoder ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def latent_run(runner, latent_tiny_bundle, tmp_path_factory):
    """One --golden run of the runner on the latent bundle, with a report, the final latent and the image."""
    bundle, _ = latent_tiny_bundle
    out = tmp_path_factory.mktemp("native_latent")
    done, report = _golden_run(runner, bundle, out)
    return (
        done,
        report,
        np.fromfile(out / "latent.bin", dtype="<f4"),
        np.fromfile(out / "image.bin", dtype="<f4"),
    )


def test_runner_decodes_a_latent_bundle_as_the_python_scheduler(latent_tiny_bundle, latent_run):
    """The golden check covers the decoded image, and the image (and the latent before it) equal the Python
    scheduler's on ExecuTorch within 1e-4."""
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    bundle_dir, _ = latent_tiny_bundle
    done, _, latent, image = latent_run
    assert "golden: 10 steps match" in done.stdout and "golden: decoded image matches" in done.stdout
    bundle = load_bundle(bundle_dir)
    trace = json.loads((bundle_dir / "golden" / "trace.json").read_text())
    noise = np.fromfile(bundle_dir / "golden" / "noise.bin", dtype="<f4").reshape(trace["shape"])
    python = Scheduler(bundle, create_backend("executorch", bundle)).run(trace["classes"], noise=noise)
    assert python.image.shape == tuple(trace["image_shape"]) == (1, 3, 16, 16)
    assert image.shape == (python.image.size,) and latent.shape == (python.latent.size,)
    assert np.abs(image - python.image.ravel()).max() <= 1e-4
    assert np.abs(latent - python.latent.ravel()).max() <= 1e-4
    assert -1.0 <= image.min() and image.max() <= 1.0


def test_latent_report_has_decode_time(latent_tiny_bundle, latent_run):
    from lazydit.benchmarks.latency_workers import native_measurement

    _, r, _, _ = latent_run
    assert r["bundle"]["decoder"] == "decode"
    assert r["load_ms"]["decoder"] > 0
    assert r["load_ms"]["total"] == pytest.approx(
        r["load_ms"]["program"] + r["load_ms"]["methods_total"] + r["load_ms"]["decoder"]
    )
    assert "decoder loaded" == [s["stage"] for s in r["memory"]["stages"]][-2]
    for run in r["runs"]:
        assert run["decode_ms"] > 0
        # The total is the image's time: every step and the decoder.
        assert run["total_ms"] >= sum(s["ms"] for s in run["steps"]) + run["decode_ms"]
    decodes = sorted(run["decode_ms"] for run in r["runs"])
    assert r["decode_ms"]["count"] == 3 and r["decode_ms"]["median"] == pytest.approx(decodes[1])
    assert r["golden"] == {"checked": True, "ok": True, "problems": []}
    # What `lazydit bench latency` keeps of a runner report carries the decode time.
    assert native_measurement(r)["decode_ms"] == r["runs"][-1]["decode_ms"]


def test_bench_native_worker_reports_decode_time(runner, latent_tiny_bundle):
    from lazydit.benchmarks.latency_workers import NativeWorker

    bundle, _ = latent_tiny_bundle
    m = NativeWorker(runner, bundle, threads=1, warmup=0).run()
    assert m["decode_ms"] > 0 and m["total_ms"] >= m["decode_ms"]


def test_decoded_image_mismatch_exits_3(runner, latent_tiny_bundle, tmp_path):
    bundle = _copy(latent_tiny_bundle[0], tmp_path)
    trace_path = bundle / "golden" / "trace.json"
    trace = json.loads(trace_path.read_text())
    trace["image_checksums"]["sum"] += 10.0
    trace_path.write_text(json.dumps(trace))
    _relist(bundle, "golden/trace.json")
    done = _run(runner, "--bundle", str(bundle), "--golden", "--warmup", "0", "--repeat", "1")
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"golden mismatch: run 0: decoder: image sum "
        f"{trace['image_checksums']['sum'] - 10:.6g} vs "
        f"{trace['image_checksums']['sum']:.6g}"
    ]


@pytest.mark.parametrize(
    "case", ["method-not-in-program", "no-executorch-decoder", "image-shape", "no-image-tensor", "trace-image-shape"]
)
def test_decoder_against_the_program_is_one_line(runner, latent_tiny_bundle, tmp_path, case):
    """A latent bundle whose decoder the program cannot give as the manifest says: refused before any step runs,
    one line, exit 2."""
    bundle = _copy(latent_tiny_bundle[0], tmp_path)
    manifest_path = bundle / "manifest.json"
    m = json.loads(manifest_path.read_text())
    args = ["--bundle", str(bundle), "--golden"]
    if case == "method-not-in-program":
        m["targets"]["executorch"]["decoder"] = "decode7"
        expect = "model.pte: decoder has no executorch method decode7 in this program; re-export the bundle"
    elif case == "no-executorch-decoder":
        del m["targets"]["executorch"]["decoder"]
        expect = "manifest.json: the bundle has a decoder but its executorch target has no decoder graph"
    elif case == "image-shape":
        m["tensors"]["image"]["shape"] = [1, 3, 32, 32]
        # Noise and labels of its own, so that the trace (whose image_shape now disagrees) is not read.
        args = ["--bundle", str(bundle), "--noise", str(bundle / "golden" / "noise.bin"), "--classes", "0"]
        expect = (
            "model.pte: decoder (method decode) output 0 is [1, 3, 16, 16] Float, the manifest says "
            "[1, 3, 32, 32] float32"
        )
    elif case == "no-image-tensor":
        del m["tensors"]["image"]
        expect = "manifest.json: the bundle has a decoder but no tensors/image"
    else:
        trace_path = bundle / "golden" / "trace.json"
        trace = json.loads(trace_path.read_text())
        trace["image_shape"] = [1, 3, 8, 8]
        trace_path.write_text(json.dumps(trace))
        _relist(bundle, "golden/trace.json")
        m = json.loads(manifest_path.read_text())
        expect = "trace.json: trace's image_shape differs from the manifest's tensors/image"
    manifest_path.write_text(json.dumps(m))
    line = _refused(_run(runner, *args))
    assert expect in line, line
