"""``lazydit bench quality``: image quality against measured latency, DDIM and LazyDiT as two frontiers.

Quality comes from :func:`lazydit.benchmarks.evaluate.evaluate` (classifier FID with bootstrap error bars,
optionally Inception FID, class accuracy, paired PSNR/SSIM against dense DDIM-50 from the same noise).
Latency is measured in the same run on ExecuTorch: one bundle per distinct step graph (DDIM's dense step, the
lazy schedules' full step that fills the caches, their all-cached step; for forecasting schedules the full step
that also writes deltas and the all-cached step that forecasts), each graph's median step time from
interleaved runs, and a configuration's latency is the sum over its steps of its graphs' medians. Every
static configuration therefore has a measured latency; the dynamic (per-sample) gates cannot run as one static
graph, so they appear on the MACs panel only.

LazyDiT comes twice: with the paper's reuse (``hold``: a skip feeds the cached output) and with ``forecast``
(a skip feeds the first-order extrapolation of the module's last two outputs). The calibrated 20-step schedule is
not listed separately: at 50% with caches at most one step old it is ``interval:20:2``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lazydit.errors import UserError

DEFAULT_DDIM = (5, 7, 10, 14, 20, 25)
_INTERVALS = ("interval:10:2", "interval:14:2", "interval:20:2", "interval:40:2", "interval:30:3")
DEFAULT_LAZY = (
    *_INTERVALS,
    *(f"{s}@forecast" for s in _INTERVALS),
    "lazy:20:{gates20_hold}",
    "lazy:50:{gates50_hold}",
    "lazy:20",
    "lazy:50",
)
QUICK_DDIM = (5, 10, 20)
QUICK_LAZY = ("interval:10:2", "interval:20:2", "interval:10:2@forecast", "interval:20:2@forecast")


def config_specs(ddim_steps, lazy_specs) -> list[str]:
    """DDIM and LazyDiT specs; ``{schedule20}``, ``{gates20_hold}``... name committed files (left out if absent)."""
    from lazydit.models import embedded_gates, embedded_schedule

    files = {
        "schedule20": embedded_schedule(20),
        "gates20_hold": embedded_gates(20, "hold"),
        "gates50_hold": embedded_gates(50, "hold"),
    }
    out = [f"ddim:{n}" for n in ddim_steps]
    for s in lazy_specs:
        named = [k for k in files if "{" + k + "}" in s]
        if any(not files[k].is_file() for k in named):
            continue
        out.append(s.format(**files))
    return out


def measure_step_graphs(
    model, bundle_dir: Path, backend: str, runner: Path | None, repeat: int, threads: int, tag: str = "quality"
) -> dict:
    """Median step time of each kind of step graph, from a LazyDiT-20 interval:2 / DDIM-20 / DDIM-10 set and
    the same LazyDiT-20 schedule forecasting, all measured in one interleaved run."""
    from ..export.schedule_source import resolve_schedule
    from .latency import run_latency
    from .latency_set import BenchBundle, build_bundle_set

    sched, _ = resolve_schedule("interval:20:2", model)
    bundles = build_bundle_set(model, sched, ("executorch",), bundle_dir, tag)
    forecasting, _ = resolve_schedule("interval:20:2@forecast", model)
    forecast = next(
        b for b in build_bundle_set(model, forecasting, ("executorch",), bundle_dir, tag) if b.role == "lazy"
    )
    bundles.append(BenchBundle("lazy_forecast", forecast.path))
    report = run_latency(bundles, [backend], repeat=repeat, warmup=1, threads=threads, runner=runner)
    by = {r["role"]: r for r in report["results"]}
    dense = next(iter(by["ddim_n"]["per_variant_step_ms"].values()))["median"]
    lazy = {k: v["median"] for k, v in by["lazy"]["per_variant_step_ms"].items()}
    fc = {k: v["median"] for k, v in by["lazy_forecast"]["per_variant_step_ms"].items()}
    # Per run: what a trajectory costs beyond its steps (the scheduler loop), from the DDIM-20 runs.
    overhead = max(0.0, by["ddim_n"]["total_ms"]["median"] - by["ddim_n"]["step_sum_ms"]["median"]) / 20
    # interval:2 graphs (see graphs.plan_variants): hold v0 full, v1 all-cached; forecast v0 full writing
    # deltas, v1 all-cached forecasting.
    return {
        "backend": backend,
        "threads": threads,
        "dense_step_ms": dense,
        "full_step_ms": lazy["v0"],
        "cached_step_ms": lazy["v1"],
        "full_delta_step_ms": fc["v0"],
        "forecast_step_ms": fc["v1"],
        "loop_ms_per_step": overhead,
        "latency_report": report,
    }


def static_latency_ms(schedule, graphs: dict) -> float:
    """Latency of a static schedule (a dense one is DDIM) from measured step graphs.

    A step that skips every module runs the all-cached graph (the forecasting one when it forecasts); a step
    that computes everything runs the dense graph, or the cache-filling full graph when a later step reads its
    outputs (the one that also writes deltas when a later step forecasts). Partly lazy steps would need their
    own graph: refused rather than guessed."""
    from ..export.graphs import step_patterns

    total = 0.0
    for skip, write, forecast, delta in step_patterns(schedule):
        if len(skip) == 2 * schedule.depth:
            total += graphs["forecast_step_ms"] if forecast else graphs["cached_step_ms"]
        elif not skip:
            total += (
                graphs["full_delta_step_ms"] if delta else graphs["full_step_ms"] if write else graphs["dense_step_ms"]
            )
        else:
            raise UserError(
                "bench quality measures schedules whose steps are all-computed or all-cached; "
                "benchmark partly lazy schedules with `lazydit bench latency --schedule FILE`"
            )
        total += graphs["loop_ms_per_step"]
    return total


def run_quality(
    model,
    ddim_steps,
    lazy_specs,
    n: int,
    paired_n: int,
    inception: bool,
    out_dir: Path,
    bundle_dir: Path,
    backend: str = "native",
    runner: Path | None = None,
    repeat: int = 10,
    threads: int = 2,
    tag: str = "quality",
    **eval_options,
) -> dict:
    """Measure the step graphs, evaluate every configuration, attach latencies and the verdicts.
    ``eval_options`` go to :func:`lazydit.benchmarks.evaluate.evaluate` (reference_steps, classifier_path...)."""
    from .evaluate import evaluate, parse_method

    specs = config_specs(ddim_steps, lazy_specs)
    graphs = measure_step_graphs(model, bundle_dir, backend, runner, repeat, threads, tag)
    results = evaluate(model, specs, n, inception=inception, out_dir=out_dir, paired_n=paired_n, **eval_options)
    from ..export.schedule import Schedule, dense_schedule

    for row in results["methods"]:
        m = parse_method(row["method"], model)
        if m.mode == "dynamic":
            row["latency_ms"] = None
        else:
            sched = (
                dense_schedule(m.num_steps, model.config.depth)
                if m.skip_masks is None
                else Schedule(
                    m.num_steps, model.config.depth, m.skip_masks.tolist(), max_cache_age=m.max_cache_age, reuse=m.reuse
                )
            )
            row["latency_ms"] = static_latency_ms(sched, graphs)
        row["family"] = "DDIM" if m.mode == "dense" else "LazyDiT"
        row["reuse"] = None if m.mode == "dense" else m.reuse
        row["label"] = label(row)
    results["step_graphs"] = {k: v for k, v in graphs.items() if k != "latency_report"}
    results["latency_report"] = graphs["latency_report"]
    results["verdicts"] = verdicts(results)
    return results


def label(row: dict) -> str:
    spec = row["method"].split("@")[0]
    if spec.startswith("ddim:"):
        return f"DDIM-{row['steps']}"
    how = row.get("reuse") or "hold"
    if spec.startswith("interval:"):
        _, n, k = spec.split(":")
        return f"LazyDiT-{n} interval:{k} {how} ({row['laziness']:.0%})"
    if spec.startswith("schedule:"):
        return f"LazyDiT-{row['steps']} calibrated {how} ({row['laziness']:.0%})"
    return f"LazyDiT-{row['steps']} gates {how}, dynamic ({row['laziness']:.0%})"


def _interp(x: float, xs: list[float], ys: list[float]) -> float | None:
    """DDIM's value at cost x, linear between the two DDIM budgets around it (None outside their range)."""
    if not xs or x < xs[0] or x > xs[-1]:
        return None
    return float(np.interp(x, xs, ys))


