"""The bundle set of the latency benchmarks: LazyDiT N steps at laziness r, DDIM N steps and DDIM round(N(1-r))
steps (the same compute as the lazy one), exported once and reused while they match."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tqdm.auto import tqdm

from lazydit.errors import UserError

ROLES = ("lazy", "ddim_n", "ddim_half")


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


# Decoder architectures a latency run can add to a latent model (random weights: the time does not depend on them;
# lazydit.export.vae.RANDOM_VAES builds them).
DECODERS = ("sd-vae",)


def build_bundle_set(
    dit,
    lazy_sched,
    targets: tuple[str, ...],
    bundle_dir: Path,
    tag: str,
    verify: bool = False,
    force: bool = False,
    vae: Path | None = None,
) -> list[BenchBundle]:
    """Export (or reuse) the three bundles under ``bundle_dir``; a bundle is reused when its model fingerprint
    and schedule match and it has every target. ``vae`` adds the decoder to each (a latent model's)."""
    from ..export.bundle import ExportOptions, bundle_matches, export_bundle
    from ..export.checkpoint import fingerprint
    from ..export.schedule import dense_schedule

    n = lazy_sched.num_steps
    half = half_steps(n, lazy_sched.laziness())
    plan = [
        ("lazy", lazy_sched),
        ("ddim_n", dense_schedule(n, dit.config.depth)),
        ("ddim_half", dense_schedule(half, dit.config.depth)),
    ]
    fp = fingerprint(dit)
    cfg = dit.sampling_defaults
    out = []
    for role, sched in plan:
        name = f"{tag}-{'lazy' if role == 'lazy' else 'ddim'}-{sched.num_steps}"
        if sched.reuse != "hold":
            name += f"-{sched.reuse}"
        if vae is not None:
            name += "-decode"
        path = bundle_dir / name
        if not force and bundle_matches(path, fp, sched, targets):
            out.append(BenchBundle(role, path))
            continue
        opts = ExportOptions(
            targets=targets,
            cfg_scale=cfg["cfg_scale"],
            clip_denoised=bool(cfg["clip_denoised"]),
            force=True,
            verify=verify,
            name=name,
            vae=vae,
        )
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
