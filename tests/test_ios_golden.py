"""What the iOS demo (ios_demo/) is checked for in Python: its fixtures, the Xcode project and the package manifest.

The Swift code itself is compiled and its XCTests run by tests/test_ios_swift.py; the checks here hold with or
without a Swift toolchain:

* The committed fixtures are what the Swift tests assume: the recorded step files reproduce the golden trace
  (checksums recomputed here from the raw .bin files with the runtime's own ``checksums``), and they chain the
  way the Swift replay runner asserts bitwise (noise in, each latent out is the next latent in, each cache slot
  read is the bytes last written to it, timesteps/coefficients/labels as the manifest and trace say).
* Both fixture manifests validate against runtime/manifest.schema.json; the complete Core ML fixture passes the
  Python loader with every sha256, and describes the same model and steps as the recorded one.
* Package.swift and the Xcode project reference files, targets and products that exist, and the project file
  parses as an OpenStep property list whose object references all resolve.

The Xcode project is never built here (it needs the iOS SDK); these checks are all it gets off a Mac.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from lazydit.errors import UserError
from lazydit.runtime.bundle import SCHEMA_PATH, _validate_consistency, load_bundle
from lazydit.runtime.golden import GOLDEN_FORMAT, checksums, compare_to_golden

IOS = Path(__file__).resolve().parent.parent / "ios_demo"
FIXTURES = IOS / "Tests" / "LazyDiTCoreTests" / "Fixtures"
TINY = FIXTURES / "tiny"
TINY_COREML = FIXTURES / "tiny-coreml"
PROJECT = IOS / "App" / "LazyDiTDemo.xcodeproj"
DTYPES = {"float32": "<f4", "float16": "<f2", "int32": "<i4"}


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _tensor(steps_dir: Path, entry: dict) -> np.ndarray:
    return np.fromfile(steps_dir / entry["file"], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])


@pytest.fixture(scope="module")
def tiny():
    manifest = _json(TINY / "manifest.json")
    trace = _json(TINY / "golden" / "trace.json")
    steps = _json(TINY / "steps" / "steps.json")
    return manifest, trace, steps


# --- fixtures -----------------------------------------------------------------------------------------------


def test_fixtures_stay_under_one_mebibyte():
    total = sum(f.stat().st_size for f in FIXTURES.rglob("*") if f.is_file())
    assert 0 < total < 1 << 20, f"fixtures hold {total} bytes"


@pytest.mark.parametrize("folder", [TINY, TINY_COREML], ids=["tiny", "tiny-coreml"])
def test_fixture_manifests_validate_against_the_schema(folder):
    manifest = _json(folder / "manifest.json")
    jsonschema.validate(manifest, _json(SCHEMA_PATH))
    _validate_consistency(manifest, folder / "manifest.json")


def test_complete_fixture_loads_with_every_checksum():
    bundle = load_bundle(TINY_COREML, verify_checksums=True)
    assert bundle.has_target("coreml")
    assert set(bundle.manifest["targets"]["coreml"]["functions"]) == set(bundle.variants)


def test_both_fixtures_describe_the_same_model_and_steps(tiny):
    manifest, _, _ = tiny
    coreml = _json(TINY_COREML / "manifest.json")
    assert coreml["model"]["fingerprint"] == manifest["model"]["fingerprint"]
    for key in ("steps", "variants", "slots", "tensors", "batch", "guidance_scale"):
        assert coreml[key] == manifest[key], key


def test_trace_agrees_with_the_manifest_plan(tiny):
    manifest, trace, _ = tiny
    assert trace["format"] == GOLDEN_FORMAT
    assert trace["shape"] == manifest["tensors"]["x"]["shape"]
    assert len(trace["steps"]) == len(manifest["steps"])
    for ref, step in zip(trace["steps"], manifest["steps"]):
        for key in ("index", "variant", "reads", "writes", "timestep"):
            assert ref[key] == step[key], (step["index"], key)
    n = int(np.prod(trace["shape"]))
    for name in (trace["noise"], trace["final"]):
        assert (TINY / "golden" / name).stat().st_size == 4 * n


def test_recorded_steps_match_the_manifest_signatures(tiny):
    manifest, trace, steps = tiny
    variants = {v["name"]: v for v in manifest["variants"]}
    assert steps["format"] == "lazydit-steps/1"
    assert steps["classes"] == trace["classes"] and steps["seed"] == trace["seed"]
    assert [s["variant"] for s in steps["steps"]] == [s["variant"] for s in trace["steps"]]
    for s in steps["steps"]:
        v = variants[s["variant"]]
        assert [t["name"] for t in s["inputs"]] == v["inputs"]
        assert [t["name"] for t in s["outputs"]] == v["outputs"]
        for t in s["inputs"] + s["outputs"]:
            spec_name = "cache" if t["name"].startswith(("cache_", "new_cache_")) else t["name"]
            spec = manifest["tensors"][spec_name]
            assert (t["shape"], t["dtype"]) == (spec["shape"], spec["dtype"]), t["file"]
            size = (TINY / "steps" / t["file"]).stat().st_size
            assert size == int(np.prod(t["shape"])) * np.dtype(DTYPES[t["dtype"]]).itemsize, t["file"]


def test_recorded_latents_reproduce_the_golden_checksums(tiny):
    _, trace, steps = tiny
    latents = [_tensor(TINY / "steps", s["outputs"][0]) for s in steps["steps"]]
    assert compare_to_golden(trace, [s["variant"] for s in steps["steps"]], latents) == []
    final = np.fromfile(TINY / "golden" / trace["final"], dtype="<f4")
    got, ref = checksums(latents[-1]), trace["final_checksums"]
    for key in ("sum", "abs_sum", "sum_sq"):
        assert got[key] == pytest.approx(ref[key], rel=trace["tolerance"], abs=trace["tolerance"])
    assert np.abs(latents[-1].ravel() - final).max() <= trace["tolerance"]
    if steps["backend"] == trace["backend"]:
        # Same backend as the trace: the recording is the golden run itself, bit for bit.
        assert latents[-1].ravel().tobytes() == final.tobytes()


def test_recorded_steps_chain_bitwise_as_the_replay_runner_asserts(tiny):
    """Mirror of ReplayRunner.swift: the inputs a correct scheduler passes are exactly the recorded ones."""
    manifest, trace, steps = tiny
    d = TINY / "steps"
    x = np.fromfile(TINY / "golden" / trace["noise"], dtype="<f4").reshape(trace["shape"])
    slots = {
        s: np.zeros(manifest["tensors"]["cache"]["shape"], dtype=DTYPES[manifest["tensors"]["cache"]["dtype"]])
        for s in manifest["slots"]
    }
    variants = {v["name"]: v for v in manifest["variants"]}
    for rec, step in zip(steps["steps"], manifest["steps"]):
        v = variants[rec["variant"]]
        ins = {t["name"]: _tensor(d, t) for t in rec["inputs"]}
        expected = {
            "x": x.astype(DTYPES[manifest["tensors"]["x"]["dtype"]]),
            "t": np.array([step["timestep"]], dtype=DTYPES[manifest["tensors"]["t"]["dtype"]]),
            "y": np.array(trace["classes"], dtype="<i4"),
            "coef": np.array(step["coef"], dtype=DTYPES[manifest["tensors"]["coef"]["dtype"]]),
            **{r: slots[r] for r in v["reads"]},
        }
        for name, want in expected.items():
            assert ins[name].tobytes() == want.tobytes(), (rec["index"], name)
        outs = [_tensor(d, t) for t in rec["outputs"]]
        x = outs[0]
        for slot, value in zip(v["writes"], outs[1:]):
            slots[slot] = value


def test_make_fixtures_script_copies_and_refuses_bundles_without_golden(tmp_path):
    script = _script()
    script.copy_complete(TINY_COREML, tmp_path / "copy")
    assert (
        load_bundle(tmp_path / "copy").manifest["model"]["fingerprint"]
        == _json(TINY_COREML / "manifest.json")["model"]["fingerprint"]
    )
    with pytest.raises(UserError, match=r"golden/trace.json: missing; export the bundle with a target that runs here"):
        script.record_steps(TINY_COREML, tmp_path / "steps", None)
    assert script.main([str(TINY_COREML), "--name", "x", "--fixtures", str(tmp_path / "f")]) == 2


def _script():
    spec = importlib.util.spec_from_file_location("make_fixtures", IOS / "Scripts" / "make_fixtures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_make_fixtures_records_the_decode_call_of_a_latent_bundle(latent_tiny_bundle, tmp_path):
    """What LatentGoldenReplayTests replays: the decode call reads the last step's latent and returns the golden
    image; a run whose image disagrees with the trace's image checksums or image.bin is refused."""
    bundle, _ = latent_tiny_bundle
    script = _script()
    out = tmp_path / "latent"
    index = script.record_steps(bundle, out, "executorch")
    manifest, trace = _json(out / "manifest.json"), _json(out / "golden" / "trace.json")
    decode = index["decode"]
    assert decode["graph"] == manifest["decoder"]["name"] == manifest["targets"]["executorch"]["decoder"]
    assert [t["name"] for t in decode["inputs"]] == ["latent"] and [t["name"] for t in decode["outputs"]] == ["image"]
    steps_dir = out / "steps"
    last = _tensor(steps_dir, index["steps"][-1]["outputs"][0])
    latent, image = _tensor(steps_dir, decode["inputs"][0]), _tensor(steps_dir, decode["outputs"][0])
    assert latent.tobytes() == last.tobytes()
    assert latent.tobytes() == (out / "golden" / "final.bin").read_bytes()
    assert list(image.shape) == trace["image_shape"] == manifest["tensors"]["image"]["shape"]
    assert image.astype("<f4").tobytes() == (out / "golden" / "image.bin").read_bytes()
    got, ref = checksums(image), trace["image_checksums"]
    assert all(abs(got[k] - ref[k]) <= trace["tolerance"] * max(1.0, abs(ref[k])) for k in ("sum", "abs_sum", "sum_sq"))

    # The golden files are covered by the manifest's checksums, so the refusal is checked on the run's side.
    assert script._image_problems(trace, image, out / "golden") == []
    damaged = image.copy()
    damaged.flat[0] += 0.5
    problems = script._image_problems(trace, damaged, out / "golden")
    assert any(p.startswith("image sum") for p in problems) and problems[-1].startswith("image differs from image.bin")
    assert script._image_problems(trace, image[..., :8], out / "golden")[0].startswith("image shape")


