"""``lazydit bench import``: a device's own benchmark file in the host report format.

The iOS demo's benchmark mode writes ``lazydit-ios-bench/1`` into the app's documents folder (one
``lazydit-ios-report/1`` per configuration, measured interleaved on the phone; ios_demo/README.md). This turns it
into ``lazydit-latency-report/1``, the format of ``lazydit bench latency`` and ``lazydit bench adb``, so the
same tables and plot come out. Roles: the lazy plan is LazyDiT; a dense plan with as many steps is DDIM-N; a
dense plan with fewer steps is DDIM-N(1-r).
"""

from __future__ import annotations

import json
from pathlib import Path

from lazydit.errors import UserError

from .latency_report import summarize
from .latency_workers import native_measurement

IOS_FORMAT = "lazydit-ios-bench/1"


def _role(plan: dict, lazy_steps: int | None) -> str:
    if plan["kind"] == "lazy":
        return "lazy"
    if lazy_steps is not None and plan["steps"] < lazy_steps:
        return "ddim_half"
    return "ddim_n"


def import_ios_bench(path: Path) -> dict:
    """The ``lazydit-latency-report/1`` object of one ``lazydit-ios-bench/1`` file."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read a benchmark file ({e})") from None
    if not isinstance(d, dict) or d.get("format") != IOS_FORMAT:
        raise UserError(f'{path}: not an iOS benchmark file (expected "format": "{IOS_FORMAT}")')
    if d.get("error"):
        raise UserError(f"{path}: the benchmark failed on the device: {d['error']}")
    try:
        reports = d["reports"]
        lazy_steps = next((r["plan"]["steps"] for r in reports if r["plan"]["kind"] == "lazy"), None)
        infos, runs, seen = [], {}, set()
        backend = f"coreml ({d['runner'].get('compute_units', '?')})"
        for r in reports:
            role = _role(r["plan"], lazy_steps)
            if role in seen:
                raise UserError(
                    f"{path}: two configurations would both be {role}; keep one LazyDiT plan and at "
                    "most one DDIM plan per step count"
                )
            seen.add(role)
            plan = r["plan"]
            label = f"LazyDiT-{plan['steps']} @{plan['laziness']:.0%}" if role == "lazy" else f"DDIM-{plan['steps']}"
            infos.append(
                {
                    "role": role,
                    "label": label,
                    "path": r["bundle"]["path"],
                    "steps": plan["steps"],
                    "laziness": plan["laziness"],
                    "macs_per_image": plan.get("macs_per_image"),
                    "variants": {},
                    "model": {},
                }
            )
            runs[(backend, role)] = [
                native_measurement({"runs": [run], "memory": r.get("memory", {})}) for run in r["runs"]
            ]
    except (KeyError, TypeError, IndexError) as e:
        raise UserError(f"{path}: benchmark file is missing a field ({e})") from None
    if "lazy" not in seen or "ddim_n" not in seen:
        raise UserError(f"{path}: needs a LazyDiT and a DDIM configuration of the same step count")
    if any(i["macs_per_image"] is None for i in infos):
        raise UserError(f"{path}: a configuration has no macs_per_image; rerun the benchmark with a current app")
    device = dict(d.get("device", {}))
    device["kind"] = "ios"
    proto = d.get("protocol", {})
    return summarize(
        infos,
        runs,
        machine=device,
        options={
            "repeat": proto.get("repeat"),
            "warmup": proto.get("warmup"),
            "order": "interleaved" if proto.get("interleaved") else "sequential",
            "imported_from": IOS_FORMAT,
        },
    )
