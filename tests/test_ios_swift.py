"""The iOS demo's Swift package (ios_demo/Package.swift) built and tested with this machine's Swift toolchain.

``swift build`` compiles every target: ``LazyDiTCore`` (pure Swift + Foundation) in full, ``LazyDiTCoreML`` and
``LazyDiTDemoUI`` and the Core ML test target as empty modules where Core ML / SwiftUI are missing (Linux).
``swift test`` then runs the XCTests of the core: the tiny fixtures, the invalid-manifest cases, and the replay of
the embedded model's golden trace. That replay uses the same data the Java core and the native runner are checked
with: the exporter's embedded bundle (the session fixture of conftest), one Python-scheduler run on ExecuTorch
recorded step by step by ios_demo/Scripts/make_fixtures.py, handed to the Swift test in ``LAZYDIT_EMBEDDED_REPLAY``.
A latent bundle (the ``latent_tiny_bundle`` fixture: a tiny latent DiT with a VAE decoder) is recorded the same way,
its decode call included, and reaches ``LatentGoldenReplayTests`` in ``LAZYDIT_LATENT_REPLAY``; the benchmark file
that test writes (``LAZYDIT_LATENT_REPORT_OUT``) must go through ``lazydit bench import``.
The shared bundle contract (tests/contract/bundle_cases.json, built by the ``contract_index`` fixture) reaches
the Swift core's ``BundleContractTests`` in ``LAZYDIT_CONTRACT_INDEX``; each case prints a ``CONTRACT`` line, and
every case of the index must appear once, "ok".

The suite fails unless XCTest reports 0 failures, nothing skipped, at least as many executed tests as the
sources hold test methods, and every one of those methods by name among the passed. The build is cached in
build/swift (gitignored), so a second run only relinks what changed. Without a ``swift`` on PATH the tests skip
with one line, except under CI (CI=true), where that is a broken set-up and fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from contract_cases import message_matches

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ios_demo"
CORE_TESTS = PACKAGE / "Tests" / "LazyDiTCoreTests"
SCRATCH = ROOT / "build" / "swift"
REPLAY_ENV = "LAZYDIT_EMBEDDED_REPLAY"
CONTRACT_ENV = "LAZYDIT_CONTRACT_INDEX"
LATENT_ENV = "LAZYDIT_LATENT_REPLAY"
LATENT_REPORT_ENV = "LAZYDIT_LATENT_REPORT_OUT"

TEST_METHOD = re.compile(r"^\s*func (test\w*)\s*\(", re.M)
PASSED = re.compile(r"^Test Case '(?:-\[)?[\w.]*?(\w+)[. ](test\w*)\]?' passed", re.M)
CONTRACT_LINE = re.compile(r"^CONTRACT (refuse|accept) (\S+) (\S+) (ok|FAIL) ?(.*)$", re.M)
XCTEST_CLASS = re.compile(r"^(?:final )?class (\w+)\s*:\s*XCTestCase", re.M)
SUMMARY = re.compile(r"Executed (\d+) tests?, with (?:(\d+) tests? skipped and )?(\d+) failures?")


def source_test_methods() -> dict[str, list[str]]:
    """``{class: [test methods]}`` of the core's XCTest sources, read from the files themselves."""
    found: dict[str, list[str]] = {}
    for f in sorted(CORE_TESTS.glob("*.swift")):
        text = f.read_text()
        # Each method belongs to the nearest class declared above it.
        classes = [(m.start(), m.group(1)) for m in XCTEST_CLASS.finditer(text)]
        for m in TEST_METHOD.finditer(text):
            owner = [name for pos, name in classes if pos < m.start()]
            assert owner, f"{f.name}: {m.group(1)} is outside an XCTestCase class"
            found.setdefault(owner[-1], []).append(m.group(1))
    return found


def _make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", PACKAGE / "Scripts" / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWIFT = shutil.which("swift")
NO_SWIFT = "no Swift toolchain (`swift` not on PATH); the iOS package was not built or tested"
UNDER_CI = os.environ.get("CI", "").lower() == "true"
if SWIFT is None and not UNDER_CI:
    # One line for the whole module, before any fixture exports a bundle for nothing.
    pytest.skip(NO_SWIFT, allow_module_level=True)


@pytest.fixture(scope="module")
def embedded_replay(request, tmp_path_factory) -> Path:
    """manifest.json, golden/ and every step's recorded inputs and outputs of the embedded bundle's golden run."""
    bundle = request.getfixturevalue("embedded_executorch_bundle")
    out = tmp_path_factory.mktemp("swift-embedded") / "embedded"
    index = _make_fixtures().record_steps(bundle, out, "executorch")
    assert len(index["steps"]) == 20
    return out


@pytest.fixture(scope="module")
def latent_replay(request, tmp_path_factory) -> Path:
    """The latent bundle's manifest, golden trace (with image.bin) and recorded steps and decode call."""
    bundle, _ = request.getfixturevalue("latent_tiny_bundle")
    out = tmp_path_factory.mktemp("swift-latent") / "latent"
    index = _make_fixtures().record_steps(bundle, out, "executorch")
    assert len(index["steps"]) == 10
    assert index["decode"]["inputs"][0]["shape"] == index["steps"][-1]["outputs"][0]["shape"]
    assert (out / "golden" / "image.bin").is_file()
    return out


@pytest.fixture(scope="module")
def latent_report_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("swift-latent-report")