def _ddim_at(ddim: list[dict], axis: str, x: float) -> tuple[dict | None, dict | None]:
    """DDIM's PSNR and classifier FID at cost ``x`` on ``axis`` (interpolated), and a DDIM budget within 3%."""
    pts = sorted(ddim, key=lambda d: d[axis])
    xs = [d[axis] for d in pts]
    at = {k: _interp(x, xs, [d[k] for d in pts]) for k in ("psnr", "fid_classifier")}
    same = next((d for d in pts if abs(d[axis] - x) / d[axis] < 0.03), None)
    if at["psnr"] is None:
        # Just past the end of DDIM's range (within 3%): compare with that budget rather than say nothing.
        at = {"psnr": same["psnr"], "fid_classifier": same["fid_classifier"]} if same is not None else None
    return at, same


def verdicts(results: dict) -> list[dict]:
    """Each LazyDiT configuration against DDIM at the same latency (MACs for the dynamic gates, which have no
    static latency) and at the same MACs: the DDIM frontier interpolated between its two nearest budgets."""
    ddim = [r for r in results["methods"] if r["family"] == "DDIM"]
    out = []
    for r in results["methods"]:
        if r["family"] != "LazyDiT":
            continue
        axis = "latency_ms" if r["latency_ms"] is not None else "macs_per_image"
        at, same = _ddim_at(ddim, axis, r[axis])
        v = {
            "label": r["label"],
            "axis": axis,
            "psnr": r["psnr"],
            "fid_classifier": r["fid_classifier"],
            "matched_ddim": same["label"] if same else None,
        }
        if at is not None:
            v.update(
                {
                    "ddim_psnr_at_same_cost": at["psnr"],
                    "ddim_fid_classifier_at_same_cost": at["fid_classifier"],
                    "psnr_gain_db": r["psnr"] - at["psnr"],
                    "fid_gain": at["fid_classifier"] - r["fid_classifier"],
                }
            )
            v["better_psnr"] = v["psnr_gain_db"] > 0
            v["fid_no_worse"] = r["fid_classifier"] <= at["fid_classifier"] + r["fid_classifier_std"]
        at_macs, _ = _ddim_at(ddim, "macs_per_image", r["macs_per_image"])
        if at_macs is not None:
            v["psnr_gain_db_equal_macs"] = r["psnr"] - at_macs["psnr"]
            v["fid_gain_equal_macs"] = at_macs["fid_classifier"] - r["fid_classifier"]
        out.append(v)
    return out


