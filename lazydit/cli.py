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
        rho=args.rho, target_laziness=args.target_laziness, max_cache_age=args.max_cache_age, reuse=args.reuse,
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
        per_step = laziness_report(LazyDiT(dit, gates, cfg.max_cache_age, cfg.reuse), cfg.num_steps, cfg.cfg_scale,
                                   cfg.clip_denoised)
        print("per-step laziness (dynamic gates, 32 samples):")
        print("  " + " ".join(f"{v:.2f}" for v in per_step.tolist()))
        print(f"overall laziness {per_step.mean().item():.3f}; final rho {report['final_rho']:.3g}; wrote {args.out}")
    if distributed:
        torch.distributed.destroy_process_group()


def cmd_eval(args) -> None:
    from .benchmarks.evaluate import evaluate, markdown_table

    model = _load_model(args)
    specs = [s.strip() for s in args.configs.split(",") if s.strip()]
    results = evaluate(model, specs, args.n, seed=args.seed, reference_steps=args.reference_steps,
                       classifier_path=args.classifier, dataset=args.dataset, inception=not args.no_inception,
                       n_boot=args.bootstrap, out_dir=args.out, batch_size=args.batch_size, paired_n=args.paired_n,
                       inception_real_n=args.inception_real_n)
    print(markdown_table(results))
    if args.out:
        print(f"wrote {args.out / 'eval.json'} and {args.out / 'samples.png'}")


def _load_gates_for(args, dit, steps: int):
    from .export.checkpoint import fingerprint
    from .export.gates import check_gates_match, load_gates

    path = args.gates or defaults.default_gates(steps)
    gates, meta = load_gates(path)
    check_gates_match(meta, dit.config, fingerprint(dit), steps, path)
    return gates, meta


def make_schedule(args, dit):
    """The schedule named by --schedule: a file, ``lazydit`` (calibrated from gates), ``ddim`` or ``interval:K``."""
    from .export.schedule import load_schedule, schedule_from_source

    src = args.schedule
    if src.endswith(".json") or Path(src).is_file():
        sched = load_schedule(Path(src))
        sched.check_model(dit.config, src)
        if args.steps and args.steps != sched.num_steps and args.steps_given:
            raise UserError(f"{src}: schedule has {sched.num_steps} steps, --steps says {args.steps}")
        if args.reuse and args.reuse != sched.reuse:
            raise UserError(f"{src}: schedule reuses by {sched.reuse}, --reuse says {args.reuse}; "
                            "drop --reuse or calibrate a schedule for it")
        return sched, None
    if src == "lazydit":
        from .export.calibrate import CalibrationConfig, calibrate
        from .export.lazy_dit import LazyDiT

        gates, meta = _load_gates_for(args, dit, args.steps)
        sd = dit.sampling_defaults
        cfg = CalibrationConfig(num_steps=args.steps, laziness=args.laziness, max_cache_age=args.max_cache_age,
                                cfg_scale=sd["cfg_scale"], clip_denoised=sd["clip_denoised"],
                                seeds_per_class=args.calibration_seeds, search_evaluations=args.search)
        return calibrate(LazyDiT(dit, gates, args.max_cache_age, args.reuse or meta.reuse), cfg)
    sched = schedule_from_source(src, dit.config, args.steps)
    sched.reuse = args.reuse or "hold"
    return sched, None


def cmd_calibrate(args) -> None:
    import numpy as np

    from .export.calibrate import draw_heatmap

    dit = _load_model(args)
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite")
    sched, report = make_schedule(args, dit)
    cfg_scale = dit.sampling_defaults["cfg_scale"]
    sched.save(args.out, dit.config, cfg_scale)
    png = args.out.with_suffix(".png")
    scores = np.array(report["gate_keep_scores"]) if report else None
    draw_heatmap(sched, png, scores)
    macs = sched.macs_per_image(dit.config, cfg_scale)
    print(f"{sched.source}: {sched.num_steps} steps, laziness {sched.laziness():.3f}, "
          f"MACs {macs['ratio']:.3f} of dense" + (f", held-out PSNR {report['heldout_psnr']:.2f} dB"
                                                   if report and "heldout_psnr" in report else "")
          + (f" (from {report['best_candidate']})" if report else ""))
    print(f"wrote {args.out} and {png}")


