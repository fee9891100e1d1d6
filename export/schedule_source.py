"""The one grammar for naming a sampling schedule, shared by every command, the demo, eval and the benchmarks.

A source is written ``BODY[@REUSE]``:

* ``ddim`` or ``ddim:N``: dense DDIM;
* ``interval:K`` or ``interval:N:K``: recompute every module every K steps, reuse in between (FORA-style);
* ``lazydit`` or ``lazydit:N``: a static schedule calibrated from trained gates (``--gates``, or the embedded
  model's gates for N steps);
* ``lazy:N`` or ``lazy:N:GATES``: the trained gates themselves, deciding per sample (``lazydit eval`` only: a
  dynamic decision is no static graph);
* ``schedule:PATH`` or just ``PATH`` (a ``.json`` file): a schedule file from ``lazydit calibrate``;
* ``embedded``: the committed calibrated schedule of the embedded model.

``@hold`` or ``@forecast`` overrides what a skip feeds the block (default: the gates' or the file's own mode;
``interval`` holds). N, when the source names none, comes from the caller (``--steps``); when both name it
they must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lazydit.errors import UserError
from lazydit.models import EMBEDDED_STEPS, embedded_gates, embedded_schedule

from .diffusion import ddim_timesteps
from .model import DiT
from .names import REUSE_MODES
from .schedule import Schedule, dense_schedule, interval_schedule, load_schedule

KINDS = ("ddim", "interval", "lazydit", "lazy", "schedule", "embedded")
GRAMMAR = "ddim[:N], interval[:N]:K, lazydit[:N], lazy:N[:GATES], embedded, or a schedule .json file"


@dataclass(frozen=True)
class ScheduleSource:
    """A parsed schedule source; :func:`resolve_schedule` turns it into a :class:`Schedule`."""

    text: str
    kind: str
    steps: int | None = None
    every: int | None = None
    path: Path | None = None
    reuse: str | None = None

    @property
    def is_dynamic(self) -> bool:
        """Gates deciding per sample (``lazy:N``) rather than a static schedule."""
        return self.kind == "lazy"


def _int(text: str, what: str, spec: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"schedule {spec!r}: {what} must be a positive integer, got {text!r}; write {GRAMMAR}")
    return value


def parse_schedule_source(spec: str) -> ScheduleSource:
    """Parse ``spec`` (see the module docstring); one-line errors name the grammar."""
    spec = spec.strip()
    body, reuse = spec, None
    for mode in REUSE_MODES:
        if spec.endswith("@" + mode):
            body, reuse = spec[: -len(mode) - 1], mode
    kind, _, rest = body.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "ddim" and len(parts) <= 1:
        if reuse:
            raise UserError(f"schedule {spec!r}: dense DDIM skips nothing, so @{reuse} means nothing; drop it")
        return ScheduleSource(spec, "ddim", steps=_int(parts[0], "N", spec) if parts else None)
    if kind == "interval" and len(parts) in (1, 2):
        steps = _int(parts[0], "N", spec) if len(parts) == 2 else None
        return ScheduleSource(spec, "interval", steps=steps, every=_int(parts[-1], "K", spec), reuse=reuse)
    if kind == "lazydit" and len(parts) <= 1:
        return ScheduleSource(spec, "lazydit", steps=_int(parts[0], "N", spec) if parts else None, reuse=reuse)
    if kind == "lazy" and parts:
        n, _, gates = rest.partition(":")
        return ScheduleSource(spec, "lazy", steps=_int(n, "N", spec), path=Path(gates) if gates else None, reuse=reuse)
    if kind == "embedded" and not parts:
        return ScheduleSource(spec, "embedded", reuse=reuse)
    if kind == "schedule" and rest:
        return ScheduleSource(spec, "schedule", path=Path(rest), reuse=reuse)
    if body.endswith(".json") or (body and Path(body).is_file()):
        return ScheduleSource(spec, "schedule", path=Path(body), reuse=reuse)
    raise UserError(f"unknown schedule {spec!r}; write {GRAMMAR}, optionally followed by @hold or @forecast")


def _steps(source: ScheduleSource, steps: int | None) -> int:
    if source.steps is not None and steps is not None and source.steps != steps:
        raise UserError(f"schedule {source.text!r} has {source.steps} steps, --steps says {steps}; drop one")
    n = source.steps or steps or EMBEDDED_STEPS
    try:
        ddim_timesteps(n)
    except ValueError as e:
        raise UserError(f"schedule {source.text!r} with {n} steps: {e}") from None
    return n


def gates_path(source: ScheduleSource, steps: int, gates: Path | None = None) -> Path:
    """The gates file of a ``lazydit``/``lazy`` source: named in it, given (``--gates``), or the embedded ones."""
    return source.path or gates or embedded_gates(steps)


def resolve_schedule(
    source: ScheduleSource | str,
    dit: DiT,
    steps: int | None = None,
    reuse: str | None = None,
    gates: Path | None = None,
    calibration: dict | None = None,
    progress: bool = True,
) -> tuple[Schedule, dict | None]:
    """The static schedule ``source`` names for ``dit``, and the calibration report when one was calibrated.

    ``steps`` and ``reuse`` are the caller's explicit choices (``--steps``/``--reuse``), None when not given;
    ``calibration`` holds :class:`~lazydit.export.calibrate.CalibrationConfig` fields for ``lazydit``.
    """
    src = parse_schedule_source(source) if isinstance(source, str) else source
    if reuse is not None and src.reuse is not None and reuse != src.reuse:
        raise UserError(f"schedule {src.text!r} says @{src.reuse}, --reuse says {reuse}; drop one")
    reuse = src.reuse or reuse
    report = None
    if src.kind == "lazy":
        raise UserError(
            f"{src.text!r} names gates deciding per sample, which no static graph can bake in; "
            f"calibrate a static schedule from them with lazydit:{src.steps}"
        )
    if src.kind == "ddim":
        sched = dense_schedule(_steps(src, steps), dit.config.depth)
    elif src.kind == "interval":
        sched = interval_schedule(_steps(src, steps), dit.config.depth, src.every)
    elif src.kind in ("schedule", "embedded"):
        path = src.path if src.kind == "schedule" else embedded_schedule(_steps(src, steps))
        if src.kind == "embedded" and not path.is_file():
            raise UserError(
                f"the embedded model has no committed schedule for {_steps(src, steps)} steps; "
                f"use --steps {EMBEDDED_STEPS} or interval:K"
            )
        sched = load_schedule(path)
        sched.check_model(dit.config, path)
        if steps is not None and steps != sched.num_steps:
            raise UserError(f"{path}: schedule has {sched.num_steps} steps, --steps says {steps}; drop --steps")
    else:  # lazydit: calibrate from gates
        from .calibrate import CalibrationConfig, calibrate
        from .checkpoint import fingerprint
        from .gates import check_gates_match, load_gates
        from .lazy_dit import LazyDiT

        n = _steps(src, steps)
        path = gates_path(src, n, gates)
        lazy_gates, meta = load_gates(path)
        check_gates_match(meta, dit.config, fingerprint(dit), n, path)
        sd = dit.sampling_defaults
        cfg = CalibrationConfig(
            num_steps=n, cfg_scale=sd["cfg_scale"], clip_denoised=sd["clip_denoised"], **(calibration or {})
        )
        sched, report = calibrate(
            LazyDiT(dit, lazy_gates, cfg.max_cache_age, reuse or meta.reuse), cfg, progress=progress
        )
    if reuse is not None and reuse != sched.reuse:
        sched = replace(sched, reuse=reuse)
    sched.validate(src.text)
    return sched, report


def default_lazy_source(dit: DiT, steps: int) -> str:
    """The lazy schedule a benchmark uses when none is named: the committed calibrated one for the embedded
    model at its step count, else ``interval:2`` (the only 50% pattern whose caches are one step old)."""
    from lazydit.models import CHECKPOINT

    from .checkpoint import is_same_model

    if embedded_schedule(steps).is_file() and is_same_model(dit, CHECKPOINT):
        return "embedded"
    return "interval:2"
