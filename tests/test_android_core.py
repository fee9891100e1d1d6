"""The Android demo's scheduler core (android_demo/scheduler-core, pure Java) on this host's JVM.

ExecuTorch's Android runtime cannot run on a desktop JVM, so the Java step loop is tested against a
``GraphRunner`` that replays real data: the fixtures export the tiny bundle with the real exporter,
run the Python scheduler on its ExecuTorch backend once while recording every step's inputs and
outputs to .bin files, and the JUnit tests then check that the Java scheduler feeds each graph exactly
(bitwise) the recorded inputs, reuses its buffers, and reproduces the bundle's golden trace. The
manifest validation tests corrupt copies of that same bundle, and BundleContractTest runs the shared
bundle contract corpus (tests/contract/bundle_cases.json, the ``contract_index`` fixture) that the
other scheduler ports run too.

The Java side is compiled with ``javac`` against Debian's gson, junit4 and hamcrest jars, which
scripts/setup_env.sh installs; without them these tests skip and say what to install, and under CI
(``CI=true``, where the set-up ran) they fail instead. The JUnit classes run through the suite's own
``JUnitCounts`` main, which counts the tests that executed: JUnitCore's "OK (N tests)" also counts tests
skipped through ``Assume``, so a suite whose data never arrived would look green.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from contract_cases import message_matches

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
CORE = DEMO / "scheduler-core"
# Debian's packaged jars (libgoogle-gson-java, junit4, libhamcrest-java); LAZYDIT_JAVA_LIBS overrides.
JAVA_LIBS = Path(os.environ.get("LAZYDIT_JAVA_LIBS", "/usr/share/java"))
JARS = ("gson.jar", "junit4.jar", "hamcrest-core.jar")
INSTALL_HINT = (
    "apt-get install default-jdk-headless junit4 libhamcrest-java libgoogle-gson-java (scripts/setup_env.sh does)"
)


# The oldest executorch-android the app supports: Tensor.copyDataInto and Module.close came with the
# 1.3 line (absent from 1.2); the README names 1.3.1, the line's patch release.
ANDROID_MIN_EXECUTORCH = (1, 3, 1)
JUNIT_MAIN = "dev.lazydit.core.JUnitCounts"
# Needs the embedded bundle's recording; test_junit_core_on_the_embedded_bundle runs it on its own.
EMBEDDED_TEST = "dev.lazydit.core.EmbeddedGoldenTest"


def _missing(reason: str) -> None:
    """Skips for a tool scripts/setup_env.sh installs; under CI the set-up ran, so its absence fails."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: scripts/setup_env.sh should have installed it)")
    pytest.skip(reason)


def _classpath() -> list[Path]:
    """The jars the core and its tests need, or a skip (a failure under CI) naming what is missing."""
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            _missing(f"{tool} not found; {INSTALL_HINT}")
    missing = [j for j in JARS if not (JAVA_LIBS / j).is_file()]
    if missing:
        _missing(f"{', '.join(missing)} not in {JAVA_LIBS}; {INSTALL_HINT}")
    return [JAVA_LIBS / j for j in JARS]


def _test_source(cls: str) -> Path:
    return CORE / "src/test/java" / (cls.replace(".", "/") + ".java")


def expected_tests(classes: list[str]) -> int:
    """How many tests the classes declare: their @Test methods, read from the sources."""
    return sum(len(re.findall(r"^\s*@Test\b", _test_source(c).read_text(), re.M)) for c in classes)


def run_junit(classes_dir: Path, jars: list[Path], tests: list[str], props: dict[str, Path]):
    """Runs ``tests`` through JUnitCounts; returns the process and its counts (executed, failed, ...)."""
    cp = os.pathsep.join([str(classes_dir), *map(str, jars)])
    proc = subprocess.run(
        ["java", *(f"-D{k}={v}" for k, v in props.items()), "-cp", cp, JUNIT_MAIN, *tests],
        capture_output=True,
        text=True,
        timeout=300,
    )
    m = re.search(r"^JUNIT-COUNTS (.*)$", proc.stdout, re.M)
    assert m, f"JUnitCounts printed no counts:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    counts = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    return proc, counts


