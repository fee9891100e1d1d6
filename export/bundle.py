"""Writing a bundle: the graphs of every target, the schedule and its heat map, and ``manifest.json``.

The manifest is the only contract with the runtimes (see ``docs/bundle-format.md`` and
``runtime/manifest.schema.json``). A bundle is written into a temporary folder beside ``out`` and renamed
into place at the end, so a failed export never leaves a half-written bundle.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import lazydit
from lazydit.errors import UserError
from lazydit.runtime.bundle import sha256_file

from .checkpoint import fingerprint
from .diffusion import check_guidance_rule, ddim_steps, guidance_rule_of
from .graphs import StepGraph, example_inputs, modulation_of, parse_slot, plan_variants, step_plans
from .lower import dir_size, lower_coreml, lower_executorch, lower_onnx
from .macs import forward_macs
from .model import DiT, count_parameters
from .names import DTYPES, TARGETS
from .schedule import Schedule

SCHEMA_VERSION = 2  # 2: forecast ratios are a graph input fed per step (1: baked into the graphs)


@dataclass
class ExportOptions:
    targets: tuple[str, ...] = ("executorch", "onnx")
    dtype: str = "float32"  # float32 | float16
    batch: int = 1
    cfg_scale: float = 1.5
    clip_denoised: bool = False
    guidance_rule: str | None = None  # official-3-channels | all-channels; None: the model's (guidance_rule_of)
    class_names: list[str] | None = None
    coreml_palettize_bits: int | None = None
    quantize: str | None = None  # "int8": dynamically quantized int8 weights in the ExecuTorch graphs
    vae: Path | None = None  # a latent model's local AutoencoderKL folder: adds the `decode` graph
    force: bool = False
    verify: bool = True
    name: str = "lazydit"


def _versions() -> dict:
    import importlib.metadata as md

    out = {"lazydit": lazydit.__version__, "torch": torch.__version__}
    for pkg in ("executorch", "coremltools", "onnx"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def check_output_folder(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise UserError(f"{out} exists; pass --force to replace it")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{out.name}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to {parent} ({e.strerror}); choose another --out") from None


def _available_memory() -> int | None:
    """Bytes the kernel says a new allocation can still get (MemAvailable), None where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(parameters: int, variants: int, targets, available: int | None = None) -> None:
    """Refuse, before anything is allocated, an export that cannot fit: lowering holds the fp32 model, one traced
    copy of its weights per variant while the program is assembled, and the serialized program (measured:
    DiT-XL/2 with two variants peaked at 11.8 GiB, 4.4x its 2.7 GB of fp32 weights; docs/export.md). A lower
    bound, so nothing that fits is refused."""
    available = _available_memory() if available is None else available
    if available is None:
        return
    weights = parameters * 4
    needed = weights * (2 + (variants if "executorch" in targets else 1))
    if needed > available:
        raise UserError(
            f"exporting {parameters / 1e6:.0f}M parameters with {variants} graph variants needs at least "
            f"{needed / 2**30:.1f} GiB, only {available / 2**30:.1f} GiB is available; free memory, export fewer "
            "targets, or use a schedule with fewer distinct step patterns"
        )


