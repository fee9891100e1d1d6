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

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lazydit.errors import UserError

REPORT_FORMAT = "lazydit-latency-report/1"
ROLES = ("lazy", "ddim_n", "ddim_half")
PY_BACKENDS = ("executorch", "onnxruntime")
ALL_BACKENDS = ("executorch", "native", "onnxruntime")


@dataclass
class BenchBundle:
    """One bundle of the set: its role (lazy, ddim_n, ddim_half), a label for tables, and its folder."""

    role: str
    path: Path

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def label(self) -> str:
        m = self.manifest
        n = len(m["steps"])
        lazy = m["schedule"].get("laziness", 0.0)
        how = " forecast" if m["schedule"].get("reuse") == "forecast" else ""
        return f"LazyDiT-{n} @{lazy:.0%}{how}" if lazy > 0 else f"DDIM-{n}"


def half_steps(steps: int, laziness: float) -> int:
    return max(1, round(steps * (1 - laziness)))


# ---------------------------------------------------------------- bundle set


def random_dit(name: str):
    """An official DiT architecture with random, non-zero weights (latency does not depend on their values)."""
    import torch

    from ..export.model import DiT, config_from_name, randomize_weights

    try:
        config = config_from_name(name)
    except KeyError as e:
        raise UserError(str(e).strip("'\"")) from None
    torch.manual_seed(0)
    dit = randomize_weights(DiT(config).eval(), 0.02)
    return dit.requires_grad_(False)


def build_bundle_set(dit, lazy_sched, targets: tuple[str, ...], bundle_dir: Path, tag: str,
                     verify: bool = False, force: bool = False) -> list[BenchBundle]:
    """Export (or reuse) the three bundles under ``bundle_dir``; a bundle is reused when its model fingerprint
    and schedule match and it has every target."""
    from ..export.bundle import ExportOptions, bundle_matches, export_bundle
    from ..export.checkpoint import fingerprint
    from ..export.schedule import dense_schedule

    n = lazy_sched.num_steps
    half = half_steps(n, lazy_sched.laziness())
    plan = [("lazy", lazy_sched), ("ddim_n", dense_schedule(n, dit.config.depth)),
            ("ddim_half", dense_schedule(half, dit.config.depth))]
    fp = fingerprint(dit)
    cfg = dit.sampling_defaults
    out = []
    for role, sched in plan:
        name = f"{tag}-{'lazy' if role == 'lazy' else 'ddim'}-{sched.num_steps}"
        if sched.reuse != "hold":
            name += f"-{sched.reuse}"
        path = bundle_dir / name
        if not force and bundle_matches(path, fp, sched, targets):
            out.append(BenchBundle(role, path))
            continue
        opts = ExportOptions(targets=targets, cfg_scale=cfg["cfg_scale"], clip_denoised=bool(cfg["clip_denoised"]),
                             force=True, verify=verify, name=name)
        tqdm.write(f"exporting {name} ({', '.join(targets)})")
        export_bundle(dit, sched, path, opts, progress=True)
        out.append(BenchBundle(role, path))
    return out


def bundles_from_paths(paths: list[Path]) -> list[BenchBundle]:
    """Given bundles (``--bundles``): the lazy one, DDIM with its step count, DDIM with fewer steps."""
    if len(paths) != 3:
        raise UserError("--bundles takes three folders: LAZY DDIM_N DDIM_HALF (e.g. from `lazydit export`)")
    for p in paths:
        if not (p / "manifest.json").is_file():
            raise UserError(f"{p}: not a bundle (no manifest.json); make one with `lazydit export`")
    return [BenchBundle(r, p) for r, p in zip(ROLES, paths)]


# ---------------------------------------------------------------- measuring


