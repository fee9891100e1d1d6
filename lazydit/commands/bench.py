"""``lazydit bench ...``: size, export at scale, scheduler overhead, memory, latency (host and phone), quality."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lazydit.benchmarks.latency import ALL_BACKENDS, PY_BACKENDS
from lazydit.benchmarks.latency_set import DECODERS
from lazydit.export.names import REUSE_MODES, TARGETS, TRAIN_PRESETS

from .common import (
    HelpFormatter,
    add_command,
    add_model_args,
    comma_list,
    finite_float,
    image_count,
    int_in_range,
    load_model,
    non_negative_int,
    positive_int,
    step_count,
    thread_count,
)
from .train import DEVICES


def cmd_bench_size(args) -> None:
    from lazydit.benchmarks.bundle_size import markdown, measure_sizes

    dit = load_model(args)
    res = measure_sizes(dit, args.steps, args.schedule, args.targets, args.out)
    print(markdown(res))
    if args.out:
        print(f"wrote {args.out}")


def cmd_bench_export_scale(args) -> None:
    from lazydit.benchmarks.export_scale import run_export_scale

    res = run_export_scale(
        args.out, args.model, args.steps, args.checkpoint, verify=args.verify, schedule=args.schedule
    )
    print(
        f"{res['model']} ({res['parameters']:,} parameters, {res['weights']} weights): {res['variants']} variants, "
        f"export {res['export_seconds']:.0f} s, peak RSS {res['peak_rss_gib']:.1f} GiB, "
        f".pte {res['pte_bytes'] / 1e9:.2f} GB for {res['fp32_weight_bytes'] / 1e9:.2f} GB of fp32 weights"
    )


def cmd_bench_overhead(args) -> None:
    from lazydit.benchmarks.overhead import measure_overhead, write

    res = measure_overhead(args.bundle, args.backend, args.repeat, threads=args.threads)
    write(res, args.out)
    print(
        f"{res['backend']} on {res['bundle']}: scheduler {res['scheduler_step_ms_median']:.3f} ms/step, direct "
        f"{res['direct_step_ms_median']:.3f} ms/step, ratio {res['overhead_ratio']:.3f}; wrote {args.out}"
    )


def cmd_bench_memory(args) -> None:
    from lazydit.benchmarks.memory import measure_memory

    res = measure_memory(args.lazy, args.dense, args.runner)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    for side in ("python", "python_unshared", "native"):
        if res[side]:
            d = res[side]["dense"].get("peak_rss_mib") or res[side]["dense"]["memory"]["peak_rss_kb"] / 1024
            z = res[side]["lazy"].get("peak_rss_mib") or res[side]["lazy"]["memory"]["peak_rss_kb"] / 1024
            print(f"{side}: dense {d:.0f} MiB, lazy (all variants) {z:.0f} MiB, ratio {z / d:.3f}")
    print(f"wrote {args.out}")


def cmd_bench_ops(args) -> None:
    from lazydit.benchmarks.op_profile import profile_ops, render_ops
    from lazydit.files import atomic_write

    res = profile_ops(args.bundle, args.repeat, args.threads)
    with atomic_write(args.out) as tmp:
        tmp.write_text(json.dumps(res, indent=1))
    print(render_ops(res))
    print(f"wrote {args.out}")


def cmd_bench_train_speed(args) -> None:
    from lazydit.benchmarks.train_speed import measure_train_speed

    r = measure_train_speed(args.preset, args.device, args.steps)
    print(
        f"{r['preset']} on {r['device']}: {r['seconds_per_step']:.3f} s/step at batch {r['batch_size']}; "
        f"{r['preset_steps']} steps -> {r['projected_minutes']:.1f} min"
    )


def _latency_bundles(args, targets: tuple[str, ...]):
    """The bundle set of ``bench latency`` / ``bench adb``: given folders, or exported (and cached)."""
    from lazydit.benchmarks.latency_set import build_bundle_set, bundles_from_paths, random_dit
    from lazydit.errors import UserError
    from lazydit.export.schedule_source import default_lazy_source, resolve_schedule

    if args.bundles:
        return bundles_from_paths(args.bundles)
    vae = None
    if args.decoder:
        if not args.arch:
            raise UserError(
                "--decoder adds a random decoder to an --arch model; a checkpoint brings its own (--vae "
                "with lazydit export, then --bundles)"
            )
        from lazydit.export.vae import random_vae

        vae = random_vae(args.bundle_dir / f"{args.decoder}-random", args.decoder)
    if args.arch:
        dit, tag = random_dit(args.arch), args.arch.replace("/", "")
    else:
        dit, tag = load_model(args), args.checkpoint.stem
    source = args.schedule or default_lazy_source(dit, args.steps or 20)
    sched, _ = resolve_schedule(source, dit, steps=args.steps, reuse=args.reuse)
    return build_bundle_set(dit, sched, targets, args.bundle_dir, tag, force=args.force, vae=vae)


def _write_latency_report(args, report: dict, title: str) -> None:
    """The latency report's JSON, table and plot in ``args.out``, the table on the console."""
    from lazydit.benchmarks.latency_render import markdown, write_report

    report["command"] = "lazydit " + " ".join(args.argv)
    paths = write_report(report, args.out, title)
    print(markdown(report))
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']}")