# --- Core ML tensor types ------------------------------------------------------------------------------------


def coreml_io_types(package: Path) -> dict[str, dict[str, dict[str, str]]]:
    """``{function: {"inputs"|"outputs": {name: "FLOAT16"|"FLOAT32"|"INT32"}}}`` read from a package's spec."""
    ct = pytest.importorskip("coremltools")
    from coremltools.proto import FeatureTypes_pb2

    names = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name
    spec = ct.utils.load_spec(str(package))
    return {
        f.name: {
            "inputs": {x.name: names(x.type.multiArrayType.dataType) for x in f.input},
            "outputs": {x.name: names(x.type.multiArrayType.dataType) for x in f.output},
        }
        for f in spec.description.functions
    }


def assert_one_float_dtype(package: Path, manifest: dict) -> None:
    """Every float input and output of every function is float16 (labels int32): what the app's buffers hold."""
    types = coreml_io_types(package)
    assert set(types) == set(manifest["targets"]["coreml"]["functions"].values())
    for v in manifest["variants"]:
        fn = types[manifest["targets"]["coreml"]["functions"][v["name"]]]
        assert list(fn["inputs"]) == v["inputs"] and list(fn["outputs"]) == v["outputs"], v["name"]
        for name, dtype in {**fn["inputs"], **fn["outputs"]}.items():
            assert dtype == ("INT32" if name == "y" else "FLOAT16"), (v["name"], name, dtype)


