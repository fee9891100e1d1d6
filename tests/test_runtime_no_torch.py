"""The runtime half works where torch cannot be installed: with torch and executorch made unimportable, the
runtime modules import, ``lazydit sample --backend onnxruntime`` writes an image, and a scheduler run matches
the bundle's golden trace.

The check runs in a fresh interpreter whose first act is to put an import blocker on ``sys.meta_path``; the
blocker records every attempt, so a runtime module that tries torch and quietly falls back is caught too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from lazydit.runtime.backends import create_backend
from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.scheduler import Scheduler

BLOCKED = ("torch", "executorch", "torchvision", "torchaudio", "torchao")

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = {blocked!r}
    attempts = []

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, NoTorch())

    import lazydit.runtime
    import lazydit.runtime.bundle
    import lazydit.runtime.golden
    import lazydit.runtime.images
    import lazydit.runtime.scheduler
    from lazydit import cli
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.golden import compare_to_golden
    import numpy as np

    bundle_dir, png = sys.argv[1], sys.argv[2]
    rc = cli.main(["sample", "--bundle", bundle_dir, "--backend", "onnxruntime", "--n", "2", "--classes", "1,2",
                   "--seed", "7", "--threads", "1", "--out", png])

    bundle = lazydit.runtime.bundle.load_bundle(bundle_dir)
    trace = json.load(open(f"{{bundle_dir}}/golden/trace.json"))
    noise = np.fromfile(f"{{bundle_dir}}/golden/noise.bin", dtype="<f4").reshape(trace["shape"])
    backend = create_backend("onnxruntime", bundle, threads=1)
    latents = []

    class Watch:
        name = backend.name
        def run(self, variant, inputs):
            outs = backend.run(variant, inputs)
            latents.append(outs[0].copy())
            return outs

    result = lazydit.runtime.scheduler.Scheduler(bundle, Watch()).run(trace["classes"], noise=noise)
    problems = compare_to_golden(trace, result.variants, latents)
    image = lazydit.runtime.scheduler.Scheduler(bundle, backend).run([1], seed=7).image
    print(json.dumps({{"rc": rc, "problems": problems, "attempts": attempts,
                       "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
                       "image": image.ravel().tolist()}}))
    """
)


def test_runtime_runs_without_torch(interval_bundle, tmp_path):
    root = interval_bundle
    png = tmp_path / "grid.png"
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=BLOCKED), str(root), str(png)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["attempts"] == [], f"the runtime tried to import {report['attempts']}"
    assert report["loaded"] == []
    assert report["rc"] == 0
    assert lines[0].startswith("onnxruntime: 2 run(s), total ") and "per step median" in lines[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["problems"] == [], "a torch-free run must match the golden trace"
    # And it is the image this process (with torch around) gets from the same backend, seed and class.
    bundle = load_bundle(root)
    here = Scheduler(bundle, create_backend("onnxruntime", bundle, threads=1)).run([1], seed=7).image
    np.testing.assert_allclose(np.array(report["image"], dtype=np.float32).reshape(here.shape), here, atol=1e-6)
