"""``lazydit tune``: the schedule a latency budget buys, with latencies measured on the target.

1. Every kind of step graph a candidate can use is timed on the target (the latency protocol of
   ``lazydit bench latency``, interleaved runs; :func:`lazydit.benchmarks.quality.measure_step_graphs`): DDIM's
   dense step, the full step that fills caches, the all-cached step, and, forecasting, the full step that also
   writes deltas and the all-cached step that forecasts. A candidate's latency is the sum over its steps of its
   graphs' medians plus the scheduler loop, exact for schedules whose steps are all-computed or all-cached.
2. The search space: DDIM at N steps, and LazyDiT ``interval:N:K`` (every K-th step computed, caches up to K-1
   steps old) holding or forecasting, for K = 2..4 and every N whose composed latency is near the budget.
3. Each candidate samples held-out seeds (sample i: seed ``HELD_OUT_SEED + i``, balanced classes; disjoint
   from the gate-calibration seeds) with the exact eager forward the graphs were verified against, and is
   scored against DDIM-``reference_steps`` images of the same noise: mean per-image PSNR, PSNR of the pooled
   error (one MSE over all images: outliers count as they do in the mean error), and the 5th-percentile and
   worst image PSNR (the tail).
4. The pick is the candidate under the budget with the highest pooled-error PSNR whose 5th percentile is no
   worse than that of the best DDIM under the same budget (DDIM itself when none is); its bundle is exported.

Writes ``tune.json`` (every candidate: latency, MACs, scores), ``frontier.png`` (quality against measured
latency, the budget and the pick) and, unless told not to, the picked schedule's bundle.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lazydit.errors import UserError

TARGETS = {"host-native": "native", "host-executorch": "executorch"}
HELD_OUT_SEED = 1_000_000
# window: the candidates scored, by composed latency relative to the budget; stride: every how many step counts.
# limit: at most this many LazyDiT candidates scored (evenly spread over the window), which bounds --quick's time
# (each costs a sampling run) at large budgets.
QUICK = {
    "n": 48,
    "intervals": (2, 3),
    "reference_steps": 100,
    "repeat": 3,
    "window": (0.6, 1.25),
    "stride": 2,
    "limit": 24,
}
FULL = {
    "n": 500,
    "intervals": (2, 3, 4),
    "reference_steps": 100,
    "repeat": 10,
    "window": (0.0, 2.0),
    "stride": 1,
    "limit": None,
}


@dataclass(frozen=True)
class Candidate:
    spec: str  # in the schedule grammar: ddim:N, interval:N:K@hold|@forecast
    family: str  # DDIM | LazyDiT
    steps: int
    interval: int
    reuse: str | None


def candidate_specs(intervals: tuple[int, ...], max_steps: int, stride: int = 1) -> list[Candidate]:
    """DDIM at every step count from 2 to max_steps, and interval:N:K holding and forecasting for every K and
    N > K (every ``stride``-th N); only step counts that DDIM's respacing can make exactly (1000 timesteps at
    an integer stride)."""
    from ..export.diffusion import ddim_timesteps

    def valid(n: int) -> bool:
        try:
            ddim_timesteps(n)
        except ValueError:
            return False
        return True

    out = [Candidate(f"ddim:{n}", "DDIM", n, 1, None) for n in range(2, max_steps + 1) if valid(n)]
    for k in intervals:
        for n in range(k + 1, 2 * max_steps + 1, stride):
            if not valid(n):
                continue
            for reuse in ("hold", "forecast"):
                out.append(Candidate(f"interval:{n}:{k}@{reuse}", "LazyDiT", n, k, reuse))
    return out


def _schedule(model, c: Candidate):
    from ..export.schedule import dense_schedule
    from ..export.schedule_source import resolve_schedule

    if c.family == "DDIM":
        return dense_schedule(c.steps, model.config.depth)
    return resolve_schedule(c.spec, model)[0]


def compose(model, candidates: list[Candidate], graphs: dict) -> list[dict]:
    """Each candidate with its composed latency (ms) and MACs per image."""
    from .quality import static_latency_ms

    cfg = model.sampling_defaults["cfg_scale"]
    rows = []
    for c in candidates:
        sched = _schedule(model, c)
        rows.append(
            {
                "spec": c.spec,
                "family": c.family,
                "steps": c.steps,
                "interval": c.interval,
                "reuse": c.reuse,
                "laziness": round(sched.laziness(), 6),
                "latency_ms": static_latency_ms(sched, graphs),
                "macs_per_image": sched.macs_per_image(model.config, cfg)["per_image"],
            }
        )
    return rows


def scores(images: np.ndarray, reference: np.ndarray) -> dict:
    """Paired fidelity against the reference (:func:`lazydit.benchmarks.metrics.psnr_summary`)."""
    from .metrics import psnr_summary

    return psnr_summary(images, reference)


def pick(rows: list[dict], budget_ms: float) -> tuple[dict | None, dict | None]:
    """(the tuned pick, the best DDIM) under the budget; see the module docstring for the rule."""
    under = [r for r in rows if r.get("psnr_pooled") is not None and r["latency_ms"] <= budget_ms]
    ddim = max((r for r in under if r["family"] == "DDIM"), key=lambda r: r["psnr_pooled"], default=None)
    floor = ddim["psnr_p5"] if ddim is not None else -np.inf
    ok = [r for r in under if r["psnr_p5"] >= floor]
    best = max(ok, key=lambda r: (r["psnr_pooled"], r["psnr_p5"]), default=None)
    return best, ddim


def run_tune(
    model,
    budget_ms: float,
    target: str,
    quick: bool,
    out_dir: Path,
    bundle_dir: Path,
    runner: Path | None = None,
    threads: int = 2,
    n: int | None = None,
    export: bool = True,
    force: bool = False,
    tag: str = "tune",
) -> dict:
    from ..export.checkpoint import fingerprint
    from .evaluate import Method, generate, parse_method
    from .quality import measure_step_graphs

    if not np.isfinite(budget_ms) or budget_ms <= 0:
        raise UserError(f"--budget-ms must be a positive number of milliseconds, got {budget_ms}")
    if target not in TARGETS:
        raise UserError(f"unknown --target {target!r}; choose one of {', '.join(TARGETS)}")
    if TARGETS[target] == "native" and (runner is None or not runner.is_file()):
        raise UserError(f"--target host-native needs the native runner at {runner}; build it (docs/native-runner.md)")
    if model.config.in_channels not in (1, 3):
        raise UserError("lazydit tune scores pixel-space models (1 or 3 channels)")
    if export and (out_dir / "bundle").exists() and not force:
        raise UserError(f"{out_dir / 'bundle'} exists; pass --force to replace it")
    preset = QUICK if quick else FULL
    n = n or preset["n"]
    t0 = time.time()
    graphs = measure_step_graphs(model, bundle_dir, TARGETS[target], runner, preset["repeat"], threads, tag)
    dense_ms = graphs["dense_step_ms"] + graphs["loop_ms_per_step"]
    # The full search scores candidates up to twice the budget, so that the frontier shows what the next budget
    # would buy; --quick only those near it.
    lo, hi = preset["window"]
    max_steps = max(2, int(hi * budget_ms / dense_ms) + 1)
    rows = compose(model, candidate_specs(preset["intervals"], max_steps, preset["stride"]), graphs)
    # Fewer steps than the reference, so that no candidate is scored against its own trajectory.
    rows = [
        r
        for r in rows
        if lo * budget_ms <= r["latency_ms"] <= hi * budget_ms and r["steps"] < preset["reference_steps"]
    ]
    lazy = sorted((r for r in rows if r["family"] == "LazyDiT"), key=lambda r: r["latency_ms"])
    if preset["limit"] and len(lazy) > preset["limit"]:
        keep = {id(lazy[round(i)]) for i in np.linspace(0, len(lazy) - 1, preset["limit"])}
        rows = [r for r in rows if r["family"] == "DDIM" or id(r) in keep]
    if not any(r["latency_ms"] <= budget_ms for r in rows):
        raise UserError(
            f"no schedule fits {budget_ms:g} ms on {target}: DDIM-2 alone takes {2 * dense_ms:.1f} ms here; "
            "raise --budget-ms"
        )

    sd = model.sampling_defaults
    fp = fingerprint(model)
    cfg, clip = sd["cfg_scale"], bool(sd["clip_denoised"])
    ref = Method(f"ddim:{preset['reference_steps']}", preset["reference_steps"], "dense")
    reference, _, _ = generate(model, ref, n, HELD_OUT_SEED, cfg, clip, model_fp=fp)
    worst: dict[str, np.ndarray] = {}
    for r in tqdm(rows, desc="scoring candidates"):
        images, _, _ = generate(model, parse_method(r["spec"], model), n, HELD_OUT_SEED, cfg, clip, model_fp=fp)
        r.update(scores(images, reference))
        worst[r["spec"]] = images
    best, ddim = pick(rows, budget_ms)
    result = {
        "format": "lazydit-tune/1",
        "budget_ms": budget_ms,
        "target": target,
        "quick": quick,
        "n": n,
        "held_out_seed": HELD_OUT_SEED,
        "reference": ref.spec,
        "step_graphs": {k: v for k, v in graphs.items() if k != "latency_report"},
        "candidates": sorted(rows, key=lambda r: r["latency_ms"]),
        "pick": best,
        "ddim_under_budget": ddim,
        "seconds": None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if best is not None and export:
        result["bundle"] = str(_export(model, best, out_dir / "bundle"))
    result["seconds"] = round(time.time() - t0, 1)
    (out_dir / "tune.json").write_text(json.dumps(result, indent=1))
    plot_frontier(result, out_dir / "frontier.png")
    if best is not None:
        _worst_images(best, ddim, worst, reference, out_dir / "worst.png")
    return result


def _export(model, row: dict, out: Path) -> Path:
    from ..export.bundle import ExportOptions, export_bundle

    sched = _schedule(model, Candidate(row["spec"], row["family"], row["steps"], row["interval"], row["reuse"]))
    sd = model.sampling_defaults
    opts = ExportOptions(
        targets=("executorch",), cfg_scale=sd["cfg_scale"], clip_denoised=sd["clip_denoised"], force=True, name=out.name
    )
    export_bundle(model, sched, out, opts)
    return out


def _worst_images(best: dict, ddim: dict | None, images: dict, reference: np.ndarray, path: Path) -> None:
    """The pick's eight worst images (by PSNR against the reference) beside DDIM's and the reference."""
    from lazydit.runtime.images import save_png_grid

    from .metrics import psnr

    order = np.argsort(psnr(images[best["spec"]], reference))[:8]
    rows = [reference[order], images[best["spec"]][order]]
    if ddim is not None:
        rows.append(images[ddim["spec"]][order])
    save_png_grid(np.concatenate(rows), path, ncol=len(order))


def plot_frontier(result: dict, path: Path) -> None:
    """Pooled-error PSNR and 5th-percentile PSNR against measured latency: every candidate, the budget, the pick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    groups = {("DDIM", None): ("#7f7f7f", "s", "DDIM")}
    for k in (2, 3, 4):
        groups[("hold", k)] = ("#d62728", "o^v"[k - 2], f"interval:K={k} hold")
        groups[("forecast", k)] = ("#1f77b4", "o^v"[k - 2], f"interval:K={k} forecast")
    for ax, key, label in zip(axes, ("psnr_pooled", "psnr_p5"), ("PSNR, pooled error (dB)", "PSNR, 5th pct (dB)")):
        for (kind, k), (color, marker, name) in groups.items():
            sel = [
                r
                for r in result["candidates"]
                if (r["family"] == "DDIM" and kind == "DDIM") or (r["reuse"] == kind and r["interval"] == k)
            ]
            if sel:
                ax.plot(
                    [r["latency_ms"] for r in sel],
                    [r[key] for r in sel],
                    marker=marker,
                    ls="-",
                    ms=4,
                    color=color,
                    alpha=0.8,
                    label=name,
                    mfc="none" if kind == "hold" else color,
                )
        ax.axvline(result["budget_ms"], color="k", ls="--", lw=1, label=f"budget {result['budget_ms']:g} ms")
        if result["pick"] is not None:
            p = result["pick"]
            ax.plot([p["latency_ms"]], [p[key]], marker="*", ms=14, color="#2ca02c", ls="", label=f"pick {p['spec']}")
        ax.set_xlabel(f"ms per image, measured on {result['target']}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"lazydit tune: {result['n']} held-out samples against {result['reference']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