def test_coreml_fixture_types_every_tensor_with_one_dtype():
    assert_one_float_dtype(TINY_COREML / "coreml" / "model.mlpackage", _json(TINY_COREML / "manifest.json"))


def test_coreml_export_types_every_tensor_with_one_dtype(tmp_path):
    """The exporter itself, on a tiny DiT: inputs and outputs alike in float16, so no step converts on device."""
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    pytest.importorskip("coremltools")
    from lazydit.export.checkpoint import save_safetensors
    from lazydit.export.model import DiT, config_from_name

    cfg = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False)
    torch.manual_seed(1)
    dit = DiT(cfg).eval()
    ckpt = tmp_path / "tiny.safetensors"
    save_safetensors(dit, str(ckpt), dtype=torch.float32, sampling={"cfg_scale": 1.5, "num_steps": 4})
    out = tmp_path / "bundle"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lazydit.cli",
            "export",
            "--checkpoint",
            str(ckpt),
            "--schedule",
            "interval:2",
            "--steps",
            "4",
            "--targets",
            "coreml",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = _json(out / "manifest.json")
    assert manifest["targets"]["coreml"]["dtype"] == "float16"
    assert_one_float_dtype(out / "coreml" / "model.mlpackage", manifest)


# --- Package.swift and the Xcode project ---------------------------------------------------------------------