class PythonWorker:
    """A bundle loaded on a Python-runtime backend in a child process."""

    def __init__(self, bundle: Path, backend: str, threads: int):
        self.proc = subprocess.Popen([sys.executable, "-m", "lazydit.benchmarks.latency_worker", str(bundle),
                                      backend, str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
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
    load = report.get("load_ms") or {}
    if isinstance(load, dict) and load.get("total") is not None:
        out["load_ms"] = load["total"]
    return out


def measure_interleaved(workers: dict[tuple[str, str], object], repeat: int, cooldown_s: float = 0.0,
                        desc: str = "rounds") -> dict[tuple[str, str], list[dict]]:
    """``repeat`` rounds; each round runs every worker once, in a fixed order."""
    import time

    runs: dict[tuple[str, str], list[dict]] = {k: [] for k in workers}
    for _ in tqdm(range(repeat), desc=desc):
        for key, w in workers.items():
            runs[key].append(w.run())
            if cooldown_s:
                time.sleep(cooldown_s)
    return runs


def check_backends(backends: list[str], runner: Path | None) -> None:
    if not backends:
        raise UserError(f"--backends is empty; choose from {', '.join(ALL_BACKENDS)}")
    for b in backends:
        if b not in ALL_BACKENDS:
            raise UserError(f"unknown backend {b!r}; choose from {', '.join(ALL_BACKENDS)}")
    if "native" in backends and (runner is None or not runner.is_file()):
        raise UserError(f"native runner not found at {runner}; build it (docs/native-runner.md) or drop "
                        "'native' from --backends")


def run_latency(bundles: list[BenchBundle], backends: list[str], repeat: int = 5, warmup: int = 1,
                threads: int = 2, runner: Path | None = None) -> dict:
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
    return summarize(bundles, runs, machine=host_machine(threads), options={
        "repeat": repeat, "warmup": warmup, "threads": threads, "order": "per backend, bundles interleaved"},
        load_ms=loads)


# ---------------------------------------------------------------- report


def _stats(values: list[float]) -> dict:
    a = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "min": float(a.min()),
            "max": float(a.max()), "count": int(a.size)}


def bundle_info(b: BenchBundle) -> dict:
    """What the report says about one bundle of the set, from its manifest."""
    m = b.manifest
    return {
        "role": b.role, "label": b.label, "path": str(b.path), "steps": len(m["steps"]),
        "laziness": m["schedule"].get("laziness", 0.0), "macs_per_image": m["macs"]["per_image"],
        "variants": {v["name"]: {"skipped_modules": v["skipped_modules"], "macs_per_image": v["macs_per_image"]}
                     for v in m["variants"]},
        "model": {k: m["model"]["config"].get(k) for k in ("depth", "hidden_size", "patch_size", "input_size")}
        if "config" in m["model"] else {},
    }


def summarize(bundles: list[BenchBundle | dict], runs: dict[tuple[str, str], list[dict]], machine: dict,
              options: dict, load_ms: dict | None = None) -> dict:
    """The ``lazydit-latency-report/1`` object from raw runs keyed by (backend, role); ``bundles`` are the set's
    bundles or their :func:`bundle_info` dicts."""
    info = {}
    for b in bundles:
        d = b if isinstance(b, dict) else bundle_info(b)
        info[d["role"]] = d
    results = []
    for (backend, role), rs in runs.items():
        per_variant: dict[str, list[float]] = {}
        step_sum = []
        for r in rs:
            for s in r["steps"]:
                per_variant.setdefault(s["variant"], []).append(s["ms"])
            step_sum.append(sum(s["ms"] for s in r["steps"]))
        peaks = [r["peak_rss_kb"] for r in rs if r.get("peak_rss_kb")]
        results.append({
            "backend": backend, "role": role, "label": info[role]["label"],
            "total_ms": _stats([r["total_ms"] for r in rs]),
            "step_sum_ms": _stats(step_sum),
            "runs_ms": [r["total_ms"] for r in rs],
            "per_variant_step_ms": {v: _stats(ms) for v, ms in per_variant.items()},
            "peak_rss_mib": max(peaks) / 1024 if peaks else None,
            "load_ms": (load_ms or {}).get((backend, role)),
        })
    return {"format": REPORT_FORMAT, "machine": machine, "options": options, "bundles": list(info.values()),
            "results": results, "comparisons": compare(info, results)}


def compare(info: dict, results: list[dict]) -> list[dict]:
    """Per backend: LazyDiT against DDIM-N (achieved vs ideal speedup) and against DDIM-N(1-r) (equal compute)."""
    out = []
    by = {(r["backend"], r["role"]): r for r in results}
    for backend in dict.fromkeys(r["backend"] for r in results):
        lazy, dn, dh = by.get((backend, "lazy")), by.get((backend, "ddim_n")), by.get((backend, "ddim_half"))
        if lazy is None or dn is None:
            continue
        ideal = info["ddim_n"]["macs_per_image"] / info["lazy"]["macs_per_image"]
        e2e = dn["total_ms"]["median"] / lazy["total_ms"]["median"]
        per_step = dn["step_sum_ms"]["median"] / lazy["step_sum_ms"]["median"]
        row = {"backend": backend, "ideal_speedup": ideal, "speedup_vs_ddim_n": e2e,
               "achieved_over_ideal": e2e / ideal, "step_speedup_vs_ddim_n": per_step,
               "step_achieved_over_ideal": per_step / ideal, "variants": []}
        if dh is not None:
            row["lazy_over_ddim_half"] = lazy["total_ms"]["median"] / dh["total_ms"]["median"]
        # Per variant of the lazy bundle: its step time against the dense step of DDIM-N.
        dense_v = next(iter(dn["per_variant_step_ms"]))
        dense_ms = dn["per_variant_step_ms"][dense_v]["median"]
        if dense_v not in info["ddim_n"]["variants"]:
            out.append(row)  # a report that does not give per-graph MACs (e.g. imported): totals only
            continue
        dense_macs = info["ddim_n"]["variants"][dense_v]["macs_per_image"]
        for v, st in lazy["per_variant_step_ms"].items():
            vmacs = info["lazy"]["variants"][v]["macs_per_image"]
            row["variants"].append({"variant": v, "skipped_modules": info["lazy"]["variants"][v]["skipped_modules"],
                                    "step_ms": st["median"], "speedup": dense_ms / st["median"],
                                    "ideal_speedup": dense_macs / vmacs})
        out.append(row)
    return out


def host_machine(threads: int | None) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"kind": "host", "os": f"{platform.system()} {platform.release()}", "arch": platform.machine(),
            "cpu": cpu, "cores": os.cpu_count(), "threads": threads}