@pytest.fixture(scope="module")
def swift_test(request, latent_report_dir) -> subprocess.CompletedProcess:
    """``swift build --build-tests`` then ``swift test`` of the package, with the embedded recording."""
    if SWIFT is None:  # only reached under CI, where the set-up must have provided the toolchain
        pytest.fail(f"{NO_SWIFT} (under CI the set-up must provide one)", pytrace=False)
    embedded_replay = request.getfixturevalue("embedded_replay")
    contract_index = request.getfixturevalue("contract_index")
    latent_replay = request.getfixturevalue("latent_replay")
    common = ["--package-path", str(PACKAGE), "--scratch-path", str(SCRATCH)]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    build = subprocess.run([SWIFT, "build", "--build-tests", *common], capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, f"swift build failed:\n{build.stdout[-8000:]}\n{build.stderr[-4000:]}"
    env = {
        **os.environ,
        REPLAY_ENV: str(embedded_replay),
        CONTRACT_ENV: str(contract_index),
        LATENT_ENV: str(latent_replay),
        LATENT_REPORT_ENV: str(latent_report_dir),
    }
    return subprocess.run(
        [SWIFT, "test", "--skip-build", *common], capture_output=True, text=True, timeout=600, env=env
    )


def test_swift_package_builds_and_every_core_test_passes(swift_test, capsys):
    proc = swift_test
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"swift test failed:\n{out[-10000:]}"
    summaries = SUMMARY.findall(out)
    assert summaries, f"no XCTest summary in the output:\n{out[-4000:]}"
    executed, skipped, failures = (int(v or 0) for v in summaries[-1])  # the last one is 'All tests'
    methods = source_test_methods()
    expected = sum(len(v) for v in methods.values())
    assert failures == 0, out[-10000:]
    assert skipped == 0, f"{skipped} Swift test(s) skipped; every core test must run here:\n{out[-6000:]}"
    assert executed >= expected, f"XCTest executed {executed} tests, the sources hold {expected} test methods"
    passed = set(PASSED.findall(out))
    missing = sorted(f"{c}.{m}" for c, ms in methods.items() for m in ms if (c, m) not in passed)
    assert not missing, f"test methods that did not pass (or did not run): {missing}"
    with capsys.disabled():  # the count belongs in `make test`'s output, not only in a failure report
        print(
            f"\nswift test (ios_demo): executed {executed} tests, {failures} failures, {skipped} skipped; "
            f"LazyDiTCoreTests declares {expected}"
        )


def test_swift_core_replays_the_embedded_golden_trace(swift_test):
    """The two embedded-bundle tests are among the passed: the recording reached them and they ran."""
    passed = set(PASSED.findall(swift_test.stdout + swift_test.stderr))
    methods = source_test_methods()["EmbeddedGoldenReplayTests"]
    assert len(methods) >= 2
    for m in methods:
        assert ("EmbeddedGoldenReplayTests", m) in passed, swift_test.stdout[-6000:]


def test_swift_core_replays_the_latent_golden_trace_with_its_decoder(swift_test):
    """Every latent-bundle test passed: the recording with its decode call reached them and they ran."""
    passed = set(PASSED.findall(swift_test.stdout + swift_test.stderr))
    methods = source_test_methods()["LatentGoldenReplayTests"]
    assert len(methods) >= 5
    for m in methods:
        assert ("LatentGoldenReplayTests", m) in passed, swift_test.stdout[-6000:]


def test_swift_latent_report_carries_decode_time_and_imports(swift_test, latent_report_dir, tmp_path):
    """The Swift core's benchmark file of the latent run has decode_ms beside the step times, and
    ``lazydit bench import`` still reads it: paired with a DDIM copy of its own report, as the app writes when
    it times both plans."""
    from lazydit.benchmarks.import_report import import_ios_bench

    path = latent_report_dir / "latent-bench.json"
    assert path.is_file(), swift_test.stdout[-4000:]
    bench = json.loads(path.read_text())
    (report,) = bench["reports"]
    assert report["decode_ms"]["count"] == len(report["runs"]) == 2
    assert all(run["decode_ms"] >= 0 and run["total_ms"] >= run["decode_ms"] for run in bench["reports"][0]["runs"])
    assert report["golden"]["ok"] is True and report["golden"]["max_abs_diff_image"] == 0
    ddim = json.loads(json.dumps(report))
    ddim["plan"].update(name="ddim-10", method="ddim", kind="dense", laziness=0.0, lazy_steps=0)
    bench["reports"].append(ddim)
    both = tmp_path / "bench.json"
    both.write_text(json.dumps(bench))
    imported = import_ios_bench(both)
    assert imported["format"] == "lazydit-latency-report/1"


def test_swift_core_runs_every_contract_case(swift_test, contract_index):
    """BundleContractTests ran every case of the shared corpus, not only the first of each kind: its CONTRACT
    lines name each case of the index once, each "ok", and each refusal has one of the case's words."""
    cases = json.loads(contract_index.read_text())["cases"]
    lines = CONTRACT_LINE.findall(swift_test.stdout)
    ran = {name: (expect, cls, status, msg) for expect, name, cls, status, msg in lines}
    assert len(lines) == len(ran) == len(cases), f"{len(lines)} CONTRACT lines for {len(cases)} cases"
    for case in cases:
        expect, cls, status, msg = ran[case["name"]]
        assert (expect, cls, status) == (case["expect"], case["class"], "ok"), f"{case['name']}: {status} {msg}"
        if expect == "refuse":
            assert message_matches(msg, case), f"{case['name']}: {msg}"
