"""``lazydit bench latency``: LazyDiT against DDIM on this host, per backend, interleaved.

The bundle set is LazyDiT N steps at laziness r, DDIM N steps and DDIM round(N(1-r)) steps (the same compute
as the lazy one). Each (bundle, backend) pair runs in its own process: the Python runtime's ExecuTorch and
onnxruntime backends as long-lived workers (:mod:`lazydit.benchmarks.latency_worker`), the native runner as one
invocation per measurement. After warm-up, rounds run A B C A B C ... so that machine drift falls on every
configuration alike. The report (format ``lazydit-latency-report/1``, docs/benchmarks.md) holds per-run,
per-variant and end-to-end times, peak resident memory, MACs from the manifests, and the speedups against the
ideal ones those MACs give; ``lazydit bench adb`` writes the same format from a phone.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from lazydit.errors import UserError

from .latency_report import host_machine, summarize
from .latency_set import BenchBundle
from .latency_workers import NativeWorker, PythonWorker, measure_interleaved

PY_BACKENDS = ("executorch", "onnxruntime")
ALL_BACKENDS = ("executorch", "native", "onnxruntime")


def check_backends(backends: list[str], runner: Path | None) -> None:
    if not backends:
        raise UserError(f"--backends is empty; choose from {', '.join(ALL_BACKENDS)}")
    for b in backends:
        if b not in ALL_BACKENDS:
            raise UserError(f"unknown backend {b!r}; choose from {', '.join(ALL_BACKENDS)}")
    if "native" in backends and (runner is None or not runner.is_file()):
        raise UserError(
            f"native runner not found at {runner}; build it (docs/native-runner.md) or drop 'native' from --backends"
        )


def run_latency(
    bundles: list[BenchBundle],
    backends: list[str],
    repeat: int = 5,
    warmup: int = 1,
    threads: int = 2,
    runner: Path | None = None,
) -> dict:
    """Measure every (backend, bundle) pair and return the report."""
    check_backends(backends, runner)
    # One backend at a time, its bundles interleaved: only one runtime's threads are alive while measuring.
    runs: dict[tuple[str, str], list[dict]] = {}
    loads: dict[tuple[str, str], float | None] = {}
    for backend in backends:
        workers: dict[tuple[str, str], object] = {}
        try:
            for b in tqdm(bundles, desc=f"loading on {backend}", leave=False):
                if backend == "native":
                    workers[(backend, b.role)] = NativeWorker(runner, b.path, threads, warmup)
                else:
                    w = PythonWorker(b.path, backend, threads)
                    workers[(backend, b.role)] = w
                    for _ in range(warmup):
                        w.run()
            runs.update(measure_interleaved(workers, repeat, desc=backend))
            loads.update({k: w.load_ms for k, w in workers.items()})
        finally:
            for w in workers.values():
                w.close()
    return summarize(
        bundles,
        runs,
        machine=host_machine(threads),
        options={"repeat": repeat, "warmup": warmup, "threads": threads, "order": "per backend, bundles interleaved"},
        load_ms=loads,
    )