def cmd_bench_latency(args) -> None:
    from lazydit.benchmarks.latency import check_backends, run_latency

    backends = list(args.backends)
    check_backends(backends, args.runner)
    if args.quick:
        args.repeat, args.warmup = min(args.repeat, 3), min(args.warmup, 1)
    targets = tuple(dict.fromkeys("onnx" if b == "onnxruntime" else "executorch" for b in backends))
    bundles = _latency_bundles(args, targets)
    report = run_latency(bundles, backends, args.repeat, args.warmup, args.threads, args.runner)
    _write_latency_report(
        args, report, f"{args.arch or args.checkpoint.stem}: {bundles[0].label} vs DDIM, {args.threads} threads"
    )


def cmd_bench_adb(args) -> None:
    from lazydit.benchmarks.adb import AdbDevice, HostDevice, host_sandbox, run_adb_benchmark

    # Fail on adb and the device before spending minutes on exports.
    device = HostDevice(host_sandbox(args.out)) if args.host else AdbDevice(args.adb, args.serial)
    runner = args.runner
    if runner is None:
        runner = Path("build/native/lazydit_runner" if args.host else "build/native-android-arm64-v8a/lazydit_runner")
    bundles = _latency_bundles(args, ("executorch",))
    report = run_adb_benchmark(
        device,
        bundles,
        runner,
        args.repeat,
        args.warmup,
        args.threads,
        args.cpus,
        args.cooldown,
        args.via,
        args.libs,
        work=args.out / "device-reports",
    )
    where = "this host" if args.host else f"{report['machine'].get('model')} ({report['machine'].get('soc')})"
    _write_latency_report(args, report, f"{bundles[0].label} vs DDIM on {where}")


def cmd_bench_quality(args) -> None:
    from lazydit.benchmarks.quality import (
        DEFAULT_DDIM,
        DEFAULT_LAZY,
        QUICK_DDIM,
        QUICK_LAZY,
        markdown,
        run_quality,
        write,
    )
    from lazydit.errors import UserError

    model = load_model(args)
    if args.quick:
        ddim, lazy, n, paired = QUICK_DDIM, QUICK_LAZY, min(args.n, 100), min(args.paired_n, 100)
        repeat = min(args.repeat, 3)
    else:
        ddim, lazy, n, paired, repeat = DEFAULT_DDIM, DEFAULT_LAZY, args.n, args.paired_n, args.repeat
    if args.ddim:
        try:
            ddim = [int(s) for s in args.ddim.split(",")]
        except ValueError:
            raise UserError(f"--ddim takes comma-separated step counts, got {args.ddim!r}") from None
    if args.lazy:
        lazy = args.lazy.split(",")
    backend = "native" if args.runner.is_file() else "executorch"
    res = run_quality(
        model,
        ddim,
        lazy,
        n,
        paired,
        args.inception,
        args.out,
        args.bundle_dir,
        backend,
        args.runner,
        repeat,
        args.threads,
        tag=args.checkpoint.stem,
    )
    res["command"] = "lazydit " + " ".join(args.argv)
    paths = write(res, args.out)
    print(markdown(res))
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']} (samples: {args.out / 'samples.png'})")


