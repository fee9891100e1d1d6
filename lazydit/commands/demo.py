"""``lazydit demo``: the embedded model from checkpoint to images and latency, in one command."""

from __future__ import annotations

from .common import add_command, positive_int


def cmd_demo(args) -> None:
    if args.latent:
        from lazydit.demo import run_latent_demo

        run_latent_demo(force=args.force)
        return
    from lazydit.demo import run_demo

    run_demo(repeat=args.repeat, force=args.force)


def register(sub) -> None:
    p = add_command(
        sub,
        "demo",
        "export the embedded model, generate images on ExecuTorch, compare with DDIM",
        "Exports the embedded Fashion-MNIST LazyDiT (20 steps, 50% lazy, forecasting) and DDIM-20 "
        "and DDIM-10 as ExecuTorch bundles under out/demo (reused while they match), generates one "
        "image per class with each, writes out/demo/samples.png and prints their latencies.",
        "lazydit demo --repeat 5",
    )
    p.add_argument("--repeat", type=positive_int, default=5, help="timed runs per configuration")
    p.add_argument("--force", action="store_true", help="re-export the demo bundles")
    p.add_argument(
        "--latent",
        action="store_true",
        help="instead: the latent path (a DiT-S/2 on 8x8x4 latents and an SD-VAE-shaped decoder, random "
        "weights) exported with its decode graph and run on ExecuTorch into out/demo/latent",
    )
    p.set_defaults(func=cmd_demo)