def _add_schedule_args(p: argparse.ArgumentParser, default_schedule: str = "lazydit") -> None:
    p.add_argument("--gates", type=Path, default=None, help="gates file (default: the embedded gates for --steps)")
    p.add_argument("--steps", type=int, default=None, help=f"DDIM steps (default {defaults.DEFAULT_STEPS})")
    p.add_argument("--schedule", default=default_schedule,
                   help="lazydit (calibrate from the gates), ddim (dense), interval:K, or a schedule .json file")
    p.add_argument("--laziness", type=float, default=0.5, help="share of attn/MLP module evaluations to skip")
    p.add_argument("--max-cache-age", type=int, default=1, help="reuse a cached output for at most this many steps")
    p.add_argument("--reuse", choices=defaults.REUSE_MODES, default=None,
                   help="what a skip feeds the block: the cached output (hold, the paper) or its forecast from the last "
                        "two computed outputs (default: the gates' mode for lazydit, hold for interval:K)")
    p.add_argument("--calibration-seeds", type=int, default=4, help="seeds per class for the gate statistics")
    p.add_argument("--search", type=int, default=40, help="end-to-end evaluations of the local search")


def cmd_export(args) -> None:
    from .export.bundle import ExportOptions, check_output_folder, export_bundle
    from .export.calibrate import draw_heatmap

    dit = _load_model(args)
    check_output_folder(args.out, args.force)
    sched, report = make_schedule(args, dit)
    sd = dit.sampling_defaults
    names = None
    if dit.config.num_classes == 10 and args.checkpoint == defaults.DEFAULT_CHECKPOINT:
        from .export.data import FASHION_CLASSES

        names = FASHION_CLASSES
    opts = ExportOptions(targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()), dtype=args.dtype,
                         batch=args.batch, cfg_scale=sd["cfg_scale"] if args.cfg_scale is None else args.cfg_scale,
                         clip_denoised=sd["clip_denoised"], class_names=names,
                         coreml_palettize_bits=args.palettize, quantize=args.quantize, vae=args.vae, force=args.force,
                         verify=not args.no_verify,
                         name=args.out.name)
    heat = None
    if report is not None:
        import tempfile

        import numpy as np

        heat = Path(tempfile.mkdtemp()) / "schedule.png"
        draw_heatmap(sched, heat, np.array(report["gate_keep_scores"]))
    manifest = export_bundle(dit, sched, args.out, opts, heatmap=heat)
    print(f"bundle {args.out}: {len(manifest['variants'])} graph variant(s) for {sched.num_steps} steps, "
          f"laziness {sched.laziness():.2f}, MACs {manifest['macs']['ratio']:.3f} of dense")
    for target, t in manifest["targets"].items():
        print(f"  {target:10s} {t['bytes'] / 1e6:8.2f} MB  ({t['export_seconds']:.1f} s)")


def cmd_sample(args) -> None:
    import numpy as np

    from .runtime.backends import create_backend
    from .runtime.bundle import load_bundle
    from .runtime.images import save_png_grid
    from .runtime.scheduler import Scheduler

    bundle = load_bundle(args.bundle)
    backend = create_backend(args.backend, bundle, threads=args.threads)
    sched = Scheduler(bundle, backend)
    count = bundle.manifest["classes"]["count"]
    if args.classes:
        try:
            given = [int(c) for c in args.classes.split(",")]
        except ValueError:
            raise UserError(f"--classes must be comma-separated integers, got {args.classes!r}") from None
    elif args.class_ is not None:
        given = [args.class_]
    else:
        given = list(range(count))
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
    print(f"{args.backend}: {len(totals)} run(s), total {np.median(totals):.1f} ms median "
          f"({np.median(st, axis=0).sum():.1f} ms over {st.shape[1]} steps), per step median "
          f"{np.median(st):.2f} ms; variants: {' '.join(res.variants)}")
    print(f"wrote {args.out}")


def cmd_bench_size(args) -> None:
    from .benchmarks.bundle_size import markdown, measure_sizes

    dit = _load_model(args)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    res = measure_sizes(dit, args.steps, args.schedule, targets, args.out)
    print(markdown(res))
    if args.out:
        print(f"wrote {args.out}")


