"""``lazydit bench size``: are the weights stored once? Bundle bytes of a many-variant lazy schedule against the
same model's single dense graph, per target."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path


def measure_sizes(
    dit, steps: int, laziness_source: str, targets: tuple[str, ...], out_json: Path | None, keep_dir: Path | None = None
) -> dict:
    from ..export.bundle import ExportOptions, export_bundle
    from ..export.lower import dir_size
    from ..export.schedule import dense_schedule
    from ..export.schedule_source import resolve_schedule

    sd = dit.sampling_defaults
    lazy, _ = resolve_schedule(laziness_source, dit, steps=steps)
    dense = dense_schedule(steps, dit.config.depth)
    base = Path(keep_dir or tempfile.mkdtemp(prefix="lazydit-size-"))
    rows = {}
    for label, sched in (("dense", dense), ("lazy", lazy)):
        opts = ExportOptions(
            targets=targets,
            cfg_scale=sd["cfg_scale"],
            clip_denoised=sd["clip_denoised"],
            force=True,
            verify=False,
            name=label,
        )
        t0 = time.time()
        m = export_bundle(dit, sched, base / label, opts, progress=False)
        rows[label] = {
            "variants": len(m["variants"]),
            "laziness": sched.laziness(),
            "seconds": time.time() - t0,
            "bytes": {t: dir_size(base / label / t) for t in targets},
        }
    result = {
        "steps": steps,
        "schedule": laziness_source,
        "dense": rows["dense"],
        "lazy": rows["lazy"],
        "ratio": {t: rows["lazy"]["bytes"][t] / rows["dense"]["bytes"][t] for t in targets},
    }
    if out_json:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(result, indent=1))
    return result


def markdown(result: dict) -> str:
    lines = [
        f"| target | dense, 1 graph (MB) | lazy, {result['lazy']['variants']} graphs (MB) | ratio |",
        "|---|---|---|---|",
    ]
    for t, r in result["ratio"].items():
        lines.append(
            f"| {t} | {result['dense']['bytes'][t] / 1e6:.2f} | {result['lazy']['bytes'][t] / 1e6:.2f} | {r:.3f} |"
        )
    return "\n".join(lines)
