"""``lazydit sample``: images from a bundle with the step scheduler (the runtime half; torch only for ``torch``)."""

from __future__ import annotations

from pathlib import Path

from lazydit.errors import UserError
from lazydit.runtime.backends import BACKENDS

from .common import add_command, image_count, non_negative_int, seed_value, thread_count


def _classes(args, count: int) -> list[int]:
    if args.classes:
        try:
            given = [int(c) for c in args.classes.split(",")]
        except ValueError:
            raise UserError(f"--classes must be comma-separated integers, got {args.classes!r}") from None
    elif args.class_ is not None:
        given = [args.class_]
    else:
        given = list(range(count))
    bad = [c for c in given if not 0 <= c < count]
    if bad:
        raise UserError(f"class {bad[0]} is not in the bundle's 0..{count - 1}; choose classes in that range")
    return given


def cmd_sample(args) -> None:
    import numpy as np

    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.images import save_png_grid
    from lazydit.runtime.scheduler import Scheduler

    if args.out.is_dir():
        raise UserError(f"--out {args.out} is a folder; name the PNG file to write")
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite it")
    if args.backend == "torch":
        import lazydit.export.reference_backend  # noqa: F401  (registers the torch backend)
    bundle = load_bundle(args.bundle)
    backend = create_backend(args.backend, bundle, threads=args.threads)
    sched = Scheduler(bundle, backend)
    given = _classes(args, bundle.manifest["classes"]["count"])
    classes = [given[i % len(given)] for i in range(args.n)]
    images, totals, steps = [], [], []
    b = bundle.manifest["batch"]
    for i in range(0, args.n, b):
        cls = [classes[(i + j) % len(classes)] for j in range(b)]
        res = sched.run(cls, seed=args.seed + i)
        images.append(res.image)
        totals.append(res.total_ms)
        steps.append(res.step_ms)
    imgs = np.concatenate(images)[: args.n]
    save_png_grid(imgs, args.out, ncol=min(args.n, 10))
    st = np.array(steps)
    print(
        f"{args.backend}: {len(totals)} run(s), total {np.median(totals):.1f} ms median "
        f"({np.median(st, axis=0).sum():.1f} ms over {st.shape[1]} steps), per step median "
        f"{np.median(st):.2f} ms; variants: {' '.join(res.variants)}"
    )
    print(f"wrote {args.out}")


def register(sub) -> None:
    p = add_command(
        sub,
        "sample",
        "generate images from a bundle with the step scheduler",
        "Runs a bundle's step graphs with the step scheduler (each step's graph fed the cached "
        "activations) and writes the images as one PNG grid; prints the latency per run and step.",
        "lazydit sample --bundle out/bundle --backend executorch --classes 0,7 --n 4 --out out/s.png",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        default=Path("out/bundle"),
        metavar="DIR",
        help="bundle folder, as `lazydit export` writes it",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="executorch",
        help="runtime that runs the graphs (torch: the eager reference, needs the export half)",
    )
    p.add_argument(
        "--class", dest="class_", metavar="CLASS", type=non_negative_int, default=None, help="class of every image"
    )
    p.add_argument(
        "--classes",
        default=None,
        metavar="LIST",
        help="comma-separated classes, cycled over the images (default: every class in turn)",
    )
    p.add_argument("--seed", type=seed_value, default=0, help="image i uses seed SEED+i")
    p.add_argument("--n", type=image_count, default=10, help="number of images")
    p.add_argument("--threads", type=thread_count, default=None, help="threads of the backend (default: its own)")
    p.add_argument("--out", type=Path, default=Path("out/samples.png"), help="PNG grid of the images")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_sample)