def export_bundle(
    dit: DiT, schedule: Schedule, out: Path, opts: ExportOptions, keep_scores=None, progress: bool = True
) -> dict:
    """Export every target into ``out`` (atomically); returns the manifest. ``keep_scores`` (steps, depth, 2),
    the gates' mean keep scores of a calibrated schedule, are drawn into its heat map."""
    if not opts.targets:
        raise UserError(f"no targets to export; choose from {', '.join(TARGETS)}")
    for t in opts.targets:
        if t not in TARGETS:
            raise UserError(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
    if opts.batch < 1:
        raise UserError(f"--batch must be at least 1, got {opts.batch}")
    if opts.quantize not in (None, "int8"):
        raise UserError(f"--quantize must be int8 (or left out), not {opts.quantize!r}")
    if opts.dtype not in DTYPES:
        raise UserError(f"--dtype must be one of {', '.join(DTYPES)}, not {opts.dtype!r}")
    try:
        # Resolved once here so that the graphs, the verification and the manifest use the same rule.
        opts = replace(opts, guidance_rule=check_guidance_rule(opts.guidance_rule or guidance_rule_of(dit)))
    except ValueError as e:
        raise UserError(f"{e} (--guidance-rule)") from None
    schedule.validate()
    schedule.check_model(dit.config)
    check_output_folder(out, opts.force)
    c = dit.config
    t_start = time.time()
    variants, per_step = plan_variants(schedule)
    check_memory(count_parameters(dit), len(variants), opts.targets)
    dtype = torch.float32 if opts.dtype == "float32" else torch.float16
    model = dit if dtype == torch.float32 else _half_copy(dit)
    graphs = {v.name: _step_graph(model, v, opts) for v in variants}
    inputs = {v.name: example_inputs(model, v, opts.batch, opts.cfg_scale, dtype) for v in variants}
    decoder = None
    if opts.vae is not None:
        decoder = _decoder(model, opts, dtype)
        graphs[DECODER] = decoder
        inputs[DECODER] = (torch.randn(opts.batch, c.in_channels, c.input_size, c.input_size).to(dtype),)

    tmp = out.resolve().parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        targets: dict = {}
        bar = tqdm(opts.targets, desc="targets", disable=not progress)
        for target in bar:
            bar.set_postfix(target=target)
            t0 = time.time()
            if target == "executorch":
                et_graphs = graphs
                if opts.quantize is not None:
                    et_graphs = quantized_graphs(model, variants, opts)
                    if decoder is not None:
                        et_graphs[DECODER] = decoder
                info = lower_executorch(et_graphs, inputs, tmp / "executorch" / "model.pte", progress)
                targets["executorch"] = {
                    "file": "executorch/model.pte",
                    "backend": "xnnpack",
                    "dtype": opts.dtype,
                    "weights": opts.quantize or opts.dtype,
                    "methods": {v.name: v.name for v in variants},
                    "delegation": info,
                }
                if decoder is not None:
                    targets["executorch"]["decoder"] = DECODER
            elif target == "onnx":
                files = lower_onnx(graphs, inputs, tmp / "onnx", progress)
                targets["onnx"] = {
                    "graphs": {k: f"onnx/{f}" for k, f in files.items() if k != DECODER},
                    "weights": "onnx/weights.bin",
                    "dtype": opts.dtype,
                }
                if decoder is not None:
                    targets["onnx"]["decoder"] = f"onnx/{files[DECODER]}"
            elif target == "coreml":
                fns = lower_coreml(
                    graphs,
                    inputs,
                    tmp / "coreml" / "model.mlpackage",
                    fp16=True,
                    palettize_bits=opts.coreml_palettize_bits,
                    progress=progress,
                )
                targets["coreml"] = {
                    "package": "coreml/model.mlpackage",
                    "functions": {k: f for k, f in fns.items() if k != DECODER},
                    "dtype": "float16",
                    "minimum_deployment_target": "iOS18",
                    "palettize_bits": opts.coreml_palettize_bits,
                }
            elif target == "torch":
                from .checkpoint import save_safetensors

                sampling = dict(dit.sampling_defaults) | {"guidance_rule": opts.guidance_rule}
                save_safetensors(dit, tmp / "torch" / "model.safetensors", dtype=dtype, sampling=sampling)
                targets["torch"] = {"weights": "torch/model.safetensors", "dtype": opts.dtype}
                if decoder is not None:
                    shutil.copytree(opts.vae, tmp / "torch" / "vae")
                    targets["torch"]["decoder"] = "torch/vae"
            if target == "coreml" and decoder is not None:
                targets["coreml"]["decoder"] = DECODER
            targets[target]["export_seconds"] = round(time.time() - t0, 2)
        schedule.save(tmp / "schedule.json", c, opts.cfg_scale)
        from .calibrate import draw_heatmap

        draw_heatmap(schedule, tmp / "schedule.png", None if keep_scores is None else np.asarray(keep_scores))
        manifest = build_manifest(dit, schedule, variants, per_step, opts, targets)
        if decoder is not None:
            _add_decoder(manifest, dit, opts, decoder)
        for target in targets:
            targets[target]["bytes"] = dir_size(tmp / target)
        _write_manifest(tmp, manifest)
        if opts.verify:
            from .verify import verify_bundle

            report = verify_bundle(
                tmp, dit, schedule, progress=progress, quantized=opts.quantize is not None, decoder=decoder
            )
            (tmp / "verification.json").write_text(json.dumps(report, indent=1))
        _write_golden(tmp)
        # Second pass: the golden trace and the verification report are checksummed like every other file.
        manifest["export_seconds"] = round(time.time() - t_start, 2)
        _write_manifest(tmp, manifest)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except UserError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        # A check that ran on the unfinished bundle names it by the folder the user asked for, not the hidden one.
        raise UserError(str(e).replace(str(tmp), str(out))) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


DECODER = "decode"


def _decoder(model: DiT, opts: ExportOptions, dtype: torch.dtype):
    from .graphs import DecodeGraph
    from .vae import SD_LATENT_SCALE, load_vae

    if model.config.in_channels != 4:
        raise UserError(f"--vae is for latent models (4 input channels); this model has {model.config.in_channels}")
    vae = load_vae(opts.vae)
    # The VAE's own latent scale (diffusers' DiTPipeline divides by it); SD's when its config has none.
    scale = float(getattr(vae.config, "scaling_factor", None) or SD_LATENT_SCALE)
    return DecodeGraph(vae.to(dtype), scale).eval()


def _add_decoder(manifest: dict, dit: DiT, opts: ExportOptions, decoder) -> None:
    """The manifest of a latent model: the steps produce latents, ``decode`` turns them into the image."""
    c = dit.config
    with torch.no_grad():
        lat = torch.zeros(opts.batch, c.in_channels, c.input_size, c.input_size, dtype=next(decoder.parameters()).dtype)
        img = decoder(lat)
    manifest["model"]["latent"] = True
    manifest["image"] = {
        "channels": int(img.shape[1]),
        "height": int(img.shape[2]),
        "width": int(img.shape[3]),
        "value_range": [-1.0, 1.0],
    }
    manifest["tensors"]["image"] = {"shape": list(img.shape), "dtype": opts.dtype}
    manifest["decoder"] = {"name": DECODER, "inputs": ["latent"], "outputs": ["image"], "latent_scale": decoder.scale}


def _write_manifest(root: Path, manifest: dict) -> None:
    manifest["files"] = {
        str(p.relative_to(root)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))


def quantized_graphs(model: DiT, variants, opts: ExportOptions) -> dict[str, StepGraph]:
    """Step graphs over a copy of the model whose linear layers hold int8 weights (dynamic activation quant)."""
    import copy

    from torchao.quantization.granularity import PerAxis
    from torchao.quantization.quant_api import Int8DynamicActivationIntxWeightConfig, quantize_

    q = copy.deepcopy(model)
    # The graphs first: their regrouped adaLN rows (graphs.Modulation) are copied from float weights, and are
    # then quantized in place with the model's own linear layers.
    graphs = {v.name: _step_graph(q, v, opts) for v in variants}
    quantize_(
        torch.nn.ModuleList([q, modulation_of(q)]),
        Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int8, weight_granularity=PerAxis(0)),
        filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and m.weight.shape[0] > 1,
    )
    return graphs