def cmd_bench_export_scale(args) -> None:
    from .benchmarks.export_scale import run_export_scale

    res = run_export_scale(args.out, args.model, args.steps, args.checkpoint, verify=args.verify,
                           schedule=args.schedule)
    print(f"{res['model']} ({res['parameters']:,} parameters, {res['weights']} weights): {res['variants']} variants, "
          f"export {res['export_seconds']:.0f} s, peak RSS {res['peak_rss_gib']:.1f} GiB, "
          f".pte {res['pte_bytes'] / 1e9:.2f} GB for {res['fp32_weight_bytes'] / 1e9:.2f} GB of fp32 weights")


def cmd_bench_overhead(args) -> None:
    from .benchmarks.overhead import measure_overhead, write

    res = measure_overhead(args.bundle, args.backend, args.repeat, threads=args.threads)
    write(res, args.out)
    print(f"{res['backend']} on {res['bundle']}: scheduler {res['scheduler_step_ms_median']:.3f} ms/step, direct "
          f"{res['direct_step_ms_median']:.3f} ms/step, ratio {res['overhead_ratio']:.3f}; wrote {args.out}")


def cmd_bench_train_speed(args) -> None:
    from .benchmarks.train_speed import measure_train_speed

    r = measure_train_speed(args.preset, args.device, args.steps)
    print(f"{r['preset']} on {r['device']}: {r['seconds_per_step']:.3f} s/step at batch {r['batch_size']}; "
          f"{r['preset_steps']} steps -> {r['projected_minutes']:.1f} min")


def _latency_bundles(args, targets: tuple[str, ...]):
    """The bundle set of ``bench latency`` / ``bench adb``: given folders, or exported (and cached)."""
    from .benchmarks.latency import build_bundle_set, bundles_from_paths, lazy_schedule_for, random_dit

    if args.bundles:
        return bundles_from_paths(args.bundles)
    if args.arch:
        dit, tag = random_dit(args.arch), args.arch.replace("/", "")
    else:
        dit = _load_model(args)
        tag = args.checkpoint.stem
    sched = lazy_schedule_for(dit, args.steps, args.schedule,
                              args.checkpoint == defaults.DEFAULT_CHECKPOINT and not args.arch)
    sched.reuse = args.reuse or sched.reuse
    return build_bundle_set(dit, sched, targets, args.bundle_dir, tag, force=args.force)


def _write_latency_report(args, report: dict, title: str) -> None:
    """The latency report's JSON, table and plot in ``args.out``, the table on the console."""
    from .benchmarks.latency import markdown, write_report

    report["command"] = "lazydit " + " ".join(args.argv)
    paths = write_report(report, args.out, title)
    print(markdown(report))
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']}")


def cmd_bench_latency(args) -> None:
    from .benchmarks.latency import check_backends, run_latency

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    check_backends(backends, args.runner)
    if args.quick:
        args.repeat, args.warmup = min(args.repeat, 3), min(args.warmup, 1)
    targets = tuple(dict.fromkeys("onnx" if b == "onnxruntime" else "executorch" for b in backends))
    bundles = _latency_bundles(args, targets)
    report = run_latency(bundles, backends, args.repeat, args.warmup, args.threads, args.runner)
    _write_latency_report(args, report,
                          f"{args.arch or args.checkpoint.stem}: {bundles[0].label} vs DDIM, {args.threads} threads")


def cmd_bench_adb(args) -> None:
    from .benchmarks.adb import AdbDevice, HostDevice, host_sandbox, run_adb_benchmark

    # Fail on adb and the device before spending minutes on exports.
    device = HostDevice(host_sandbox(args.out)) if args.host else AdbDevice(args.adb, args.serial)
    runner = args.runner
    if runner is None:
        runner = Path("build/native/lazydit_runner" if args.host
                      else "build/native-android-arm64-v8a/lazydit_runner")
    bundles = _latency_bundles(args, ("executorch",))
    report = run_adb_benchmark(device, bundles, runner, args.repeat, args.warmup, args.threads, args.cpus,
                               args.cooldown, args.via, args.libs, work=args.out / "device-reports")
    where = "this host" if args.host else f"{report['machine'].get('model')} ({report['machine'].get('soc')})"
    _write_latency_report(args, report, f"{bundles[0].label} vs DDIM on {where}")


