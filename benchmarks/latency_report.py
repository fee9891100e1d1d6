"""The latency report (format ``lazydit-latency-report/1``, docs/benchmarks.md) from raw runs: per-run,
per-variant and end-to-end statistics, peak resident memory, MACs from the manifests, and the speedups against
the ideal ones those MACs give. ``lazydit bench adb`` and ``bench import`` write the same format."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from .latency_set import BenchBundle

REPORT_FORMAT = "lazydit-latency-report/1"


def _stats(values: list[float]) -> dict:
    a = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "min": float(a.min()),
        "max": float(a.max()),
        "count": int(a.size),
    }


def bundle_info(b: BenchBundle) -> dict:
    """What the report says about one bundle of the set, from its manifest."""
    m = b.manifest
    return {
        "role": b.role,
        "label": b.label,
        "path": str(b.path),
        "steps": len(m["steps"]),
        "laziness": m["schedule"].get("laziness", 0.0),
        "macs_per_image": m["macs"]["per_image"],
        "variants": {
            v["name"]: {"skipped_modules": v["skipped_modules"], "macs_per_image": v["macs_per_image"]}
            for v in m["variants"]
        },
        "model": {k: m["model"]["config"].get(k) for k in ("depth", "hidden_size", "patch_size", "input_size")}
        if "config" in m["model"]
        else {},
    }


def summarize(
    bundles: list[BenchBundle | dict],
    runs: dict[tuple[str, str], list[dict]],
    machine: dict,
    options: dict,
    load_ms: dict | None = None,
) -> dict:
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
        results.append(
            {
                "backend": backend,
                "role": role,
                "label": info[role]["label"],
                "total_ms": _stats([r["total_ms"] for r in rs]),
                "step_sum_ms": _stats(step_sum),
                # Latent bundles only: the decoder after the last step (inside total_ms).
                **(
                    {"decode_ms": _stats([r["decode_ms"] for r in rs])}
                    if rs and all("decode_ms" in r for r in rs)
                    else {}
                ),
                "runs_ms": [r["total_ms"] for r in rs],
                "per_variant_step_ms": {v: _stats(ms) for v, ms in per_variant.items()},
                "peak_rss_mib": max(peaks) / 1024 if peaks else None,
                "load_ms": (load_ms or {}).get((backend, role)),
            }
        )
    return {
        "format": REPORT_FORMAT,
        "machine": machine,
        "options": options,
        "bundles": list(info.values()),
        "results": results,
        "comparisons": compare(info, results),
    }


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
        row = {
            "backend": backend,
            "ideal_speedup": ideal,
            "speedup_vs_ddim_n": e2e,
            "achieved_over_ideal": e2e / ideal,
            "step_speedup_vs_ddim_n": per_step,
            "step_achieved_over_ideal": per_step / ideal,
            "variants": [],
        }
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
            row["variants"].append(
                {
                    "variant": v,
                    "skipped_modules": info["lazy"]["variants"][v]["skipped_modules"],
                    "step_ms": st["median"],
                    "speedup": dense_ms / st["median"],
                    "ideal_speedup": dense_macs / vmacs,
                }
            )
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
    return {
        "kind": "host",
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
    }