def _package() -> str:
    return (IOS / "Package.swift").read_text()


def test_package_manifest_references_existing_sources():
    text = _package()
    assert text.startswith("// swift-tools-version:5.10")
    targets = re.findall(r'\.(target|testTarget)\(\s*name:\s*"([^"]+)"([^)]*)\)', text)
    assert {name for _, name, _ in targets} >= {"LazyDiTCore", "LazyDiTCoreML", "LazyDiTDemoUI", "LazyDiTCoreTests"}
    names = {name for _, name, _ in targets}
    for kind, name, rest in targets:
        folder = IOS / ("Tests" if kind == "testTarget" else "Sources") / name
        assert list(folder.glob("*.swift")), f"{folder} has no Swift sources"
        for deps in re.findall(r"dependencies:\s*\[([^\]]*)\]", rest):
            for dep in re.findall(r'"([^"]+)"', deps):
                assert dep in names, f"{name} depends on unknown target {dep}"
        for paths in re.findall(r"exclude:\s*\[([^\]]*)\]", rest):
            for p in re.findall(r'"([^"]+)"', paths):
                assert (folder / p).exists(), f"{name} excludes missing {p}"
    for product, members in re.findall(r'\.library\(name:\s*"([^"]+)",\s*targets:\s*\[([^\]]*)\]', text):
        for member in re.findall(r'"([^"]+)"', members):
            assert member in names, f"product {product} lists unknown target {member}"


def _tokens(text: str):
    pos, n = 0, len(text)
    while pos < n:
        c = text[pos]
        if c.isspace():
            pos += 1
        elif text.startswith("/*", pos):
            end = text.index("*/", pos + 2)
            pos = end + 2
        elif text.startswith("//", pos):
            pos = text.index("\n", pos) + 1
        elif c in "{}()=;,":
            yield c
            pos += 1
        elif c == '"':
            end = pos + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            yield ("str", text[pos + 1 : end])
            pos = end + 1
        else:
            m = re.compile(r"[A-Za-z0-9_$./<>+\-]+").match(text, pos)
            assert m, f"unexpected character {c!r} at {pos}"
            yield ("str", m.group())
            pos = m.end()


def parse_pbxproj(text: str):
    """An OpenStep property list (the project.pbxproj format) as dicts, lists and strings; raises on bad syntax."""
    toks = list(_tokens(text))
    i = 0

    def value():
        nonlocal i
        t = toks[i]
        i += 1
        if t == "{":
            d = {}
            while toks[i] != "}":
                k = toks[i]
                assert isinstance(k, tuple), f"key expected, got {k!r}"
                assert toks[i + 1] == "=", f"= expected after {k[1]}"
                i += 2
                d[k[1]] = value()
                assert toks[i] == ";", f"; expected after {k[1]}"
                i += 1
            i += 1
            return d
        if t == "(":
            items = []
            while toks[i] != ")":
                items.append(value())
                if toks[i] == ",":
                    i += 1
                else:
                    assert toks[i] == ")", f", or ) expected, got {toks[i]!r}"
            i += 1
            return items
        assert isinstance(t, tuple), f"value expected, got {t!r}"
        return t[1]

    root = value()
    assert i == len(toks), "trailing tokens"
    return root


@pytest.fixture(scope="module")
def project():
    text = (PROJECT / "project.pbxproj").read_text()
    assert text.startswith("// !$*UTF8*$!")
    return parse_pbxproj(text)


def test_project_object_references_resolve(project):
    objects = project["objects"]
    assert project["rootObject"] in objects
    ids = set(objects)
    assert all(re.fullmatch(r"[0-9A-F]{24}", k) for k in ids)

    def refs(v):
        if isinstance(v, str):
            if re.fullmatch(r"[0-9A-F]{24}", v):
                yield v
        elif isinstance(v, list):
            for x in v:
                yield from refs(x)
        elif isinstance(v, dict):
            for x in v.values():
                yield from refs(x)

    missing = {r for obj in objects.values() for r in refs(obj)} - ids
    assert not missing, f"dangling object references {missing}"
    for key, obj in objects.items():
        assert "isa" in obj, key


