"""The package as a user installs it: a wheel built from the checkout, installed into a fresh virtual
environment, run from a folder outside the checkout.

The fresh environment sees the dependencies of this one (its site-packages on a ``.pth`` line, whose own
``.pth`` files, the editable install among them, are not processed), so only the wheel provides ``lazydit``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list, cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, env=env, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


# What a source distribution of the package holds; built from a copy so that no build folder lands in the checkout
# (setuptools' build/lib would also carry files deleted since the last build into the next wheel).
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "lazydit", "export", "runtime", "benchmarks", "models")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "native"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, src], cwd=out)
    (whl,) = out.glob("lazydit_mobile-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (no dependencies resolved: they come from this environment)."""
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root.parent)
    py = root / "bin" / "python"
    purelib = Path(
        _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip()
    )
    (purelib / "host-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "-q", wheel], cwd=root)
    return root


def test_the_wheel_holds_every_subpackage_and_the_embedded_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "lazydit/cli.py",
        "lazydit/commands/sample.py",
        "lazydit/runtime/backends/__init__.py",
        "lazydit/runtime/backends/onnxruntime_backend.py",
        "lazydit/runtime/manifest.schema.json",
        "lazydit/export/reference_backend.py",
        "lazydit/benchmarks/latency.py",
        "lazydit/models/fashion-dit-s4.safetensors",
        "lazydit/models/fashion-dit-s4.schedule-20.json",
        "lazydit/models/fashion-dit-s4.gates-20.safetensors",
        "lazydit/models/fashion-classifier.safetensors",
        "lazydit/models/README.md",
    ):
        assert module in names, f"the wheel lacks {module}"
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    for extra in ("executorch", "onnx", "export", "bench"):
        assert f"Provides-Extra: {extra}" in text
    assert 'Requires-Dist: torch==2.13.0+cpu; extra == "export"' in text


def test_the_installed_cli_runs_from_outside_the_checkout(venv, tiny_executorch_bundle, tmp_path):
    lazydit = venv / "bin" / "lazydit"
    assert _run([lazydit, "--version"], cwd=tmp_path).stdout.startswith("lazydit ")
    assert "example:" in _run([lazydit, "demo", "--help"], cwd=tmp_path).stdout
    png = tmp_path / "grid.png"
    out = _run(
        [lazydit, "sample", "--bundle", tiny_executorch_bundle, "--n", "2", "--threads", "1", "--out", png],
        cwd=tmp_path,
    ).stdout
    assert out.startswith("executorch: 2 run(s)") and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The default checkpoint and schedule resolve inside the installed package.
    sched = tmp_path / "s.json"
    _run([lazydit, "calibrate", "--schedule", "embedded", "--out", sched], cwd=tmp_path)
    assert json.loads(sched.read_text())["num_steps"] == 20 and sched.with_suffix(".png").is_file()


def test_the_installed_runtime_imports_without_torch_or_the_export_half(venv, tmp_path):
    code = (
        "import json, sys, lazydit, lazydit.models, lazydit.runtime.bundle, lazydit.runtime.scheduler, "
        "lazydit.runtime.golden, lazydit.runtime.images, lazydit.runtime.backends.onnxruntime_backend\n"
        "print(json.dumps({'file': lazydit.__file__, 'model': str(lazydit.models.CHECKPOINT),\n"
        "  'exists': lazydit.models.CHECKPOINT.is_file(),\n"
        "  'loaded': sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('lazydit.export'))}))"
    )
    got = json.loads(_run([venv / "bin" / "python", "-c", code], cwd=tmp_path).stdout)
    assert Path(got["file"]).is_relative_to(venv) and not Path(got["file"]).is_relative_to(ROOT)
    assert got["exists"] and Path(got["model"]).is_relative_to(venv)
    assert got["loaded"] == []
