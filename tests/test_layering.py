"""The halves of the package import one way: ``runtime/`` (bundle -> image) imports nothing from ``export/``,
the commands or the benchmarks, and ``export/`` nothing from the commands or the benchmarks.

Checked twice: statically, by every import statement of every module (so a lazily imported module inside a
function counts too), and by what a fresh interpreter has loaded after importing every runtime module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The folder of each half and the dotted name it installs under (setup.cfg's package_dir).
HALVES = {
    "runtime": "lazydit.runtime",
    "export": "lazydit.export",
    "benchmarks": "lazydit.benchmarks",
    "lazydit": "lazydit",
}
FORBIDDEN = {
    # torch itself is no crossing: the ExecuTorch backend's Python bindings exchange torch tensors (imported
    # when that backend is created; the import-time check below keeps every runtime module importable without).
    "runtime": (
        "lazydit.export",
        "lazydit.benchmarks",
        "lazydit.commands",
        "lazydit.cli",
        "lazydit.demo",
        "executorch.exir",
    ),
    "export": ("lazydit.benchmarks", "lazydit.commands", "lazydit.cli", "lazydit.demo"),
}


def _module_name(path: Path, folder: str) -> str:
    rel = path.relative_to(ROOT / folder).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([HALVES[folder], *parts])


def _imports(path: Path, folder: str) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names, as absolute dotted names."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path, folder)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return found


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_import_statement_crosses_the_line(folder):
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, name in _imports(path, folder):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[folder]):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_relative_import_resolver_sees_a_crossing():
    """The static check would pass vacuously if it resolved ``from ..export`` wrongly."""
    names = [n for _, n in _imports(ROOT / "export" / "reference_backend.py", "export")]
    assert "lazydit.runtime.backends.register_backend" in names and "lazydit.export.checkpoint" in names


def test_importing_the_runtime_loads_neither_torch_nor_the_export_half():
    modules = sorted(_module_name(p, "runtime") for p in (ROOT / "runtime").rglob("*.py") if "native" not in p.parts)
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' "
        "or m.startswith('lazydit.export') or m.startswith('lazydit.benchmarks'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == []
    assert "lazydit.runtime.backends.onnxruntime_backend" in modules