def assert_all_ran(proc, counts: dict[str, int], tests: list[str]) -> None:
    """Every declared test executed and passed: none failed, none skipped through Assume or @Ignore."""
    detail = f"{proc.stdout[-8000:]}\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0 and counts["failed"] == 0, f"JUnit failures:\n{detail}"
    assert counts["assumption_failures"] == 0 and counts["ignored"] == 0, f"JUnit tests skipped:\n{detail}"
    want = expected_tests(tests)
    assert counts["executed"] == counts["passed"] == want, f"{counts['executed']} of {want} tests ran:\n{detail}"


@pytest.fixture(scope="module")
def java_build(tmp_path_factory) -> tuple[Path, list[Path]]:
    """Compiles the core and its JUnit tests with javac (Java 17, as the Gradle build does)."""
    jars = _classpath()
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in CORE.glob("src/*/java/**/*.java"))
    cp = os.pathsep.join(map(str, jars))
    proc = subprocess.run(
        [
            "javac",
            "--release",
            "17",
            "-Xlint:all",
            "-Werror",
            "-encoding",
            "UTF-8",
            "-d",
            str(out),
            "-cp",
            cp,
            *sources,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"javac failed:\n{proc.stdout}\n{proc.stderr}"
    return out, jars


@pytest.fixture(scope="module")
def tiny_bundle(request) -> Path:
    """The tiny bundle (DiT depth 2, hidden 32, 16x16x1, 10 steps, interval:2), exported for executorch."""
    _classpath()  # skip before the export when Java is missing
    return request.getfixturevalue("tiny_executorch_bundle")


def record_run(bundle_dir: Path, out: Path) -> Path:
    """Every step's inputs and outputs of one Python-scheduler run (ExecuTorch backend), as .bin files.

    The run uses the golden trace's noise and classes; ``recording.json`` lists, per step, the variant
    and each input/output's name, dtype, shape and file (little-endian, C order); for a bundle with a
    decoder, ``decoder`` records the decode call after the last step the same way (input ``latent``,
    output ``image``).
    """
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.golden import checksums, compare_to_golden
    from lazydit.runtime.scheduler import Scheduler

    bundle = load_bundle(bundle_dir)
    trace = json.loads((bundle_dir / "golden" / "trace.json").read_text())
    noise = np.fromfile(bundle_dir / "golden" / trace["noise"], dtype="<f4").reshape(trace["shape"])
    steps: list[dict] = []
    latents: list[np.ndarray] = []
    decoder: dict = {}

    def save(arrays, names, kind, prefix=None):
        entries = []
        for name, a in zip(names, arrays):
            a = np.array(a, copy=True)  # the backend may reuse its output memory on the next call
            file = f"{prefix or f'step{len(steps):03d}'}_{kind}_{name}.bin"
            a.astype(a.dtype.newbyteorder("<")).tofile(out / file)
            entries.append({"name": name, "file": file, "dtype": str(a.dtype), "shape": list(a.shape)})
        return entries

    class Recorder:
        def __init__(self, inner):
            self.inner = inner

        def run(self, variant, inputs):
            v = bundle.variants[variant]
            recorded_inputs = save(inputs, v["inputs"], "in")
            outs = self.inner.run(variant, inputs)
            latents.append(np.array(outs[0], copy=True))
            steps.append(
                {
                    "index": len(steps),
                    "variant": variant,
                    "inputs": recorded_inputs,
                    "outputs": save(outs, v["outputs"], "out"),
                }
            )
            return outs

        def run_decoder(self, latent):
            assert not decoder, "the scheduler decoded twice in one run"
            recorded_inputs = save([latent], ["latent"], "in", prefix="decoder")
            image = self.inner.run_decoder(latent)
            decoder.update(
                name=bundle.manifest["decoder"]["name"],
                inputs=recorded_inputs,
                outputs=save([image], ["image"], "out", prefix="decoder"),
            )
            return image

    result = Scheduler(bundle, Recorder(create_backend("executorch", bundle))).run(trace["classes"], noise=noise)
    problems = compare_to_golden(trace, result.variants, latents)
    assert not problems, f"the Python scheduler no longer matches its own golden trace: {problems}"
    recording = {"format": "lazydit-recording/1", "classes": trace["classes"], "steps": steps}
    if "decoder" in bundle.manifest:
        assert decoder, "the Python scheduler did not run the bundle's decoder"
        got, ref = checksums(result.image), trace["image_checksums"]
        for key in ("sum", "abs_sum", "sum_sq"):
            assert abs(got[key] - ref[key]) <= trace["tolerance"] * max(1.0, abs(ref[key])), (key, got, ref)
        recording["decoder"] = decoder
    (out / "recording.json").write_text(json.dumps(recording, indent=1))
    return out


@pytest.fixture(scope="module")
def recording(tiny_bundle, tmp_path_factory) -> Path:
    return record_run(tiny_bundle, tmp_path_factory.mktemp("recording"))


def core_test_classes() -> list[str]:
    """Every JUnit class of the core (the *Test sources) but the embedded-bundle one."""
    tests = sorted(
        p.relative_to(CORE / "src/test/java").with_suffix("").as_posix().replace("/", ".")
        for p in CORE.glob("src/test/java/**/*Test.java")
    )
    assert tests, "no JUnit test classes found"
    return [t for t in tests if t != EMBEDDED_TEST]


@pytest.fixture(scope="module")
def latent_recording(request, tmp_path_factory) -> tuple[Path, Path]:
    """The latent bundle (tiny DiT on 8x8x4 latents with a tiny VAE decoder, see conftest) and a recorded
    run of it, decode call included."""
    _classpath()  # skip before the export when Java is missing
    bundle, _ = request.getfixturevalue("latent_tiny_bundle")
    return bundle, record_run(bundle, tmp_path_factory.mktemp("latent-recording"))


@pytest.fixture(scope="module")
def junit_run(java_build, tiny_bundle, recording, latent_recording, contract_index, tmp_path_factory):
    """Runs every JUnit test class of the core once; returns the process, its counts and its output folder."""
    classes_dir, jars = java_build
    out = tmp_path_factory.mktemp("junit-out")
    tests = core_test_classes()
    props = {
        "lazydit.bundle": tiny_bundle,
        "lazydit.recording": recording,
        "lazydit.latent.bundle": latent_recording[0],
        "lazydit.latent.recording": latent_recording[1],
        "lazydit.out": out,
        "lazydit.contract": contract_index,
    }
    proc, counts = run_junit(classes_dir, jars, tests, props)
    return proc, counts, tests, out


def test_junit_core_against_real_bundle(junit_run):
    """Manifest validation, step plan, replayed step loop (the latent bundle's decoder included), golden
    trace, report writer and the app's phone-side policies (bundle paths, asset copy, loaded bundles, seed
    field, single run, failure messages) all pass, and every one of their tests executed."""
    proc, counts, tests, _ = junit_run
    assert_all_ran(proc, counts, tests)
    assert counts["executed"] >= 50, counts


def test_junit_core_runs_every_contract_case(junit_run, contract_index):
    """BundleContractTest ran every case of the shared corpus (tests/contract/bundle_cases.json), not only
    the first of each kind: its CONTRACT lines name each case of the index once, each "ok"."""
    proc, *_ = junit_run
    cases = json.loads(contract_index.read_text())["cases"]
    lines = re.findall(r"^CONTRACT (refuse|accept) (\S+) (\S+) (ok|FAIL) ?(.*)$", proc.stdout, re.M)
    ran = {name: (expect, cls, status, msg) for expect, name, cls, status, msg in lines}
    assert len(lines) == len(ran) == len(cases), f"{len(lines)} CONTRACT lines for {len(cases)} cases"
    for case in cases:
        expect, cls, status, msg = ran[case["name"]]
        assert (expect, cls, status) == (case["expect"], case["class"], "ok"), f"{case['name']}: {status} {msg}"
        if expect == "refuse":
            assert message_matches(msg, case), f"{case['name']}: {msg}"


def test_junit_core_on_the_embedded_bundle(java_build, embedded_executorch_bundle, tmp_path_factory):
    """The Java step loop on the bundle the app ships (embedded model, 20 steps, forecasting: 16 cache and 16
    delta slots), replayed against the golden trace that the Python and native runner tests check as well."""
    classes_dir, jars = java_build
    rec = record_run(embedded_executorch_bundle, tmp_path_factory.mktemp("embedded-recording"))
    proc, counts = run_junit(
        classes_dir,
        jars,
        [EMBEDDED_TEST],
        {"lazydit.embedded.bundle": embedded_executorch_bundle, "lazydit.embedded.recording": rec},
    )
    assert_all_ran(proc, counts, [EMBEDDED_TEST])
    assert counts["executed"] == 2


def test_junit_counts_catch_skipped_tests(java_build):
    """The counter itself: without its data the data-driven tests skip, and the counts say so (JUnitCore
    alone would print "OK")."""
    classes_dir, jars = java_build
    tests = ["dev.lazydit.core.ReplaySchedulerTest", "dev.lazydit.core.HalfTest"]
    proc, counts = run_junit(classes_dir, jars, tests, {})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert counts["executed"] == expected_tests(["dev.lazydit.core.HalfTest"]) == 3, counts
    assert counts["assumption_failures"] == expected_tests(["dev.lazydit.core.ReplaySchedulerTest"]) > 0, counts
    with pytest.raises(AssertionError, match="tests skipped"):
        assert_all_ran(proc, counts, tests)


def test_core_calls_only_apis_an_android_8_phone_has(java_build, tmp_path):
    """minSdk is 26 (Android 8.0), whose class library is Java 8's: the core (not its tests) compiles
    against the Java 8 API, so it calls no later library method (List.of, InputStream.readAllBytes, ...)
    that an API 26 phone lacks."""
    _, jars = java_build
    sources = sorted(str(p) for p in CORE.glob("src/main/java/**/*.java"))
    proc = subprocess.run(
        [
            "javac",
            "--release",
            "8",
            "-Xlint:all",
            "-Xlint:-options",
            "-Werror",
            "-encoding",
            "UTF-8",
            "-d",
            str(tmp_path),
            "-cp",
            os.pathsep.join(map(str, jars)),
            *sources,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"the core uses an API that Java 8 (Android API 26) lacks:\n{proc.stderr}"


def test_report_summary_matches_numpy(junit_run):
    """The Java report's median/p90 are numpy's, so phone and host numbers compare directly."""
    *_, out = junit_run
    report = json.loads((out / "latency.json").read_text())
    assert report["format"] == "lazydit-app-report/1" and report["error"] is None
    assert report["golden"] == {"checked": True, "ok": True, "problems": []}
    totals = [r["total_ms"] for r in report["runs"]]
    steps = [s["ms"] for r in report["runs"] for s in r["steps"]]
    assert len(totals) >= 3 and len(steps) == 10 * len(totals)
    for key, values in (("total_ms", totals), ("step_ms", steps)):
        assert report[key]["median"] == pytest.approx(np.median(values), rel=1e-12)
        assert report[key]["p90"] == pytest.approx(np.percentile(values, 90), rel=1e-12)
    v1 = [s["ms"] for r in report["runs"] for s in r["steps"] if s["variant"] == "v1"]
    assert report["per_variant_step_ms"]["v1"]["p90"] == pytest.approx(np.percentile(v1, 90), rel=1e-12)
    per_step = np.median(np.array([[s["ms"] for s in r["steps"]] for r in report["runs"]]), axis=0)
    assert report["per_step_median_ms"] == pytest.approx(per_step.tolist(), rel=1e-12)


def test_latent_report_carries_decode_time(junit_run):
    """The app report of a latent bundle (LatentReplayTest, replayed runs with the decoder) has each run's
    decode_ms and their statistics as numpy computes them, and `lazydit bench latency`'s reading of a device
    report keeps the decode time."""
    from lazydit.benchmarks.latency_workers import native_measurement

    *_, out = junit_run
    report = json.loads((out / "latency-latent.json").read_text())
    assert report["bundle"]["decoder"] == "decode" and report["golden"]["ok"] is True
    decodes = [r["decode_ms"] for r in report["runs"]]
    assert len(decodes) == 3 and all(d > 0 for d in decodes)
    for r in report["runs"]:
        assert r["total_ms"] >= sum(s["ms"] for s in r["steps"]) + r["decode_ms"]
    assert report["decode_ms"]["median"] == pytest.approx(np.median(decodes), rel=1e-12)
    assert report["decode_ms"]["p90"] == pytest.approx(np.percentile(decodes, 90), rel=1e-12)
    assert native_measurement(report)["decode_ms"] == decodes[-1]
    # The tiny (pixel) bundle's report has no decoder keys.
    pixel = json.loads((out / "latency.json").read_text())
    assert pixel["bundle"]["decoder"] is None and "decode_ms" not in pixel
    assert all("decode_ms" not in r for r in pixel["runs"])


def _pinned(pattern: str, text: str, where: str) -> str:
    m = re.search(pattern, text, re.M)
    assert m, f"no executorch version pinned in {where}"
    return m.group(1)


def test_executorch_versions_pinned_together():
    """The app's org.pytorch:executorch-android version is the exporter's executorch version."""
    python = _pinned(
        r"^executorch==([\w.]+)\s*$", (ROOT / "requirements/stack.txt").read_text(), "requirements/stack.txt"
    )
    android = _pinned(
        r'^executorchVersion\s*=\s*"([^"]+)"',
        (DEMO / "gradle/libs.versions.toml").read_text(),
        "android_demo/gradle/libs.versions.toml",
    )
    assert android == python, (
        f"android_demo/gradle/libs.versions.toml pins executorch-android {android} but "
        f"requirements/stack.txt pins executorch {python}; bundles must be exported "
        "and run by the same ExecuTorch release, update both together"
    )
    # ExecuTorchRunner calls Tensor.copyDataInto and Module.close, which older AARs lack.
    release = tuple(int(x) for x in re.findall(r"\d+", android)[:3])
    assert release >= ANDROID_MIN_EXECUTORCH, (
        f"executorch-android {android} predates the {'.'.join(map(str, ANDROID_MIN_EXECUTORCH))} the app needs"
    )
    readme = (DEMO / "README.md").read_text()
    assert f"ExecuTorch {'.'.join(map(str, ANDROID_MIN_EXECUTORCH))} or newer" in readme
    assert "API 23" not in readme, "the AAR's native libraries are built for android-26: minSdk 26 is the floor"


def test_gradle_project_has_no_binaries_and_names_its_gradle():
    """The wrapper names a Gradle version and no prebuilt jar is committed."""
    props = (DEMO / "gradle/wrapper/gradle-wrapper.properties").read_text()
    assert re.search(r"^distributionUrl=.*gradle-\d+\.\d+(\.\d+)?-(bin|all)\.zip$", props, re.M)
    assert not list(DEMO.rglob("*.jar")), "android_demo must not contain jar binaries"
    settings = (DEMO / "settings.gradle.kts").read_text()
    assert 'include(":app", ":scheduler-core")' in settings