def markdown(report: dict) -> str:
    """End-to-end table, then the lazy graphs' step times against the dense step."""
    info = {b["role"]: b for b in report["bundles"]}
    lines = ["| backend | configuration | MACs/image | median ms | p90 ms | peak RSS MiB |",
             "|---|---|---|---|---|---|"]
    for r in report["results"]:
        rss = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "–"
        lines.append(f"| {r['backend']} | {r['label']} | {info[r['role']]['macs_per_image'] / 1e9:.2f} G | "
                     f"{r['total_ms']['median']:.1f} | {r['total_ms']['p90']:.1f} | {rss} |")
    lines += ["", "| backend | LazyDiT vs DDIM-N | ideal (MACs) | achieved / ideal | per-step achieved / ideal | "
              "LazyDiT / DDIM-N(1-r) time |", "|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        half = f"{c['lazy_over_ddim_half']:.3f}" if "lazy_over_ddim_half" in c else "–"
        lines.append(f"| {c['backend']} | {c['speedup_vs_ddim_n']:.2f}x | {c['ideal_speedup']:.2f}x | "
                     f"{c['achieved_over_ideal']:.2f} | {c['step_achieved_over_ideal']:.2f} | {half} |")
    lines += ["", "| backend | lazy-bundle graph | skipped modules | median step ms | speedup vs dense step | "
              "ideal (MACs) |", "|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        for v in c["variants"]:
            lines.append(f"| {c['backend']} | {v['variant']} | {v['skipped_modules']} | {v['step_ms']:.3f} | "
                         f"{v['speedup']:.2f}x | {v['ideal_speedup']:.2f}x |")
    return "\n".join(lines)


def plot(report: dict, path: Path, title: str = "") -> None:
    """Grouped bars: median end-to-end time per backend and configuration, whiskers to p90."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(r["backend"] for r in report["results"]))
    labels = {b["role"]: b["label"] for b in report["bundles"]}
    roles = [r for r in ROLES if r in labels]
    by = {(r["backend"], r["role"]): r for r in report["results"]}
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(backends), 3.8))
    width = 0.8 / len(roles)
    colors = {"lazy": "#d62728", "ddim_n": "#7f7f7f", "ddim_half": "#1f77b4"}
    for j, role in enumerate(roles):
        xs, med, err = [], [], []
        for i, b in enumerate(backends):
            r = by.get((b, role))
            if r is None:
                continue
            xs.append(i + (j - (len(roles) - 1) / 2) * width)
            med.append(r["total_ms"]["median"])
            err.append(r["total_ms"]["p90"] - r["total_ms"]["median"])
        bars = ax.bar(xs, med, width, yerr=[np.zeros(len(err)), err], capsize=3, label=labels[role],
                      color=colors[role])
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_xticks(range(len(backends)), backends)
    ax.set_ylabel("ms per image (median, whisker p90)")
    comps = {c["backend"]: c for c in report["comparisons"]}
    for i, b in enumerate(backends):
        if b in comps:
            c = comps[b]
            ax.annotate(f"{c['speedup_vs_ddim_n']:.2f}x of ideal {c['ideal_speedup']:.2f}x", (i, 0),
                        xytext=(0, -28), textcoords="offset points", ha="center", fontsize=7)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.25)  # room for the legend above the bars
    ax.legend(fontsize=8, loc="upper center", ncol=len(roles))
    ax.set_title(title or "LazyDiT vs DDIM, end to end", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write_report(report: dict, out_dir: Path, title: str = "") -> dict[str, Path]:
    """``latency.json``, ``latency.md`` and ``latency.png`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "latency.json", "md": out_dir / "latency.md", "png": out_dir / "latency.png"}
    paths["json"].write_text(json.dumps(report, indent=1))
    paths["md"].write_text(markdown(report) + "\n")
    plot(report, paths["png"], title)
    return paths
