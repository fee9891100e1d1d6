"""``lazydit tune``: the best schedule a latency budget buys, with every graph's cost measured on the target."""

from __future__ import annotations

from pathlib import Path

from .common import add_command, add_model_args, finite_float, image_count, load_model, thread_count


def cmd_tune(args) -> None:
    from lazydit.benchmarks.tune import run_tune

    res = run_tune(
        load_model(args),
        args.budget_ms,
        args.target,
        args.quick,
        args.out,
        args.bundle_dir,
        args.runner,
        args.threads,
        args.n,
        export=not args.no_export,
        force=args.force,
        tag=args.checkpoint.stem,
    )
    best, ddim = res["pick"], res["ddim_under_budget"]
    if best is None:
        print(f"no candidate under {args.budget_ms:g} ms keeps DDIM's 5th-percentile PSNR; see {args.out}/tune.json")
        return
    print(
        f"pick: {best['spec']} at {best['latency_ms']:.1f} ms: pooled PSNR {best['psnr_pooled']:.2f} dB, "
        f"5th pct {best['psnr_p5']:.2f} dB (vs {res['reference']}, {res['n']} held-out samples)"
    )
    if ddim is not None:
        print(
            f"best DDIM under the budget: {ddim['spec']} at {ddim['latency_ms']:.1f} ms: pooled PSNR "
            f"{ddim['psnr_pooled']:.2f} dB, 5th pct {ddim['psnr_p5']:.2f} dB"
        )
    if "bundle" in res:
        print(f"bundle {res['bundle']}")
    print(f"wrote {args.out}/tune.json, {args.out}/frontier.png ({res['seconds']:.0f} s)")


def register(sub) -> None:
    p = add_command(
        sub,
        "tune",
        "the best schedule a latency budget buys, measured on the target, exported as a bundle",
        "Times every kind of step graph on the target, composes each candidate schedule's latency (DDIM-N, "
        "interval:N:K holding and forecasting), scores the candidates near the budget on held-out seeds "
        "against many-step DDIM (pooled-error and 5th-percentile PSNR), writes the frontier (tune.json, "
        "frontier.png, worst.png) and exports the best schedule under the budget.",
        "lazydit tune --budget-ms 100 --target host-native --quick",
    )
    add_model_args(p)
    p.add_argument("--budget-ms", type=finite_float, required=True, help="latency budget per image, milliseconds")
    p.add_argument(
        "--target",
        choices=("host-native", "host-executorch"),
        default="host-native",
        help="where the graphs are timed: the native runner or the Python runtime on ExecuTorch, on this machine",
    )
    p.add_argument("--quick", action="store_true", help="48 samples, K in 2..3, candidates near the budget only")
    p.add_argument("--n", type=image_count, default=None, help="held-out samples per candidate (default 500, quick 48)")
    p.add_argument("--threads", type=thread_count, default=2, help="threads of the runtime being timed")
    p.add_argument(
        "--runner",
        type=Path,
        default=Path("build/native/lazydit_runner"),
        metavar="FILE",
        help="native runner binary (docs/native-runner.md)",
    )
    p.add_argument(
        "--bundle-dir", type=Path, default=Path("out/bench/bundles"), help="where the timing bundles are kept"
    )
    p.add_argument("--out", type=Path, default=Path("out/tune"), help="folder for tune.json, the plots and the bundle")
    p.add_argument("--no-export", action="store_true", help="score and report only, export no bundle")
    p.add_argument("--force", action="store_true", help="replace an existing OUT/bundle")
    p.set_defaults(func=cmd_tune)
