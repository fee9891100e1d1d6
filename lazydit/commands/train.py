"""``lazydit train-dit``, ``train-classifier``, ``train-gates``: the models the rest of the pipeline starts from."""

from __future__ import annotations

from pathlib import Path

from lazydit.errors import UserError
from lazydit.export.names import DATASETS, REUSE_MODES, TRAIN_PRESETS
from lazydit.models import CLASSIFIER, EMBEDDED_STEPS

from .common import (
    add_command,
    add_model_args,
    batch_size,
    finite_float,
    fraction,
    load_model,
    positive_int,
    seed_value,
    step_count,
)

DEVICES = ("cpu", "cuda")


def cmd_train_dit(args) -> None:
    from dataclasses import replace

    from lazydit.export.train_dit import PRESETS as presets
    from lazydit.export.train_dit import train_dit

    cfg = presets[args.preset]
    if args.steps:
        cfg = replace(cfg, steps=args.steps)
    if args.dataset:
        cfg = replace(cfg, dataset=args.dataset)
    out = train_dit(cfg, args.out, device=args.device, resume=not args.restart, max_minutes=args.max_minutes)
    print(f"wrote {out}")


def cmd_train_classifier(args) -> None:
    from lazydit.benchmarks.classifier import save_classifier, train_classifier
    from lazydit.export.data import load_dataset

    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite")
    tr, te = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    model, acc = train_classifier(tr.images, tr.labels, te.images, te.labels, epochs=args.epochs, device=args.device)
    save_classifier(
        model,
        args.out,
        {
            "dataset": args.dataset,
            "test_accuracy": acc,
            "epochs": args.epochs,
            "num_classes": int(tr.labels.max()) + 1,
            "in_channels": 1,
        },
    )
    print(f"test accuracy {acc:.4f}; wrote {args.out}")


def cmd_train_gates(args) -> None:
    import torch

    from lazydit.export.lazy_dit import LazyDiT
    from lazydit.export.train_gates import GateTrainingConfig, init_distributed, laziness_report, train_gates

    out = args.out or Path(f"out/gates/{args.checkpoint.stem}.gates-{args.steps}.safetensors")
    distributed = init_distributed()
    dit = load_model(args)
    sd = dit.sampling_defaults
    if out.exists() and not args.force and not out.with_name(out.name + ".train.pt").exists():
        raise UserError(f"{out} exists; pass --force to overwrite")
    cfg = GateTrainingConfig(
        num_steps=args.steps,
        cfg_scale=args.cfg_scale if args.cfg_scale is not None else sd["cfg_scale"],
        clip_denoised=sd["clip_denoised"],
        iterations=args.iterations,
        batch_size=args.batch_size,
        lr=args.lr,
        rho=args.rho,
        target_laziness=args.target_laziness,
        max_cache_age=args.max_cache_age,
        reuse=args.reuse,
        pool_size=args.pool_size,
        seed=args.seed,
        data_free=args.dataset is None,
    )
    data = None
    if args.dataset:
        from lazydit.export.data import load_dataset

        ds = load_dataset(args.dataset, "train")
        data = (torch.from_numpy(ds.images), torch.from_numpy(ds.labels))
    gates, meta, report = train_gates(dit, cfg, out, data=data, resume=not args.restart)
    rank = torch.distributed.get_rank() if distributed else 0
    if rank == 0:
        per_step = laziness_report(
            LazyDiT(dit, gates, cfg.max_cache_age, cfg.reuse), cfg.num_steps, cfg.cfg_scale, cfg.clip_denoised
        )
        print("per-step laziness (dynamic gates, 32 samples):")
        print("  " + " ".join(f"{v:.2f}" for v in per_step.tolist()))
        print(f"overall laziness {per_step.mean().item():.3f}; final rho {report['final_rho']:.3g}; wrote {out}")
    if distributed:
        torch.distributed.destroy_process_group()


def register(sub) -> None:
    p = add_command(
        sub,
        "train-dit",
        "train a small pixel-space DiT from scratch (named presets)",
        "Trains a pixel-space DiT on Fashion-MNIST or MNIST from a named preset; resumes from a "
        "checkpoint in --out and writes the EMA weights as safetensors with their config.",
        "lazydit train-dit --preset smoke --out runs/smoke",
    )
    p.add_argument(
        "--preset", choices=TRAIN_PRESETS, default="fashion-dit-s4", help="fashion-dit-s4 is the embedded model"
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/fashion-dit-s4"), help="run folder (resumes if it holds a checkpoint)"
    )
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where to train")
    p.add_argument("--steps", type=positive_int, default=None, help="training steps instead of the preset's")
    p.add_argument("--dataset", choices=DATASETS, default=None, help="data set instead of the preset's")
    p.add_argument("--max-minutes", type=finite_float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.set_defaults(func=cmd_train_dit)

    p = add_command(
        sub,
        "train-classifier",
        "train the small classifier of the fast FID and the accuracy",
        "Trains the small CNN whose features give `lazydit eval` its classifier FID and class accuracy.",
        "lazydit train-classifier --out out/classifier.safetensors",
    )
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist", help="training data")
    p.add_argument("--out", type=Path, default=CLASSIFIER, help="classifier file (.safetensors)")
    p.add_argument("--epochs", type=positive_int, default=6, help="passes over the training split")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where to train")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_train_classifier)

    p = add_command(
        sub,
        "train-gates",
        "train lazy gates on a frozen DiT (data-free by default; torchrun for DDP)",
        "Trains one lazy gate per (step, block, module) on a frozen DiT, with the LazyDiT loss "
        "(output error plus rho times the share of modules computed); data-free by default, on "
        "diffused real data with --dataset. Resumes a saved training state beside --out.",
        "lazydit train-gates --steps 20 --target-laziness 0.5 --out out/gates-20.safetensors",
    )
    add_model_args(p)
    p.add_argument("--steps", type=step_count, default=EMBEDDED_STEPS, help="DDIM sampling steps the gates are for")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="gates file (.safetensors); default out/gates/CHECKPOINT.gates-STEPS.safetensors",
    )
    p.add_argument("--iterations", type=positive_int, default=500, help="optimizer steps")
    p.add_argument("--batch-size", type=batch_size, default=64, help="global batch (split over torchrun processes)")
    p.add_argument("--lr", type=finite_float, default=1e-3, help="Adam learning rate")
    p.add_argument(
        "--rho", type=finite_float, default=1e-4, help="laziness penalty weight (initial value with --target-laziness)"
    )
    p.add_argument(
        "--target-laziness",
        type=fraction,
        default=None,
        help="adapt rho during training until this share of modules is lazy (e.g. 0.5)",
    )
    p.add_argument(
        "--max-cache-age", type=positive_int, default=1, help="a cached output is reused for at most this many steps"
    )
    p.add_argument(
        "--reuse",
        choices=REUSE_MODES,
        default="forecast",
        help="what a skip feeds the block: the first-order forecast from the last two computed outputs "
        "or the cached output as it is (hold, the paper)",
    )
    p.add_argument("--cfg-scale", type=finite_float, default=None, help="guidance scale (default: the model's)")
    p.add_argument(
        "--pool-size", type=positive_int, default=256, help="training states sampled from the model (data-free)"
    )
    p.add_argument("--dataset", choices=DATASETS, default=None, help="train on diffused real data instead")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed")
    p.add_argument("--restart", action="store_true", help="ignore a saved training state")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_train_gates)