def test_project_files_exist_on_disk(project):
    objects = project["objects"]
    root_group = objects[objects[project["rootObject"]]["mainGroup"]]
    seen = []

    def walk(group, base: Path):
        for child_id in group.get("children", []):
            child = objects[child_id]
            if child["sourceTree"] == "BUILT_PRODUCTS_DIR":
                continue  # the built .app, not a file of the repository
            path = base / child["path"] if "path" in child else base
            assert child["sourceTree"] == "<group>", child
            if child["isa"] == "PBXGroup":
                walk(child, path)
            else:
                assert path.exists(), f"project references missing {path}"
                seen.append(path)

    walk(root_group, PROJECT.parent)
    assert PROJECT.parent / "LazyDiTDemo" / "LazyDiTDemoApp.swift" in seen
    assert (PROJECT.parent / "Bundles").is_dir()
    sources = [o for o in objects.values() if o["isa"] == "PBXSourcesBuildPhase"]
    built = {objects[objects[f]["fileRef"]]["path"] for p in sources for f in p["files"]}
    assert built == {"LazyDiTDemoApp.swift"}
    for config in (o for o in objects.values() if o["isa"] == "XCBuildConfiguration"):
        plist = config["buildSettings"].get("INFOPLIST_FILE")
        if plist:
            assert (PROJECT.parent / plist).is_file()
            ET.parse(PROJECT.parent / plist)


def test_project_uses_the_local_package_products(project):
    objects = project["objects"]
    packages = [o for o in objects.values() if o["isa"] == "XCLocalSwiftPackageReference"]
    assert len(packages) == 1
    assert (PROJECT.parent / packages[0]["relativePath"] / "Package.swift").resolve() == IOS / "Package.swift"
    products = set(re.findall(r'\.library\(name:\s*"([^"]+)"', _package()))
    deps = [o for o in objects.values() if o["isa"] == "XCSwiftPackageProductDependency"]
    assert deps and all(d["productName"] in products for d in deps)
    target = next(o for o in objects.values() if o["isa"] == "PBXNativeTarget")
    assert target["productType"] == "com.apple.product-type.application"
    for config in objects[target["buildConfigurationList"]]["buildConfigurations"]:
        settings = objects[config]["buildSettings"]
        assert settings["SUPPORTED_PLATFORMS"] == "iphoneos iphonesimulator"
        assert settings["GENERATE_INFOPLIST_FILE"] == "YES"


def test_schemes_point_at_the_app_target(project):
    objects = project["objects"]
    target_id = next(k for k, o in objects.items() if o["isa"] == "PBXNativeTarget")
    schemes = sorted((PROJECT / "xcshareddata" / "xcschemes").glob("*.xcscheme"))
    assert [s.stem for s in schemes] == ["LazyDiTDemo Benchmark", "LazyDiTDemo"]
    for scheme in schemes:
        refs = ET.parse(scheme).getroot().iter("BuildableReference")
        for ref in refs:
            assert ref.get("BlueprintIdentifier") == target_id
            assert ref.get("ReferencedContainer") == f"container:{PROJECT.name}"
    bench = ET.parse(schemes[0]).getroot()
    args = [a.get("argument") for a in bench.iter("CommandLineArgument")]
    assert "-benchmark 1" in args
    assert bench.find("LaunchAction").get("buildConfiguration") == "Release"


def test_committed_ios_files_hold_no_machine_paths():
    for f in IOS.rglob("*"):
        if {".build", ".swiftpm"} & set(f.relative_to(IOS).parts):
            continue  # SwiftPM's own build output (gitignored) is full of this machine's paths
        if f.is_file() and f.suffix in {".swift", ".md", ".py", ".pbxproj", ".xcscheme", ".plist", ".json"}:
            text = f.read_text(errors="ignore")
            assert "/work/" not in text and "/tmp/" not in text and "/root/" not in text, f


def test_measure_script_stores_the_weights_once_whatever_the_function_count():
    pytest.importorskip("coremltools")
    spec = importlib.util.spec_from_file_location(
        "measure_coreml_package", IOS / "Scripts" / "measure_coreml_package.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    result = script.measure(TINY_COREML)
    rows = result["rows"]
    assert [r["functions"] for r in rows] == [1, 2]
    assert rows[0]["weight_bytes"] == rows[1]["weight_bytes"] > 0, "a second function must not copy the weights"
    assert rows[1]["program_bytes"] > rows[0]["program_bytes"]
    assert rows[-1]["package_bytes"] == result["shipped_package_bytes"]