def cmd_bench_import(args) -> None:
    from lazydit.benchmarks.import_report import import_ios_bench

    report = import_ios_bench(args.file)
    model = report["machine"].get("model", "iPhone")
    _write_latency_report(args, report, f"{report['bundles'][0]['label']} vs DDIM on {model}")


def _add_latency_set_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument(
        "--arch",
        default=None,
        metavar="NAME",
        help="an official architecture with random weights "
        "instead of a checkpoint (latency does not depend on the weights), e.g. DiT-XL/2",
    )
    p.add_argument(
        "--steps",
        type=step_count,
        default=None,
        help="N: LazyDiT and DDIM step count (default: the schedule's, else 20)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        metavar="SOURCE",
        help="the lazy schedule, e.g. interval:K or a file "
        "(default: the committed calibrated one for the embedded model, else interval:2)",
    )
    p.add_argument(
        "--reuse",
        choices=REUSE_MODES,
        default=None,
        help="what the lazy schedule's skips feed (default: the schedule's own; interval:K holds)",
    )
    p.add_argument(
        "--decoder",
        choices=DECODERS,
        default=None,
        help="with --arch: add this decoder architecture (random weights) to every bundle, as DiT-XL/2-256 decodes "
        "with the Stable Diffusion VAE; the report then has decode_ms",
    )
    p.add_argument(
        "--bundles",
        type=Path,
        nargs=3,
        default=None,
        metavar=("LAZY", "DDIM_N", "DDIM_HALF"),
        help="benchmark these exported bundles instead",
    )
    p.add_argument(
        "--bundle-dir", type=Path, default=Path("out/bench/bundles"), help="where exported bundles are kept and reused"
    )
    p.add_argument("--force", action="store_true", help="re-export the bundles")
    p.add_argument("--repeat", type=positive_int, default=10, help="timed rounds (each runs every configuration once)")
    p.add_argument("--warmup", type=non_negative_int, default=1, help="untimed runs per configuration")
    p.add_argument(
        "--threads",
        type=int_in_range(0, 256),
        default=2,
        help="thread count of every runtime (0: each runtime's own default)",
    )


