"""``lazydit eval``: image quality of sampling configurations (FIDs, accuracy, paired PSNR/SSIM)."""

from __future__ import annotations

from pathlib import Path

from lazydit.export.names import DATASETS
from lazydit.models import CLASSIFIER

from .common import add_command, add_model_args, batch_size, image_count, positive_int, seed_value


def cmd_eval(args) -> None:
    from lazydit.benchmarks.evaluate import evaluate, markdown_table

    from .common import load_model

    model = load_model(args)
    specs = [s.strip() for s in args.configs.split(",") if s.strip()]
    results = evaluate(
        model,
        specs,
        args.n,
        seed=args.seed,
        reference_steps=args.reference_steps,
        classifier_path=args.classifier,
        dataset=args.dataset,
        inception=not args.no_inception,
        n_boot=args.bootstrap,
        out_dir=args.out,
        batch_size=args.batch_size,
        paired_n=args.paired_n,
        inception_real_n=args.inception_real_n,
    )
    print(markdown_table(results))
    if args.out:
        print(f"wrote {args.out / 'eval.json'} and {args.out / 'samples.png'}")


def register(sub) -> None:
    p = add_command(
        sub,
        "eval",
        "image quality of sampling configurations: FIDs, accuracy, paired PSNR/SSIM",
        "Samples N images per configuration (balanced over classes, sample i with seed SEED+i) in "
        "eager PyTorch and reports Inception FID and classifier FID with bootstrap stds, the class "
        "accuracy, and PSNR/SSIM against dense DDIM from the same noise. Samples are cached and a "
        "larger run extends a smaller one.",
        "lazydit eval --configs ddim:10,lazy:20,interval:20:2@forecast --n 500 --no-inception",
    )
    add_model_args(p)
    p.add_argument(
        "--configs",
        default="ddim:10,ddim:20,ddim:50,lazy:20",
        metavar="LIST",
        help="comma-separated schedule sources: ddim:N, lazy:N[:GATES], interval:N:K, lazydit:N, "
        "schedule:PATH, embedded; each optionally @hold or @forecast",
    )
    p.add_argument("--n", type=image_count, default=1000, help="samples per configuration (balanced over classes)")
    p.add_argument("--seed", type=seed_value, default=0, help="sample i uses noise seed SEED+i")
    p.add_argument("--reference-steps", type=positive_int, default=50, help="dense DDIM steps of the paired reference")
    p.add_argument(
        "--paired-n", type=image_count, default=None, help="samples in the PSNR/SSIM comparison (default: --n)"
    )
    p.add_argument(
        "--classifier",
        type=Path,
        default=CLASSIFIER,
        metavar="FILE",
        help="classifier of the fast FID and the accuracy (`lazydit train-classifier`)",
    )
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist", help="real images of the FIDs")
    p.add_argument("--no-inception", action="store_true", help="skip the (slow) Inception FID")
    p.add_argument(
        "--inception-real-n",
        type=positive_int,
        default=None,
        help="Inception FID against this many test images (a fixed random subset; default: all)",
    )
    p.add_argument("--bootstrap", type=positive_int, default=10, help="bootstrap replicates for the FID std")
    p.add_argument("--batch-size", type=batch_size, default=200, help="images sampled per forward batch")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="folder for eval.json and samples.png")
    p.set_defaults(func=cmd_eval)
