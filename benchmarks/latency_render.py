"""The latency report as people read it: a markdown table and a bar chart, written beside its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .latency_set import ROLES


def markdown(report: dict) -> str:
    """End-to-end table, then the lazy graphs' step times against the dense step."""
    info = {b["role"]: b for b in report["bundles"]}
    lines = [
        "| backend | configuration | MACs/image | median ms | p90 ms | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        rss = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "–"
        lines.append(
            f"| {r['backend']} | {r['label']} | {info[r['role']]['macs_per_image'] / 1e9:.2f} G | "
            f"{r['total_ms']['median']:.1f} | {r['total_ms']['p90']:.1f} | {rss} |"
        )
    lines += [
        "",
        "| backend | LazyDiT vs DDIM-N | ideal (MACs) | achieved / ideal | per-step achieved / ideal | "
        "LazyDiT / DDIM-N(1-r) time |",
        "|---|---|---|---|---|---|",
    ]
    for c in report["comparisons"]:
        half = f"{c['lazy_over_ddim_half']:.3f}" if "lazy_over_ddim_half" in c else "–"
        lines.append(
            f"| {c['backend']} | {c['speedup_vs_ddim_n']:.2f}x | {c['ideal_speedup']:.2f}x | "
            f"{c['achieved_over_ideal']:.2f} | {c['step_achieved_over_ideal']:.2f} | {half} |"
        )
    lines += [
        "",
        "| backend | lazy-bundle graph | skipped modules | median step ms | speedup vs dense step | ideal (MACs) |",
        "|---|---|---|---|---|---|",
    ]
    for c in report["comparisons"]:
        for v in c["variants"]:
            lines.append(
                f"| {c['backend']} | {v['variant']} | {v['skipped_modules']} | {v['step_ms']:.3f} | "
                f"{v['speedup']:.2f}x | {v['ideal_speedup']:.2f}x |"
            )
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
        bars = ax.bar(xs, med, width, yerr=[np.zeros(len(err)), err], capsize=3, label=labels[role], color=colors[role])
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_xticks(range(len(backends)), backends)
    ax.set_ylabel("ms per image (median, whisker p90)")
    comps = {c["backend"]: c for c in report["comparisons"]}
    for i, b in enumerate(backends):
        if b in comps:
            c = comps[b]
            ax.annotate(
                f"{c['speedup_vs_ddim_n']:.2f}x of ideal {c['ideal_speedup']:.2f}x",
                (i, 0),
                xytext=(0, -28),
                textcoords="offset points",
                ha="center",
                fontsize=7,
            )
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