def cmd_bench_quality(args) -> None:
    from .benchmarks.quality import (DEFAULT_DDIM, DEFAULT_LAZY, QUICK_DDIM, QUICK_LAZY, markdown, run_quality,
                                     write)

    model = _load_model(args)
    if args.quick:
        ddim, lazy, n, paired = QUICK_DDIM, QUICK_LAZY, min(args.n, 100), min(args.paired_n, 100)
        repeat = min(args.repeat, 3)
    else:
        ddim, lazy, n, paired, repeat = DEFAULT_DDIM, DEFAULT_LAZY, args.n, args.paired_n, args.repeat
    if args.ddim:
        ddim = [int(s) for s in args.ddim.split(",")]
    if args.lazy:
        lazy = args.lazy.split(",")
    backend = "native" if args.runner.is_file() else "executorch"
    res = run_quality(model, ddim, lazy, n, paired, args.inception, args.out, args.bundle_dir, backend, args.runner,
                      repeat, args.threads, tag=args.checkpoint.stem)
    res["command"] = "lazydit " + " ".join(args.argv)
    paths = write(res, args.out)
    print(markdown(res))
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']} (samples: {args.out / 'samples.png'})")


def cmd_bench_import(args) -> None:
    from .benchmarks.import_report import import_ios_bench

    report = import_ios_bench(args.file)
    model = report["machine"].get("model", "iPhone")
    _write_latency_report(args, report, f"{report['bundles'][0]['label']} vs DDIM on {model}")


def cmd_bench_memory(args) -> None:
    from .benchmarks.memory import measure_memory

    res = measure_memory(args.lazy, args.dense, args.runner)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    for side in ("python", "native"):
        if res[side]:
            d = res[side]["dense"].get("peak_rss_mib") or res[side]["dense"]["memory"]["peak_rss_kb"] / 1024
            z = res[side]["lazy"].get("peak_rss_mib") or res[side]["lazy"]["memory"]["peak_rss_kb"] / 1024
            print(f"{side}: dense {d:.0f} MiB, lazy (all variants) {z:.0f} MiB, ratio {z / d:.3f}")
    print(f"wrote {args.out}")


def cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(repeat=args.repeat, force=args.force)