def register(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmarks: size, export at scale, overhead, memory, latency, adb, quality",
        description="Benchmarks. Speed and memory are reported as ratios measured in one run on the same machine.",
        formatter_class=HelpFormatter,
    )
    bsub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    bsub.required = True

    p = add_command(
        bsub,
        "size",
        "bundle bytes of a lazy schedule vs the single dense graph, per target",
        "Exports a lazy schedule and the dense schedule and compares their bundle bytes per target "
        "(weights are stored once however many graphs a bundle has).",
        "lazydit bench size --steps 20 --targets executorch,onnx",
    )
    add_model_args(p)
    p.add_argument("--steps", type=step_count, default=50, help="sampling steps of both schedules")
    p.add_argument(
        "--schedule", default="interval:2", metavar="SOURCE", help="the lazy schedule (interval:2 = 50%% lazy)"
    )
    p.add_argument(
        "--targets", type=comma_list(TARGETS[:3]), default="executorch,onnx,coreml", help="comma-separated targets"
    )
    p.add_argument("--out", type=Path, default=Path("out/bench/size.json"), help="report file")
    p.set_defaults(func=cmd_bench_size)

    p = add_command(
        bsub,
        "export-scale",
        "export DiT-XL/2-256 (random weights) 20 steps 50%% lazy to ExecuTorch",
        "Exports an official-size DiT to ExecuTorch and reports export time, peak memory and .pte size "
        "against the fp32 weight bytes.",
        "lazydit bench export-scale --model DiT-XL/2 --steps 20",
    )
    p.add_argument("--model", default="DiT-XL/2", metavar="NAME", help="official architecture")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="FILE", help="real weights instead of random ones")
    p.add_argument("--steps", type=step_count, default=20, help="sampling steps")
    p.add_argument("--verify", action="store_true", help="also check every variant against eager PyTorch")
    p.add_argument(
        "--schedule", default="interval:2", metavar="SOURCE", help="interval:2 (50%% lazy) or ddim (dense, one graph)"
    )
    p.add_argument("--out", type=Path, default=Path("out/bench/xl-scale"), help="bundle folder")
    p.set_defaults(func=cmd_bench_export_scale)

    p = add_command(
        bsub,
        "overhead",
        "Python scheduler per-step time vs calling the graphs directly",
        "Times the Python step scheduler against calling the same graphs directly with the same inputs, per step.",
        "lazydit bench overhead --bundle out/demo/lazydit-20",
    )
    p.add_argument("--bundle", type=Path, default=Path("out/demo/lazydit-20"), metavar="DIR", help="bundle folder")
    p.add_argument("--backend", choices=PY_BACKENDS, default="executorch", help="Python-runtime backend")
    p.add_argument("--repeat", type=positive_int, default=20, help="timed runs")
    p.add_argument("--threads", type=thread_count, default=None, help="threads of the backend")
    p.add_argument("--out", type=Path, default=Path("out/bench/overhead.json"), help="report file")
    p.set_defaults(func=cmd_bench_overhead)

    p = add_command(
        bsub,
        "ops",
        "per-operator time of each step graph (ETDump), inside and outside XNNPACK",
        "Replays the bundle's golden run on ExecuTorch with ETDump on and reports, per variant, the execute "
        "time inside and outside XNNPACK delegate calls and the time of every operator kind.",
        "lazydit bench ops --bundle out/demo/lazydit-20",
    )
    p.add_argument("--bundle", type=Path, default=Path("out/demo/lazydit-20"), metavar="DIR", help="bundle folder")
    p.add_argument("--repeat", type=positive_int, default=3, help="runs of the golden trajectory")
    p.add_argument("--threads", type=thread_count, default=None, help="threads of the backend")
    p.add_argument("--out", type=Path, default=Path("out/bench/ops.json"), help="report file")
    p.set_defaults(func=cmd_bench_ops)

    p = add_command(
        bsub,
        "memory",
        "peak RSS with every variant loaded vs the dense single-variant bundle",
        "Loads every variant of a lazy bundle and the one variant of a dense bundle, in the Python "
        "runtime and in the native runner, and reports their peak resident memory.",
        "lazydit bench memory --lazy out/bench/xl-scale --dense out/bench/xl-dense",
    )
    p.add_argument("--lazy", type=Path, default=Path("out/bench/xl-scale"), metavar="DIR", help="lazy bundle")
    p.add_argument("--dense", type=Path, default=Path("out/bench/xl-dense"), metavar="DIR", help="dense bundle")
    p.add_argument(
        "--runner",
        type=Path,
        default=Path("build/native/lazydit_runner"),
        metavar="FILE",
        help="native runner binary (docs/native-runner.md)",
    )
    p.add_argument("--out", type=Path, default=Path("out/bench/memory.json"), help="report file")
    p.set_defaults(func=cmd_bench_memory)

    p = add_command(
        bsub,
        "latency",
        "LazyDiT N@r vs DDIM N and DDIM N(1-r) on this host, interleaved",
        "Exports (or reuses) LazyDiT N steps at laziness r, DDIM N and DDIM N(1-r), and times them on "
        "ExecuTorch (Python runtime and native runner) and onnxruntime, one process per bundle and "
        "backend, rounds interleaved; writes JSON, markdown and a PNG.",
        "lazydit bench latency --repeat 10 --backends executorch,native",
    )
    _add_latency_set_args(p)
    p.add_argument(
        "--backends",
        type=comma_list(ALL_BACKENDS),
        default=",".join(ALL_BACKENDS),
        help="comma-separated runtimes to time",
    )
    p.add_argument(
        "--runner",
        type=Path,
        default=Path("build/native/lazydit_runner"),
        metavar="FILE",
        help="native runner binary (docs/native-runner.md)",
    )
    p.add_argument("--quick", action="store_true", help="at most 3 rounds and 1 warm-up run")
    p.add_argument("--out", type=Path, default=Path("out/bench/latency"), metavar="DIR", help="report folder")
    p.set_defaults(func=cmd_bench_latency)

    p = add_command(
        bsub,
        "adb",
        "the latency benchmark on an Android phone over adb (or --host here)",
        "Runs the latency benchmark's protocol on an Android phone over adb, with the native runner "
        "or the demo app's BenchmarkActivity, and records the device's facts; --host runs the same "
        "protocol here with the host-built runner.",
        "lazydit bench adb --runner build/native-android-arm64-v8a/lazydit_runner --cpus 4-7",
    )
    _add_latency_set_args(p)
    p.set_defaults(threads=0)
    p.add_argument("--serial", default=None, help="the device, when several are connected")
    p.add_argument("--adb", default=None, metavar="FILE", help="adb executable (default: adb on PATH)")
    p.add_argument(
        "--runner",
        type=Path,
        default=None,
        metavar="FILE",
        help="lazydit_runner built for the device "
        "(default build/native-android-arm64-v8a/lazydit_runner; with --host build/native/lazydit_runner)",
    )
    p.add_argument(
        "--libs",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of shared libraries the runner "
        "needs on the device (pushed and put on LD_LIBRARY_PATH); not needed for a static build",
    )
    p.add_argument("--cpus", default=None, help="pin to these CPUs with taskset, e.g. 4-7 for the big cores")
    p.add_argument("--cooldown", type=finite_float, default=5.0, help="seconds of rest after every run")
    p.add_argument(
        "--via",
        choices=("runner", "app"),
        default="runner",
        help="app: run the demo app's BenchmarkActivity instead of the native runner",
    )
    p.add_argument("--host", action="store_true", help="run the same protocol here with the host-built runner")
    p.add_argument("--out", type=Path, default=Path("out/bench/adb"), metavar="DIR", help="report folder")
    p.set_defaults(func=cmd_bench_adb)

    p = add_command(
        bsub,
        "quality",
        "quality (FID, paired PSNR/SSIM) against measured latency and MACs",
        "Evaluates DDIM and LazyDiT configurations with `lazydit eval`, composes each one's latency "
        "from step graphs measured in the same run, and gives verdicts at equal latency and at equal "
        "MACs; writes the frontiers as one PNG.",
        "lazydit bench quality --quick",
    )
    add_model_args(p)
    p.add_argument("--n", type=image_count, default=500, help="samples per configuration (FID)")
    p.add_argument("--paired-n", type=image_count, default=500, help="samples compared with the DDIM-50 reference")
    p.add_argument("--ddim", default=None, metavar="LIST", help="DDIM step counts, e.g. 5,7,10,14,20,25")
    p.add_argument(
        "--lazy",
        default=None,
        metavar="LIST",
        help="LazyDiT configurations in the schedule grammar: interval:N:K, schedule:PATH, lazy:N (comma-separated)",
    )
    p.add_argument("--inception", action="store_true", help="also the Inception FID (slow on a CPU)")
    p.add_argument(
        "--runner",
        type=Path,
        default=Path("build/native/lazydit_runner"),
        metavar="FILE",
        help="time the step graphs with the native runner (else with the Python runtime)",
    )
    p.add_argument("--repeat", type=positive_int, default=10, help="timed runs per step graph")
    p.add_argument("--threads", type=thread_count, default=2, help="thread count of the runtime")
    p.add_argument(
        "--bundle-dir",
        type=Path,
        default=Path("out/bench/bundles"),
        metavar="DIR",
        help="where exported bundles are kept and reused",
    )
    p.add_argument(
        "--quick", action="store_true", help="100 samples, DDIM 5/10/20, LazyDiT interval:2 at 10 and 20 steps"
    )
    p.add_argument("--out", type=Path, default=Path("out/bench/quality"), metavar="DIR", help="report folder")
    p.set_defaults(func=cmd_bench_quality)

    p = add_command(
        bsub,
        "import",
        "an iOS demo benchmark file (lazydit-ios-bench/1) as the host report",
        "Converts the file the iOS demo's benchmark mode writes into the latency report format: JSON, markdown, PNG.",
        "lazydit bench import lazydit-ios-bench.json --out out/bench/ios",
    )
    p.add_argument("file", type=Path, help="the file benchmark mode wrote into the app's documents folder")
    p.add_argument("--out", type=Path, default=Path("out/bench/ios"), metavar="DIR", help="report folder")
    p.set_defaults(func=cmd_bench_import)

    p = add_command(
        bsub,
        "train-speed",
        "seconds per step of a train-dit preset and its projected time",
        "Times a few training steps of a `lazydit train-dit` preset and projects the preset's time.",
        "lazydit bench train-speed --preset fashion-dit-cpu --steps 20",
    )
    p.add_argument("--preset", choices=TRAIN_PRESETS, default="fashion-dit-cpu", help="train-dit preset")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where to train")
    p.add_argument("--steps", type=positive_int, default=20, help="timed training steps")
    p.set_defaults(func=cmd_bench_train_speed)
