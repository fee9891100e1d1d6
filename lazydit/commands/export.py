"""``lazydit calibrate`` and ``lazydit export``: from a checkpoint (and gates) to a schedule and a bundle."""

from __future__ import annotations

from pathlib import Path

from lazydit.errors import UserError
from lazydit.export.names import DTYPES, TARGETS

from .common import (
    add_command,
    add_model_args,
    add_schedule_args,
    batch_size,
    comma_list,
    finite_float,
    load_model,
    schedule_from_args,
)


def cmd_calibrate(args) -> None:
    import numpy as np

    from lazydit.export.calibrate import draw_heatmap

    dit = load_model(args)
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite")
    sched, report = schedule_from_args(args, dit)
    cfg_scale = dit.sampling_defaults["cfg_scale"]
    sched.save(args.out, dit.config, cfg_scale)
    png = args.out.with_suffix(".png")
    scores = np.array(report["gate_keep_scores"]) if report else None
    draw_heatmap(sched, png, scores)
    macs = sched.macs_per_image(dit.config, cfg_scale)
    print(
        f"{sched.source}: {sched.num_steps} steps, laziness {sched.laziness():.3f}, "
        f"MACs {macs['ratio']:.3f} of dense"
        + (f", held-out PSNR {report['heldout_psnr']:.2f} dB" if report and "heldout_psnr" in report else "")
        + (f" (from {report['best_candidate']})" if report else "")
    )
    print(f"wrote {args.out} and {png}")


def cmd_export(args) -> None:
    from lazydit.export.bundle import ExportOptions, check_output_folder, export_bundle

    dit = load_model(args)
    check_output_folder(args.out, args.force)
    sched, report = schedule_from_args(args, dit)
    sd = dit.sampling_defaults
    opts = ExportOptions(
        targets=args.targets,
        dtype=args.dtype,
        batch=args.batch,
        cfg_scale=sd["cfg_scale"] if args.cfg_scale is None else args.cfg_scale,
        clip_denoised=sd["clip_denoised"],
        coreml_palettize_bits=args.palettize,
        quantize=args.quantize,
        # A diffusers folder brings its own VAE; --vae names another.
        vae=args.vae if args.vae is not None else dit.vae_folder,
        force=args.force,
        verify=not args.no_verify,
        name=args.out.name,
    )
    scores = report["gate_keep_scores"] if report is not None else None
    manifest = export_bundle(dit, sched, args.out, opts, keep_scores=scores)
    print(
        f"bundle {args.out}: {len(manifest['variants'])} graph variant(s) for {sched.num_steps} steps, "
        f"laziness {sched.laziness():.2f}, MACs {manifest['macs']['ratio']:.3f} of dense"
    )
    for target, t in manifest["targets"].items():
        print(f"  {target:10s} {t['bytes'] / 1e6:8.2f} MB  ({t['export_seconds']:.1f} s)")


def register(sub) -> None:
    p = add_command(
        sub,
        "calibrate",
        "turn trained gates (or ddim / interval:K) into a static skip schedule",
        "Writes a static skip schedule (one skip mask per step) and its heat map beside it. With "
        "lazydit, the gates' keep scores are averaged over a calibration set and the candidates "
        "that meet --laziness are scored end to end on held-out seeds.",
        "lazydit calibrate --steps 20 --laziness 0.5 --out out/schedule-20.json",
    )
    add_model_args(p)
    add_schedule_args(p)
    p.add_argument(
        "--out", type=Path, default=Path("out/schedule.json"), help="schedule file; the heat map goes beside it"
    )
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_calibrate)

    p = add_command(
        sub,
        "export",
        "export a bundle: one static graph per step pattern for each target",
        "Exports a bundle: one static graph per distinct step pattern of the schedule for "
        "ExecuTorch, Core ML and ONNX, weights stored once, the manifest, the schedule and its heat "
        "map, and a golden trace; each graph is checked against eager PyTorch unless --no-verify.",
        "lazydit export --schedule embedded --targets executorch --out out/bundle",
    )
    add_model_args(p)
    add_schedule_args(p)
    p.add_argument(
        "--targets",
        type=comma_list(TARGETS),
        default="executorch,coreml,onnx",
        help=f"comma-separated: {', '.join(TARGETS)}",
    )
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="graph dtype (Core ML graphs are float16)")
    p.add_argument("--batch", type=batch_size, default=1, help="images per run baked into the graphs")
    p.add_argument(
        "--vae",
        type=Path,
        default=None,
        metavar="DIR",
        help="latent models: local AutoencoderKL folder; adds the `decode` graph to every target "
        "(default: the vae/ of a diffusers --checkpoint folder, else none)",
    )
    p.add_argument("--cfg-scale", type=finite_float, default=None, help="guidance scale (default: the model's)")
    p.add_argument(
        "--palettize", type=int, default=None, choices=[2, 4, 6, 8], help="Core ML weight palettization bits"
    )
    p.add_argument(
        "--quantize",
        default=None,
        choices=["int8"],
        help="ExecuTorch: int8 weights with dynamically quantized activations (XNNPACK)",
    )
    p.add_argument("--out", type=Path, default=Path("out/bundle"), help="bundle folder (written atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--no-verify", action="store_true", help="skip the parity checks against eager PyTorch")
    p.set_defaults(func=cmd_export)