def _add_latency_set_args(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--arch", default=None, help="an official architecture with random weights instead of a "
                   "checkpoint (latency does not depend on the weights), e.g. DiT-XL/2")
    p.add_argument("--steps", type=int, default=20, help="N: LazyDiT and DDIM step count")
    p.add_argument("--schedule", default=None, help="the lazy schedule: a file or interval:K (default: the "
                   "committed calibrated one for the embedded model, else interval:2)")
    p.add_argument("--reuse", choices=defaults.REUSE_MODES, default=None,
                   help="what the lazy schedule's skips feed (default: the schedule's own; interval:K holds)")
    p.add_argument("--bundles", type=Path, nargs=3, default=None, metavar=("LAZY", "DDIM_N", "DDIM_HALF"),
                   help="benchmark these exported bundles instead")
    p.add_argument("--bundle-dir", type=Path, default=Path("out/bench/bundles"),
                   help="where exported bundles are kept and reused")
    p.add_argument("--force", action="store_true", help="re-export the bundles")
    p.add_argument("--repeat", type=int, default=10, help="timed rounds (each runs every configuration once)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per configuration")
    p.add_argument("--threads", type=int, default=2, help="thread count of every runtime")


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
    p.add_argument("--reuse", choices=defaults.REUSE_MODES, default="forecast",
                   help="what a skip feeds the block: the first-order forecast from the last two computed outputs "
                        "(default) or the cached output as it is (hold, the paper)")
    p.add_argument("--cfg-scale", type=float, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--pool-size", type=int, default=256, help="training states sampled from the model (data-free)")
    p.add_argument("--dataset", default=None, help="train on diffused real data instead (fashion-mnist, mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restart", action="store_true", help="ignore a saved training state")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_train_gates)

    p = sub.add_parser("eval", help="image quality of sampling configurations: FIDs, accuracy, paired PSNR/SSIM")
    _add_model_args(p)
    p.add_argument("--configs", default="ddim:10,ddim:20,ddim:50,lazy:20",
                   help="comma-separated: ddim:N, lazy:N[:GATES], schedule:PATH, interval:N:K")
    p.add_argument("--n", type=int, default=1000, help="samples per configuration (balanced over classes)")
    p.add_argument("--seed", type=int, default=0, help="sample i uses noise seed SEED+i")
    p.add_argument("--reference-steps", type=int, default=50, help="dense DDIM steps of the paired reference")
    p.add_argument("--paired-n", type=int, default=None, help="samples in the PSNR/SSIM comparison (default: --n)")
    p.add_argument("--classifier", type=Path, default=defaults.DEFAULT_CLASSIFIER)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--no-inception", action="store_true", help="skip the (slow) Inception FID")
    p.add_argument("--inception-real-n", type=int, default=None,
                   help="Inception FID against this many test images (a fixed random subset; default: all)")
    p.add_argument("--bootstrap", type=int, default=10, help="bootstrap replicates for the FID std")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--out", type=Path, default=None, help="folder for eval.json and samples.png")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="turn trained gates (or ddim / interval:K) into a static skip schedule + heat map")
    _add_model_args(p)
    _add_schedule_args(p)
    p.add_argument("--out", type=Path, default=Path("out/schedule.json"), help="schedule file; the heat map goes beside it")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("export", help="export a bundle: one static graph per step pattern for ExecuTorch, Core ML, ONNX")
    _add_model_args(p)
    _add_schedule_args(p)
    p.add_argument("--targets", default="executorch,coreml,onnx", help="comma-separated: executorch, coreml, onnx, torch")
    p.add_argument("--dtype", default="float32", help="float32 or float16 (Core ML graphs are always float16)")
    p.add_argument("--batch", type=int, default=1, help="images per run baked into the graphs")
    p.add_argument("--vae", type=Path, default=None,
                   help="latent models: local AutoencoderKL folder; adds the `decode` graph to every target")
    p.add_argument("--cfg-scale", type=float, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--palettize", type=int, default=None, choices=[2, 4, 6, 8], help="Core ML weight palettization bits")
    p.add_argument("--quantize", default=None, choices=["int8"],
                   help="ExecuTorch: int8 weights with dynamically quantized activations (XNNPACK)")
    p.add_argument("--out", type=Path, default=Path("out/bundle"), help="bundle folder (written atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--no-verify", action="store_true", help="skip the parity checks against eager PyTorch")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sample", help="generate images from a bundle with the step scheduler")
    p.add_argument("--bundle", type=Path, default=Path("out/bundle"))
    p.add_argument("--backend", default="executorch", help="executorch, onnxruntime, torch or coreml")
    p.add_argument("--class", dest="class_", type=int, default=None, help="class of every image")
    p.add_argument("--classes", default=None, help="comma-separated classes (cycled)")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i")
    p.add_argument("--n", type=int, default=10, help="number of images")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("out/samples.png"))
    p.set_defaults(func=cmd_sample)

    bench = sub.add_parser("bench", help="benchmarks: size (weights stored once), ...")
    bsub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    bsub.required = True
    p = bsub.add_parser("size", help="bundle bytes of a lazy schedule vs the single dense graph, per target")
    _add_model_args(p)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--schedule", default="interval:2", help="the lazy schedule (interval:2 = 50%% lazy)")
    p.add_argument("--targets", default="executorch,onnx,coreml")
    p.add_argument("--out", type=Path, default=Path("out/bench/size.json"))
    p.set_defaults(func=cmd_bench_size)

    p = bsub.add_parser("export-scale", help="export DiT-XL/2-256 (random weights) 20 steps 50%% lazy to ExecuTorch")
    p.add_argument("--model", default="DiT-XL/2")
    p.add_argument("--checkpoint", type=Path, default=None, help="real weights instead of random ones")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--verify", action="store_true", help="also check every variant against eager PyTorch")
    p.add_argument("--schedule", default="interval:2", help="interval:2 (50%% lazy) or ddim (dense, one graph)")
    p.add_argument("--out", type=Path, default=Path("out/bench/xl-scale"))
    p.set_defaults(func=cmd_bench_export_scale)

    p = bsub.add_parser("overhead", help="Python scheduler per-step time vs calling the graphs directly")
    p.add_argument("--bundle", type=Path, default=Path("out/demo/lazydit-20"))
    p.add_argument("--backend", default="executorch")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("out/bench/overhead.json"))
    p.set_defaults(func=cmd_bench_overhead)

    p = bsub.add_parser("memory", help="peak RSS with every variant loaded vs the dense single-variant bundle")
    p.add_argument("--lazy", type=Path, default=Path("out/bench/xl-scale"))
    p.add_argument("--dense", type=Path, default=Path("out/bench/xl-dense"))
    p.add_argument("--runner", type=Path, default=Path("build/native/lazydit_runner"))
    p.add_argument("--out", type=Path, default=Path("out/bench/memory.json"))
    p.set_defaults(func=cmd_bench_memory)

    p = bsub.add_parser("latency", help="LazyDiT N@r vs DDIM N and DDIM N(1-r): ExecuTorch (Python, native), "
                                        "onnxruntime; interleaved; JSON, markdown, PNG")
    _add_latency_set_args(p)
    p.add_argument("--backends", default="executorch,native,onnxruntime")
    p.add_argument("--runner", type=Path, default=Path("build/native/lazydit_runner"),
                   help="native runner binary (docs/native-runner.md)")
    p.add_argument("--quick", action="store_true", help="at most 3 rounds and 1 warm-up run")
    p.add_argument("--out", type=Path, default=Path("out/bench/latency"))
    p.set_defaults(func=cmd_bench_latency)

    p = bsub.add_parser("adb", help="the latency benchmark on an Android phone over adb (native runner or the "
                                    "demo app), or --host with the host runner")
    _add_latency_set_args(p)
    p.set_defaults(threads=0)
    p.add_argument("--serial", default=None, help="the device, when several are connected")
    p.add_argument("--adb", default=None, help="adb executable (default: adb on PATH)")
    p.add_argument("--runner", type=Path, default=None, help="lazydit_runner built for the device "
                   "(default build/native-android-arm64-v8a/lazydit_runner; with --host build/native/lazydit_runner)")
    p.add_argument("--libs", type=Path, default=None, help="folder of shared libraries the runner needs on the "
                   "device (pushed and put on LD_LIBRARY_PATH); not needed for a static build")
    p.add_argument("--cpus", default=None, help="pin to these CPUs with taskset, e.g. 4-7 for the big cores")
    p.add_argument("--cooldown", type=float, default=5.0, help="seconds of rest after every run")
    p.add_argument("--via", choices=("runner", "app"), default="runner",
                   help="app: run the demo app's BenchmarkActivity instead of the native runner")
    p.add_argument("--host", action="store_true", help="run the same protocol here with the host-built runner")
    p.add_argument("--out", type=Path, default=Path("out/bench/adb"))
    p.set_defaults(func=cmd_bench_adb)

    p = bsub.add_parser("quality", help="quality (FID, paired PSNR/SSIM) against measured latency and MACs: "
                                        "DDIM and LazyDiT frontiers in one PNG")
    _add_model_args(p)
    p.add_argument("--n", type=int, default=500, help="samples per configuration (FID)")
    p.add_argument("--paired-n", type=int, default=500, help="samples compared with the DDIM-50 reference")
    p.add_argument("--ddim", default=None, help="DDIM step counts, e.g. 5,7,10,14,20,25")
    p.add_argument("--lazy", default=None, help="LazyDiT configurations: interval:N:K, schedule:PATH, lazy:N "
                   "(comma-separated)")
    p.add_argument("--inception", action="store_true", help="also the Inception FID (slow on a CPU)")
    p.add_argument("--runner", type=Path, default=Path("build/native/lazydit_runner"),
                   help="time the step graphs with the native runner (else with the Python runtime)")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bundle-dir", type=Path, default=Path("out/bench/bundles"))
    p.add_argument("--quick", action="store_true",
                   help="100 samples, DDIM 5/10/20, LazyDiT interval:2 at 10 and 20 steps")
    p.add_argument("--out", type=Path, default=Path("out/bench/quality"))
    p.set_defaults(func=cmd_bench_quality)

    p = bsub.add_parser("import", help="an iOS demo benchmark file (lazydit-ios-bench/1) as the host report: "
                                       "JSON, markdown, PNG")
    p.add_argument("file", type=Path, help="the file benchmark mode wrote into the app's documents folder")
    p.add_argument("--out", type=Path, default=Path("out/bench/ios"))
    p.set_defaults(func=cmd_bench_import)

    p = bsub.add_parser("train-speed", help="seconds per step of a train-dit preset and its projected time")
    p.add_argument("--preset", default="fashion-dit-cpu")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=20)
    p.set_defaults(func=cmd_bench_train_speed)

    p = sub.add_parser("demo", help="export the embedded model, generate images on ExecuTorch, compare with DDIM")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per configuration")
    p.add_argument("--force", action="store_true", help="re-export the demo bundles")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if getattr(args, "command", None) == "train-gates" and args.out is None:
        args.out = defaults.default_gates(args.steps)
    if hasattr(args, "schedule"):
        args.steps_given = args.steps is not None
        if args.steps is None:
            args.steps = defaults.DEFAULT_STEPS
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
