"""One bundle on one Python-runtime backend, kept loaded in its own process for ``lazydit bench latency``.

Protocol on stdin/stdout, one JSON object per line: at start the worker loads the bundle and prints
``{"ready": true, "load_ms": ...}`` (or ``{"error": ...}``); each ``run`` line then generates one image and
prints ``{"total_ms", "steps": [{"variant", "ms"}], "peak_rss_kb"}``; ``quit`` or end of input stops it.
A process per (bundle, backend) keeps each peak resident memory its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak_rss_kb() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a worker started
    by a large parent would report the parent's peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    bundle_dir, backend_name, threads = argv[0], argv[1], int(argv[2])
    from lazydit.errors import UserError
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    try:
        t0 = time.perf_counter()
        bundle = load_bundle(bundle_dir)
        backend = create_backend(backend_name, bundle, threads=threads or None)
        backend.load_all()
        sched = Scheduler(bundle, backend)
        load_ms = (time.perf_counter() - t0) * 1000
    except UserError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 2
    print(json.dumps({"ready": True, "load_ms": load_ms, "peak_rss_kb": _peak_rss_kb()}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "run":
            print(json.dumps({"error": f"unknown command {cmd!r}"}), flush=True)
            continue
        r = sched.run(0, seed=0)
        print(
            json.dumps(
                {
                    "total_ms": r.total_ms,
                    "steps": [{"variant": v, "ms": ms} for v, ms in zip(r.variants, r.step_ms)],
                    "peak_rss_kb": _peak_rss_kb(),
                    # A latent bundle's decoder runs after the last step; total_ms includes it.
                    **({"decode_ms": r.decode_ms} if "decoder" in bundle.manifest else {}),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
