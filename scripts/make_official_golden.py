"""Writes test fixtures from the *official* facebookresearch/DiT code, so that the tests can check that our
DiT loads its checkpoints and reproduces its outputs and DDIM sampler without that code (or timm) installed.

    python scripts/make_official_golden.py --dit-repo PATH_TO_DiT_CHECKOUT --out tests/data/official

Needs torch, timm and numpy. Writes a tiny random-weight official checkpoint (a raw state_dict and a
training-style dict with 'model'/'ema'/'args') and the official outputs for fixed inputs: forward passes, DDIM
samples without guidance, and a full guided DDIM trajectory (10 steps, guidance 1.5) of the 4-channel model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dit-repo", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    sys.path.insert(0, str(args.dit_repo))
    from diffusion import create_diffusion  # official

    from models import DiT  # official

    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = dict(
        input_size=8,
        patch_size=2,
        in_channels=4,
        hidden_size=64,
        depth=2,
        num_heads=4,
        num_classes=10,
        learn_sigma=True,
        class_dropout_prob=0.1,
    )
    model = DiT(**cfg).eval()
    # Random weights everywhere (the zero-initialised adaLN would make every output trivially zero).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "pos_embed":
                p.normal_(0.0, 0.08)
    sd = model.state_dict()
    torch.save(sd, args.out / "dit_tiny_raw.pt")
    torch.save(
        {"model": sd, "ema": sd, "args": argparse.Namespace(model="tiny", image_size=16)},
        args.out / "dit_tiny_train.pt",
    )

    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 4, 8, 8, generator=g)
    t = torch.tensor([999, 500, 17, 0])
    y = torch.tensor([3, 7, 10, 10])
    with torch.no_grad():
        out = model(x, t, y)
        out_cfg = model.forward_with_cfg(x, t, y, 1.5)
    outputs = {"x": x, "t": t, "y": y, "out": out, "out_cfg": out_cfg}

    timesteps = {}
    for n in (5, 10, 20, 25, 50, 100, 250):
        d = create_diffusion(f"ddim{n}")
        timesteps[n] = [int(v) for v in d.timestep_map]
    d = create_diffusion("ddim10")
    noise = torch.randn(2, 4, 8, 8, generator=g)
    labels = torch.tensor([1, 2])
    for clip in (False, True):
        with torch.no_grad():
            sample = d.ddim_sample_loop(
                model.forward,
                noise.shape,
                noise.clone(),
                clip_denoised=clip,
                model_kwargs=dict(y=labels),
                progress=False,
                device="cpu",
            )
        outputs[f"ddim10_clip{int(clip)}"] = sample
    outputs["ddim_noise"], outputs["ddim_labels"] = noise, labels

    # Guided sampling exactly as the official sample.py does it: the noise and the labels doubled with the null
    # class, forward_with_cfg (which guides the first three output channels only), clip_denoised off, then the
    # conditional half kept. Every intermediate x is stored so that a mismatch shows at the step it starts.
    z = torch.cat([noise, noise], 0)
    y_cfg = torch.cat([labels, torch.full_like(labels, cfg["num_classes"])], 0)
    trajectory = [noise]
    with torch.no_grad():
        for step in d.ddim_sample_loop_progressive(
            model.forward_with_cfg,
            z.shape,
            z.clone(),
            clip_denoised=False,
            model_kwargs=dict(y=y_cfg, cfg_scale=1.5),
            progress=False,
            device="cpu",
        ):
            trajectory.append(step["sample"][: len(noise)])
    outputs["ddim10_cfg1.5_trajectory"] = torch.stack(trajectory)
    torch.save(outputs, args.out / "official_outputs.pt")
    (args.out / "official.json").write_text(
        json.dumps(
            {"config": cfg, "ddim_timestep_map": timesteps, "dit_commit": "facebookresearch/DiT@ed81ce2"}, indent=1
        )
    )
    print("wrote", sorted(p.name for p in args.out.iterdir()))


if __name__ == "__main__":
    main()