def markdown(results: dict) -> str:
    inc = "fid_inception" in results["floor"]
    lines = [
        "| configuration | latency ms | MACs/image | accuracy | FID (classifier) |"
        + (" FID (Inception) |" if inc else "")
        + f" PSNR vs {results['reference']} | pooled-error PSNR | 5th-pct PSNR | SSIM |",
        "|---|---|---|---|---|" + ("---|" if inc else "") + "---|---|---|---|",
    ]
    for r in sorted(results["methods"], key=lambda r: (r["family"], r["macs_per_image"])):
        lat = f"{r['latency_ms']:.1f}" if r["latency_ms"] is not None else "–"
        cells = [
            r["label"],
            lat,
            f"{r['macs_per_image'] / 1e9:.2f} G",
            f"{r['accuracy']:.3f}",
            f"{r['fid_classifier']:.2f} ± {r['fid_classifier_std']:.2f}",
        ]
        if inc:
            cells.append(f"{r['fid_inception']:.2f} ± {r['fid_inception_std']:.2f}")
        tail = [f"{r[k]:.2f} dB" if k in r else "–" for k in ("psnr_pooled", "psnr_p5")]
        cells += [f"{r['psnr']:.2f} dB", *tail, f"{r['ssim']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| LazyDiT configuration | at equal latency: PSNR − DDIM's | FID: DDIM's − LazyDiT's | "
        "at equal MACs: PSNR − DDIM's | FID: DDIM's − LazyDiT's |",
        "|---|---|---|---|---|",
    ]

    def cells(v: dict, psnr: str, fid: str) -> str:
        return f"{v[psnr]:+.2f} dB | {v[fid]:+.2f}" if psnr in v else "outside DDIM's range | –"

    for v in results["verdicts"]:
        lat = cells(v, "psnr_gain_db", "fid_gain") if v["axis"] == "latency_ms" else "no static latency | –"
        lines.append(f"| {v['label']} | {lat} | {cells(v, 'psnr_gain_db_equal_macs', 'fid_gain_equal_macs')} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """Two panels (PSNR and classifier FID) against latency, plus PSNR against MACs; DDIM and LazyDiT frontiers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ddim = sorted((r for r in results["methods"] if r["family"] == "DDIM"), key=lambda r: r["macs_per_image"])
    lazy = [r for r in results["methods"] if r["family"] == "LazyDiT"]
    panels = [
        ("latency_ms", "psnr", "ms per image (ExecuTorch, measured graphs)", f"PSNR vs {results['reference']} (dB)"),
        ("latency_ms", "fid_classifier", "ms per image (ExecuTorch, measured graphs)", "FID, classifier features"),
        ("macs_per_image", "psnr", "GMACs per image", f"PSNR vs {results['reference']} (dB)"),
    ]
    markers = {"interval": "o", "calibrated": "*", "gates": "D"}
    colors = {"hold": "#d62728", "forecast": "#1f77b4"}
    for ax, (xk, yk, xl, yl) in zip(axes, panels):
        scale = 1e-9 if xk == "macs_per_image" else 1.0
        xs = [d[xk] * scale for d in ddim]
        ys = [d[yk] for d in ddim]
        err = [d[f"{yk}_std"] for d in ddim] if yk == "fid_classifier" else None
        ax.errorbar(xs, ys, yerr=err, color="#7f7f7f", marker="s", label="DDIM", capsize=2)
        for d in ddim:
            ax.annotate(str(d["steps"]), (d[xk] * scale, d[yk]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        pts = [r for r in lazy if r[xk] is not None]
        for (kind, mk), (how, color) in ((km, hc) for km in markers.items() for hc in colors.items()):
            sel = [r for r in pts if kind in r["label"] and (r.get("reuse") or "hold") == how]
            if not sel:
                continue
            ax.errorbar(
                [r[xk] * scale for r in sel],
                [r[yk] for r in sel],
                yerr=[r[f"{yk}_std"] for r in sel] if yk == "fid_classifier" else None,
                fmt=mk,
                color=color,
                label=f"LazyDiT {how} ({kind})",
                capsize=2,
                ms=7 if mk == "*" else 5,
            )
            for r in sel:
                ax.annotate(
                    f"{r['steps']}",
                    (r[xk] * scale, r[yk]),
                    fontsize=7,
                    color=color,
                    xytext=(3, -9),
                    textcoords="offset points",
                )
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.suptitle(
        f"Quality at matched cost: {results['n']} samples, paired {results['paired_n']}, guidance "
        f"{results['cfg_scale']} (numbers: step counts)",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write(results: dict, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "quality.json", "md": out_dir / "quality.md", "png": out_dir / "quality.png"}
    paths["json"].write_text(json.dumps(results, indent=1))
    paths["md"].write_text(markdown(results) + "\n")
    plot(results, paths["png"])
    return paths
