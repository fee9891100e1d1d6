"""The ``lazydit`` command: one subcommand per job, each with ``--help``.

Problems with the user's input end in one line on stderr (``lazydit: error: ...``) and exit status 2.
Heavy modules (torch) are imported inside the subcommands so that ``--help`` and the runtime stay light.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import defaults
from .errors import UserError


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=Path, default=defaults.DEFAULT_CHECKPOINT,
                   help="DiT weights: official .pt (state_dict or dict with 'ema'/'model') or .safetensors "
                        "(default: the embedded Fashion-MNIST model)")
    p.add_argument("--model", default=None,
                   help="official config name (e.g. DiT-XL/2) when the checkpoint carries no config; "
                        "by default the config is read from the file or inferred from its shapes")
    p.add_argument("--num-heads", type=int, default=None, help="head count, for non-official hidden sizes")


def _load_model(args):
    from .export.checkpoint import load_dit
    from .export.model import config_from_name

    config = None
    if args.model:
        try:
            config = config_from_name(args.model)
        except KeyError as e:
            raise UserError(str(e).strip("'\"")) from None
    return load_dit(args.checkpoint, config=config, num_heads=args.num_heads)


def cmd_train_dit(args) -> None:
    from .export.train_dit import PRESETS, train_dit

    if args.preset not in PRESETS:
        raise UserError(f"unknown preset {args.preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = PRESETS[args.preset]
    if args.steps:
        cfg.steps = args.steps
    if args.dataset:
        cfg.dataset = args.dataset
    out = train_dit(cfg, args.out, device=args.device, resume=not args.restart, max_minutes=args.max_minutes)
    print(f"wrote {out}")


def cmd_train_classifier(args) -> None:
    from .benchmarks.classifier import save_classifier, train_classifier
    from .export.data import load_dataset

    tr, te = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite")
    model, acc = train_classifier(tr.images, tr.labels, te.images, te.labels, epochs=args.epochs, device=args.device)
    save_classifier(model, args.out, {"dataset": args.dataset, "test_accuracy": acc, "epochs": args.epochs,
                                      "num_classes": int(tr.labels.max()) + 1, "in_channels": 1})
    print(f"test accuracy {acc:.4f}; wrote {args.out}")


def cmd_train_gates(args) -> None:
    import torch

    from .export.lazy_dit import LazyDiT
    from .export.train_gates import GateTrainingConfig, init_distributed, laziness_report, train_gates

    distributed = init_distributed()
    dit = _load_model(args)
    sd = dit.sampling_defaults
    if args.out.exists() and not args.force and not args.out.with_name(args.out.name + ".train.pt").exists():
        raise UserError(f"{args.out} exists; pass --force to overwrite")
    cfg = GateTrainingConfig(
        num_steps=args.steps, cfg_scale=args.cfg_scale if args.cfg_scale is not None else sd["cfg_scale"],
        clip_denoised=sd["clip_denoised"], iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
        rho=args.rho, target_laziness=args.target_laziness, max_cache_age=args.max_cache_age,
        pool_size=args.pool_size, seed=args.seed, data_free=args.dataset is None,
    )
    data = None
    if args.dataset:
        from .export.data import load_dataset

        ds = load_dataset(args.dataset, "train")
        data = (torch.from_numpy(ds.images), torch.from_numpy(ds.labels))
    gates, meta, report = train_gates(dit, cfg, args.out, data=data, resume=not args.restart)
    rank = torch.distributed.get_rank() if distributed else 0
    if rank == 0:
        per_step = laziness_report(LazyDiT(dit, gates, cfg.max_cache_age), cfg.num_steps, cfg.cfg_scale,
                                   cfg.clip_denoised)
        print("per-step laziness (dynamic gates, 32 samples):")
        print("  " + " ".join(f"{v:.2f}" for v in per_step.tolist()))
        print(f"overall laziness {per_step.mean().item():.3f}; final rho {report['final_rho']:.3g}; wrote {args.out}")
    if distributed:
        torch.distributed.destroy_process_group()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lazydit", description="LazyDiT from a checkpoint to a phone.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("train-dit", help="train a small pixel-space DiT from scratch (named presets)")
    p.add_argument("--preset", default="fashion-dit-s4", help="fashion-dit-s4 (the embedded model), "
                   "fashion-dit-cpu, mnist-dit-cpu, smoke")
    p.add_argument("--out", type=Path, default=Path("runs/fashion-dit-s4"), help="run folder (resumes if it holds a checkpoint)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    p.add_argument("--dataset", default=None, help="override the preset's dataset (fashion-mnist, mnist)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.set_defaults(func=cmd_train_dit)

    p = sub.add_parser("train-classifier", help="train the small classifier used by the fast FID and accuracy")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--out", type=Path, default=defaults.DEFAULT_CLASSIFIER)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--device", default="cpu")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_train_classifier)

    p = sub.add_parser("train-gates", help="train lazy gates on a frozen DiT (data-free by default; torchrun for DDP)")
    _add_model_args(p)
    p.add_argument("--steps", type=int, default=defaults.DEFAULT_STEPS, help="DDIM sampling steps the gates are for")
    p.add_argument("--out", type=Path, default=None, help="gates file (.safetensors)")
    p.add_argument("--iterations", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over torchrun processes)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--rho", type=float, default=1e-4, help="laziness penalty weight (initial value with --target-laziness)")
    p.add_argument("--target-laziness", type=float, default=None,
                   help="adapt rho during training until this share of modules is lazy (e.g. 0.5)")
    p.add_argument("--max-cache-age", type=int, default=1, help="a cached output is reused for at most this many steps")
    p.add_argument("--cfg-scale", type=float, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--pool-size", type=int, default=256, help="training states sampled from the model (data-free)")
    p.add_argument("--dataset", default=None, help="train on diffused real data instead (fashion-mnist, mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restart", action="store_true", help="ignore a saved training state")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_train_gates)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "train-gates" and args.out is None:
        args.out = defaults.default_gates(args.steps)
    try:
        args.func(args)
    except UserError as e:
        print(f"lazydit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lazydit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
