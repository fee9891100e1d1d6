"""Who runs a bundle for the latency benchmarks: a Python-runtime backend in a long-lived child process, or
the native runner, one invocation per measurement; and the interleaved rounds over them."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from lazydit.errors import UserError


class PythonWorker:
    """A bundle loaded on a Python-runtime backend in a child process."""

    def __init__(self, bundle: Path, backend: str, threads: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lazydit.benchmarks.latency_worker", str(bundle), backend, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        self.load_ms = hello["load_ms"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise UserError(f"benchmark worker exited with code {self.proc.wait()}; its error is above")
        msg = json.loads(line)
        if "error" in msg:
            raise UserError(msg["error"])
        return msg

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


class NativeWorker:
    """The native runner; every measurement is one invocation with its own warm-up and its own peak RSS."""

    def __init__(self, runner: Path, bundle: Path, threads: int, warmup: int):
        self.cmd = [str(runner), "--bundle", str(bundle), "--warmup", str(warmup), "--repeat", "1"]
        if threads:
            self.cmd += ["--threads", str(threads)]
        self.load_ms = None

    def run(self) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            done = subprocess.run(self.cmd + ["--report", str(report)], capture_output=True, text=True)
            if done.returncode != 0:
                raise UserError(f"native runner failed (exit {done.returncode}): {done.stderr.strip()}")
            return native_measurement(json.loads(report.read_text()))

    def close(self) -> None:
        pass


def native_measurement(report: dict) -> dict:
    """The last timed run of a runner (``lazydit-native-report/1``) or app (``lazydit-app-report/1``) report."""
    if report.get("error"):
        raise UserError(f"the device reported: {report['error']}")
    run = report["runs"][-1]
    steps = [{"variant": s["variant"], "ms": s["ms"]} for s in run["steps"]]
    out = {"total_ms": run["total_ms"], "steps": steps, "peak_rss_kb": report.get("memory", {}).get("peak_rss_kb")}
    # Runs of a bundle with a decoder time it apart from the steps (their total includes it); older reports and
    # pixel bundles have no such key.
    if run.get("decode_ms") is not None:
        out["decode_ms"] = run["decode_ms"]
    load = report.get("load_ms") or {}
    if isinstance(load, dict) and load.get("total") is not None:
        out["load_ms"] = load["total"]
    return out


def measure_interleaved(
    workers: dict[tuple[str, str], object], repeat: int, cooldown_s: float = 0.0, desc: str = "rounds"
) -> dict[tuple[str, str], list[dict]]:
    """``repeat`` rounds; each round runs every worker once, in a fixed order."""
    import time

    runs: dict[tuple[str, str], list[dict]] = {k: [] for k in workers}
    for _ in tqdm(range(repeat), desc=desc):
        for key, w in workers.items():
            runs[key].append(w.run())
            if cooldown_s:
                time.sleep(cooldown_s)
    return runs
