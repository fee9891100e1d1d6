"""What several command groups share: the parser style, value types, the model and schedule arguments."""

from __future__ import annotations

import argparse
import math
import textwrap
from pathlib import Path

from lazydit.errors import UserError
from lazydit.export.names import GUIDANCE_RULES, REUSE_MODES
from lazydit.models import CHECKPOINT, EMBEDDED_STEPS


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where the usage is, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"lazydit: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Defaults shown after every help line that does not state its own; descriptions and examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def add_command(sub, name: str, summary: str, description: str, example: str) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary (in the parent's list), a description and an example."""
    return sub.add_parser(
        name,
        help=summary,
        description=f"{textwrap.fill(description, 100)}\n\nexample:\n  {example}",
        formatter_class=HelpFormatter,
    )


def int_in_range(minimum: int, maximum: int | None = None):
    """An argparse type: an integer from ``minimum`` to ``maximum`` (no upper bound when None)."""
    bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {text!r}")
        return value

    return parse


positive_int = int_in_range(1)
non_negative_int = int_in_range(0)
# Bounds a user can type anything into. Steps: DDIM respaces the 1000 training timesteps. Seeds: every port's
# generator takes a 63-bit seed (numpy's PCG64, Java's long, Swift's UInt64). Threads and images: far past any
# phone or desktop, short of exhausting memory.
step_count = int_in_range(1, 1000)
seed_value = int_in_range(0, 2**63 - 1)
thread_count = int_in_range(1, 256)
image_count = int_in_range(1, 100_000)
batch_size = int_in_range(1, 1024)


def finite_float(text: str) -> float:
    """An argparse type: a finite number (NaN and infinities are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a finite number in [0, 1]."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def comma_list(choices: tuple[str, ...]):
    """An argparse type: a comma-separated subset of ``choices``, in the order given."""

    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
        bad = [t for t in items if t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(choices)}, got {text!r}")
        return items

    return parse


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=CHECKPOINT,
        metavar="PATH",
        help="DiT weights: official .pt (state_dict or dict with 'ema'/'model'), .safetensors, or a diffusers "
        "DiT folder (DiTPipeline.save_pretrained: transformer/, vae/, model_index.json); "
        "the default is the embedded Fashion-MNIST model",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="official config name (e.g. DiT-XL/2) when the checkpoint carries no config; "
        "by default the config is read from the file or inferred from its shapes",
    )
    p.add_argument("--num-heads", type=positive_int, default=None, help="head count, for non-official hidden sizes")
    p.add_argument(
        "--guidance-rule",
        choices=GUIDANCE_RULES,
        default=None,
        help="which eps channels classifier-free guidance applies to: the first three output channels "
        "(official-3-channels, as facebookresearch/DiT samples) or every eps channel (all-channels, as diffusers); "
        "default: official-3-channels for official .pt files, else the checkpoint's (all-channels when unstated)",
    )


def load_model(args):
    """The DiT that ``--checkpoint`` / ``--model`` / ``--num-heads`` / ``--guidance-rule`` name."""
    from lazydit.export.checkpoint import load_dit
    from lazydit.export.model import config_from_name

    config = None
    if args.model:
        try:
            config = config_from_name(args.model)
        except KeyError as e:
            raise UserError(str(e).strip("'\"")) from None
    dit = load_dit(args.checkpoint, config=config, num_heads=args.num_heads)
    # Set on the model, so that sampling, calibration, gate training and the exported graphs all follow it.
    if getattr(args, "guidance_rule", None):
        dit.sampling_defaults["guidance_rule"] = args.guidance_rule
    return dit


def add_schedule_args(p: argparse.ArgumentParser, default_schedule: str = "lazydit") -> None:
    p.add_argument(
        "--schedule",
        default=default_schedule,
        metavar="SOURCE",
        help="ddim[:N], interval[:N]:K, lazydit[:N] (calibrated from the gates), embedded (the "
        "committed schedule), or a schedule .json file; @hold or @forecast may follow",
    )
    p.add_argument(
        "--steps",
        type=step_count,
        default=None,
        help=f"DDIM steps, when the schedule names none (then {EMBEDDED_STEPS})",
    )
    p.add_argument(
        "--gates",
        type=Path,
        default=None,
        metavar="FILE",
        help="gates file for lazydit (default: the embedded gates for --steps)",
    )
    p.add_argument("--laziness", type=fraction, default=0.5, help="lazydit: share of attn/MLP evaluations to skip")
    p.add_argument(
        "--max-cache-age",
        type=positive_int,
        default=1,
        help="lazydit: reuse a cached output for at most this many steps",
    )
    p.add_argument(
        "--reuse",
        choices=REUSE_MODES,
        default=None,
        help="what a skip feeds the block: the cached output (hold, the paper) or its forecast from the "
        "last two computed outputs (default: the gates' or the file's mode; interval holds)",
    )
    p.add_argument(
        "--calibration-seeds", type=positive_int, default=4, help="lazydit: seeds per class for the gate statistics"
    )
    p.add_argument(
        "--search", type=non_negative_int, default=40, help="lazydit: end-to-end evaluations of the local search"
    )


def schedule_from_args(args, dit):
    """The schedule and calibration report that ``add_schedule_args``'s arguments name."""
    from lazydit.export.schedule_source import resolve_schedule

    calibration = {
        "laziness": args.laziness,
        "max_cache_age": args.max_cache_age,
        "seeds_per_class": args.calibration_seeds,
        "search_evaluations": args.search,
    }
    return resolve_schedule(
        args.schedule, dit, steps=args.steps, reuse=args.reuse, gates=args.gates, calibration=calibration
    )