def _step_graph(model: DiT, variant, opts: ExportOptions) -> StepGraph:
    return StepGraph(model, variant, opts.cfg_scale, opts.clip_denoised, opts.guidance_rule).eval()


def _write_golden(root: Path) -> None:
    """The golden trace every scheduler port is tested against, from the first backend that runs here."""
    from lazydit.runtime.backends import create_backend, target_of
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.golden import write_golden

    from . import reference_backend  # noqa: F401  (registers the torch backend)

    bundle = load_bundle(root)
    for name in ("executorch", "onnxruntime", "torch"):
        if bundle.has_target(target_of(name)):
            write_golden(bundle, create_backend(name, bundle), root / "golden")
            return


def _half_copy(dit: DiT) -> DiT:
    import copy

    m = copy.deepcopy(dit).half()
    m.sampling_defaults = dit.sampling_defaults
    return m


def build_manifest(
    dit: DiT, schedule: Schedule, variants, per_step: list[str], opts: ExportOptions, targets: dict
) -> dict:
    c = dit.config
    B = opts.batch
    BB = B * (2 if opts.cfg_scale != 1.0 else 1)
    fm = forward_macs(c)
    steps = ddim_steps(schedule.num_steps)
    patterns = {v.name: v for v in variants}
    plans = step_plans(schedule)
    tensor_dtype = opts.dtype
    tensors = {
        "x": {"shape": [B, c.in_channels, c.input_size, c.input_size], "dtype": tensor_dtype},
        "t": {"shape": [1], "dtype": "float32"},
        "y": {"shape": [B], "dtype": "int32"},
        "coef": {"shape": [4], "dtype": tensor_dtype},
        "x_next": {"shape": [B, c.in_channels, c.input_size, c.input_size], "dtype": tensor_dtype},
        "cache": {"shape": [BB, c.num_patches, c.hidden_size], "dtype": tensor_dtype},
    }
    slots = sorted({s for v in variants for s in v.reads + v.writes}, key=parse_slot)
    return {
        "schema_version": SCHEMA_VERSION,
        "format": "lazydit-bundle",
        "name": opts.name,
        "model": {
            "config": c.to_dict(),
            "fingerprint": fingerprint(dit),
            "parameters": count_parameters(dit),
            "latent": False,
        },
        "image": {"channels": c.in_channels, "height": c.input_size, "width": c.input_size, "value_range": [-1.0, 1.0]},
        "classes": {
            "count": c.num_classes,
            "null_class": c.num_classes,
            "names": opts.class_names or dit.class_names or [str(i) for i in range(c.num_classes)],
        },
        "batch": B,
        # guidance_scale stays for schema-1 readers; "guidance" adds the rule the graphs bake in.
        "guidance_scale": opts.cfg_scale,
        "guidance": {"scale": opts.cfg_scale, "rule": opts.guidance_rule},
        "clip_denoised": opts.clip_denoised,
        "dtype": opts.dtype,
        "schedule": {
            "file": "schedule.json",
            "heatmap": "schedule.png",
            "source": schedule.source,
            "num_steps": schedule.num_steps,
            "laziness": round(schedule.laziness(), 6),
            "max_cache_age": schedule.max_cache_age,
            "reuse": schedule.reuse,
        },
        "tensors": tensors,
        "slots": slots,
        "variants": [
            {
                "name": v.name,
                "inputs": v.input_names,
                "outputs": v.output_names,
                "reads": v.reads,
                "writes": v.writes,
                "skipped_modules": len(v.skip),
                **({"ratio_slots": v.ratio_slots} if v.forecast else {}),
                "macs_per_image": fm.step(
                    [[(b, m) in v.skip for m in range(2)] for b in range(c.depth)], opts.cfg_scale
                ),
            }
            for v in variants
        ],
        "steps": [
            {
                "index": s.index,
                "timestep": s.timestep,
                "variant": per_step[s.index],
                "coef": [float(x) for x in s.coefficients()],
                "reads": patterns[per_step[s.index]].reads,
                "writes": patterns[per_step[s.index]].writes,
                **({"ratio": list(plans[s.index].ratios)} if plans[s.index].forecast else {}),
            }
            for s in steps
        ],
        "macs": schedule.macs_per_image(c, opts.cfg_scale) | {"per_step": None},
        "targets": targets,
        "exporter": _versions(),
    }


def bundle_matches(path: Path, fp: str, sched: Schedule, targets, guidance_rule: str | None = None) -> bool:
    """Whether the bundle at ``path`` is of the model with fingerprint ``fp``, with ``sched``'s skips and reuse,
    (when given) ``guidance_rule``, and has every target: then it can be used instead of exporting again."""
    mpath = path / "manifest.json"
    if not mpath.is_file():
        return False
    try:
        m = json.loads(mpath.read_text())
        saved = json.loads((path / "schedule.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        m["model"].get("fingerprint") == fp
        and saved.get("skip") == sched.to_json()["skip"]
        and saved.get("reuse", "hold") == sched.reuse
        and (guidance_rule is None or m.get("guidance", {}).get("rule", "all-channels") == guidance_rule)
        and all(t in m["targets"] for t in targets)
    )
