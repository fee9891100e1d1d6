"""After an export: every variant of every target that runs here against the eager graph on the same inputs,
and a whole sampling trajectory through the runtime scheduler against eager lazy sampling."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lazydit.errors import UserError

from .diffusion import manifest_guidance_rule
from .graphs import StepGraph, Variant, example_inputs
from .lazy_dit import LazyDiT
from .model import DiT
from .sampling import ddim_sample
from .schedule import Schedule

TOLERANCES = {"float32": {"variant": 1e-4, "trajectory": 1e-3}, "float16": {"variant": 5e-2, "trajectory": 1e-1}}
# int8 weights change the model itself: the check then bounds the quantization error, it is not a parity check.
INT8_TOLERANCES = {"variant": 0.25, "trajectory": 0.25}


def runnable_backends(manifest: dict) -> list[str]:
    out = []
    if "executorch" in manifest["targets"]:
        out.append("executorch")
    if "onnx" in manifest["targets"]:
        out.append("onnxruntime")
    if "coreml" in manifest["targets"] and platform.system() == "Darwin":
        out.append("coreml")
    return out


def _what_is_wrong(err: float) -> str:
    if np.isfinite(err):
        return "the export is wrong, please report it"
    return "the graphs compute non-finite values: check the checkpoint's weights and the guidance scale"


@torch.no_grad()
def verify_bundle(
    root: Path,
    dit: DiT,
    schedule: Schedule,
    progress: bool = True,
    seed: int = 0,
    quantized: bool = False,
    decoder=None,
) -> dict:
    """Raise UserError above tolerance; return the measured errors."""
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler, initial_noise

    from . import reference_backend  # noqa: F401  (registers the torch backend the check may run)

    bundle = load_bundle(root)
    m = bundle.manifest
    tol = TOLERANCES[m["dtype"]]
    dtype = torch.float32 if m["dtype"] == "float32" else torch.float16
    ref_model = dit if dtype == torch.float32 else _half(dit)
    rule = manifest_guidance_rule(m)
    report: dict = {"tolerances": tol, "variants": {}, "trajectory": {}}
    if m["dtype"] == "float16":
        report["note"] = "fp16 graphs are compared with the fp16 eager graph; fp16 arithmetic differs by kernel"
    for backend_name in runnable_backends(m):
        tol = INT8_TOLERANCES if quantized and backend_name == "executorch" else TOLERANCES[m["dtype"]]
        backend = create_backend(backend_name, bundle)
        errs = {}
        for v in tqdm(m["variants"], desc=f"verify {backend_name}", leave=False, disable=not progress):
            variant = Variant.from_manifest(v)
            ins = example_inputs(ref_model, variant, m["batch"], m["guidance_scale"], dtype, seed=seed + 1)
            ref = StepGraph(ref_model, variant, m["guidance_scale"], m.get("clip_denoised", False), rule).eval()(*ins)
            got = backend.run(v["name"], [a.numpy() for a in ins])
            err = max(
                float(np.abs(np.asarray(g, dtype=np.float32) - r.float().numpy()).max()) for g, r in zip(got, ref)
            )
            errs[v["name"]] = err
            # "not err <= tol": NaN compares false with everything, so a NaN error must fail, not pass.
            if not err <= tol["variant"]:
                raise UserError(
                    f"{backend_name} variant {v['name']} differs from eager by {err:.3g} "
                    f"(tolerance {tol['variant']}); {_what_is_wrong(err)}"
                )
        report["variants"][backend_name] = errs
        if "decoder" in m:
            report.setdefault("decoder", {})[backend_name] = _check_decoder(
                backend, backend_name, bundle, decoder, dtype, tol, seed
            )
        # Whole trajectory against eager lazy sampling from the same noise and label.
        noise = initial_noise(bundle, seed)
        labels = list(range(m["batch"]))
        labels = [c % m["classes"]["count"] for c in labels]
        result = Scheduler(bundle, backend).run(labels, noise=noise)
        eager = ddim_sample(
            LazyDiT(ref_model, max_cache_age=schedule.max_cache_age, reuse=schedule.reuse),
            torch.tensor(labels),
            torch.from_numpy(noise).to(dtype),
            schedule.num_steps,
            m["guidance_scale"],
            mode="static",
            skip_masks=torch.tensor(schedule.skip, dtype=torch.bool),
            clip_denoised=m.get("clip_denoised", False),
            guidance_rule=rule,
        ).images
        err = float(np.abs(result.latent.astype(np.float32) - eager.float().numpy()).max())
        report["trajectory"][backend_name] = err
        if not err <= tol["trajectory"] or not np.isfinite(result.latent).all():
            raise UserError(
                f"{backend_name} trajectory differs from eager sampling by {err:.3g} "
                f"(tolerance {tol['trajectory']}); {_what_is_wrong(err)}"
            )
        if progress:
            tqdm.write(
                f"verified {backend_name}: max variant error {max(errs.values()):.2e}, final image error {err:.2e}"
            )
    return report


def _check_decoder(backend, backend_name: str, bundle, decoder, dtype, tol: dict, seed: int) -> float:
    """The exported ``decode`` graph against the eager decoder on a random latent."""
    g = torch.Generator().manual_seed(seed + 7)
    lat = torch.randn(*bundle.manifest["tensors"]["x"]["shape"], generator=g).to(dtype)
    err = float(
        np.abs(np.asarray(backend.run_decoder(lat.numpy()), dtype=np.float32) - decoder(lat).float().numpy()).max()
    )
    if not err <= tol["variant"]:
        raise UserError(
            f"{backend_name} decoder differs from eager by {err:.3g} (tolerance {tol['variant']}); "
            f"{_what_is_wrong(err)}"
        )
    return err


def _half(dit: DiT) -> DiT:
    import copy

    return copy.deepcopy(dit).half()
