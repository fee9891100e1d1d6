"""``lazydit bench memory``: peak resident memory of a scheduler with every variant of a bundle loaded, against
the same model's dense single-variant bundle, for the Python scheduler (ExecuTorch backend, with XNNPACK's
shared weight cache as it runs by default, and without it: ``python_unshared``) and the native runner. Each
measurement runs in its own process so that the peaks do not mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_PY_PROBE = """
import resource, sys, json
from lazydit.runtime.backends import create_backend
from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.scheduler import Scheduler
b = load_bundle(sys.argv[1], verify_checksums=False)
backend = create_backend("executorch", b)
backend.load_all()
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = Scheduler(b, backend).run(0, seed=0)
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "after_load_mib": loaded / 1024, "total_ms": r.total_ms, "variants": len(b.variants),
                  "weight_cache": backend.weight_cache}))
"""


def python_peak(bundle: Path, share_weights: bool = True) -> dict:
    env = {**os.environ, "LAZYDIT_XNNPACK_WEIGHT_CACHE": "1" if share_weights else "0"}
    done = subprocess.run([sys.executable, "-c", _PY_PROBE, str(bundle)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "probe failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def native_peak(runner: Path, bundle: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        done = subprocess.run(
            [str(runner), "--bundle", str(bundle), "--warmup", "0", "--repeat", "1", "--report", str(report)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        return json.loads(report.read_text())


def measure_memory(lazy: Path, dense: Path, runner: Path | None) -> dict:
    out = {"lazy_bundle": lazy.name, "dense_bundle": dense.name, "python": {}, "python_unshared": {}, "native": {}}
    for label, path in (("dense", dense), ("lazy", lazy)):
        out["python"][label] = python_peak(path)
        out["python_unshared"][label] = python_peak(path, share_weights=False)
        if runner is not None and runner.is_file():
            out["native"][label] = native_peak(runner, path)
    for side in ("python", "python_unshared"):
        p = out[side]
        p["ratio"] = p["lazy"]["peak_rss_mib"] / p["dense"]["peak_rss_mib"]
    return out
