"""Training a small class-conditional pixel-space DiT from scratch (the DiT/ADM eps-prediction objective).

EMA weights, AdamW, tqdm, resumable checkpoints and a sample grid per checkpoint. Named presets reproduce the
embedded model (see ``models/README.md``) with one command.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lazydit.errors import UserError
from lazydit.files import atomic_write
from lazydit.runtime.images import save_png_grid

from .checkpoint import save_safetensors
from .data import load_dataset
from .diffusion import NUM_TRAIN_TIMESTEPS, alphas_cumprod, q_sample
from .lazy_dit import LazyDiT
from .model import DiT, DiTConfig, count_parameters
from .names import TRAIN_PRESETS
from .sampling import ddim_sample, initial_noise


@dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"
    model: dict = field(default_factory=dict)  # DiTConfig fields
    steps: int = 20000
    batch_size: int = 256
    lr: float = 3e-4
    warmup: int = 500
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 2000
    sample_steps: int = 20
    cfg_scale: float = 1.5
    clip_denoised: bool = True
    hflip: bool = False


_PIXEL_BASE = dict(
    input_size=28, in_channels=1, num_classes=10, learn_sigma=False, class_dropout_prob=0.1, mlp_ratio=4.0
)

PRESETS: dict[str, TrainConfig] = {
    # The embedded default: ~9.6M parameters, 49 tokens; trained on one GPU (see models/README.md).
    "fashion-dit-s4": TrainConfig(
        dataset="fashion-mnist",
        model=dict(_PIXEL_BASE, patch_size=4, hidden_size=256, depth=8, num_heads=4),
        steps=30000,
        batch_size=256,
        lr=3e-4,
        warmup=1000,
        ema_decay=0.9995,
        checkpoint_every=5000,
    ),
    # The same recipe sized for this project's 2-core CPU: trains in under an hour there.
    "fashion-dit-cpu": TrainConfig(
        dataset="fashion-mnist",
        model=dict(_PIXEL_BASE, patch_size=4, hidden_size=192, depth=6, num_heads=3),
        steps=2400,
        batch_size=128,
        lr=6e-4,
        warmup=200,
        ema_decay=0.995,
        checkpoint_every=400,
    ),
    "mnist-dit-cpu": TrainConfig(
        dataset="mnist",
        model=dict(_PIXEL_BASE, patch_size=4, hidden_size=192, depth=6, num_heads=3),
        steps=2400,
        batch_size=128,
        lr=6e-4,
        warmup=200,
        ema_decay=0.995,
        checkpoint_every=400,
    ),
    # Seconds-long run for tests.
    "smoke": TrainConfig(
        dataset="fashion-mnist",
        model=dict(_PIXEL_BASE, patch_size=4, hidden_size=32, depth=2, num_heads=2),
        steps=20,
        batch_size=16,
        lr=1e-3,
        warmup=5,
        ema_decay=0.9,
        checkpoint_every=10,
        sample_steps=5,
    ),
}
# The CLI offers the preset names without importing torch: they must be this table's keys.
assert tuple(PRESETS) == TRAIN_PRESETS, "lazydit.export.names.TRAIN_PRESETS is out of date"


def _lr_at(step: int, cfg: TrainConfig) -> float:
    # Linear warm-up, then constant as in DiT: a run stopped early equals the same preset with fewer steps.
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup)


def train_dit(
    cfg: TrainConfig,
    out_dir: Path,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
    max_minutes: float | None = None,
) -> Path:
    """Train, writing ``checkpoint.pt`` (resumable), ``samples/step_N.png`` and ``ema.safetensors`` (fp16)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    config = DiTConfig(**cfg.model)
    data = load_dataset(cfg.dataset, "train")
    images = torch.from_numpy(data.images).to(device)
    labels = torch.from_numpy(data.labels).to(device)
    model = DiT(config).to(device)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    abar = torch.from_numpy(alphas_cumprod()).float().to(device)
    start, elapsed = 0, 0.0
    ckpt_path = out_dir / "checkpoint.pt"
    if resume and ckpt_path.is_file():
        saved = torch.load(str(ckpt_path), map_location=device, weights_only=True)
        if saved["config"] != config.to_dict():
            raise UserError(f"{ckpt_path} was trained with another model config; use a new --out folder")
        model.load_state_dict(saved["model"])
        ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["opt"])
        start, elapsed = int(saved["step"]), float(saved.get("elapsed", 0.0))
        print(f"resuming at step {start} from {ckpt_path}")
    print(f"DiT parameters: {count_parameters(model):,} ({config.num_patches} tokens)")
    use_amp = device.startswith("cuda")
    ema_params = [p for p in ema.parameters()]
    model_params = [p for p in model.parameters()]
    g = torch.Generator(device=device).manual_seed(cfg.seed + start)
    t0 = time.time() - elapsed
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="training DiT", disable=not progress)
    model.train()
    log = []
    for step in bar:
        idx = torch.randint(0, images.shape[0], (cfg.batch_size,), device=device, generator=g)
        x0, y = images[idx], labels[idx]
        if cfg.hflip:
            flip = torch.rand(x0.shape[0], device=device, generator=g) < 0.5
            x0 = torch.where(flip.view(-1, 1, 1, 1), x0.flip(-1), x0)
        t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (x0.shape[0],), device=device, generator=g)
        noise = torch.randn(x0.shape, device=device, generator=g)
        xt = q_sample(x0, t, noise, abar)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
            out = model(xt, t, y)
        loss = F.mse_loss(out[:, : config.in_channels].float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            d = min(cfg.ema_decay, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema_params, model_params, 1 - d)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            log.append({"step": step, "loss": loss.item(), "minutes": (time.time() - t0) / 60})
        done = step + 1
        out_of_time = max_minutes is not None and (time.time() - t0) / 60 >= max_minutes
        if done % cfg.checkpoint_every == 0 or done == cfg.steps or out_of_time:
            _checkpoint(model, ema, opt, config, cfg, done, time.time() - t0, out_dir, device)
            model.train()
        if out_of_time:
            print(f"stopping at step {done}: --max-minutes {max_minutes} reached")
            break
    ema_cpu = copy.deepcopy(ema).float().cpu()
    minutes = (time.time() - t0) / 60
    # The rule is stated so that readers need not know the default: our models are guided on every eps channel.
    sampling = {
        "cfg_scale": cfg.cfg_scale,
        "clip_denoised": cfg.clip_denoised,
        "num_steps": cfg.sample_steps,
        "guidance_rule": "all-channels",
    }
    final = out_dir / "ema.safetensors"
    save_safetensors(
        ema_cpu,
        final,
        torch.float16,
        sampling=sampling,
        extra={
            "lazydit.dataset": cfg.dataset,
            "lazydit.train_steps": str(done),
            "lazydit.train_minutes": f"{minutes:.1f}",
            "lazydit.device": _device_name(device),
        },
    )
    (out_dir / "train_log.json").write_text(
        json.dumps(
            {"config": asdict(cfg), "steps": done, "minutes": minutes, "device": _device_name(device), "log": log},
            indent=1,
        )
    )
    return final


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"cpu ({torch.get_num_threads()} threads)"


def _checkpoint(model, ema, opt, config, cfg, step, elapsed, out_dir, device) -> None:
    with atomic_write(out_dir / "checkpoint.pt") as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "elapsed": elapsed,
                "config": config.to_dict(),
            },
            str(tmp),
        )
    ema_cpu = copy.deepcopy(ema).float().cpu()
    n_per = 10
    labels = torch.arange(config.num_classes).repeat_interleave(n_per)
    noise = initial_noise(len(labels), config, 1000)
    with torch.no_grad():
        res = ddim_sample(
            LazyDiT(ema_cpu), labels, noise, cfg.sample_steps, cfg.cfg_scale, clip_denoised=cfg.clip_denoised
        )
    # One row per class.
    grid = res.images.view(config.num_classes, n_per, *res.images.shape[1:]).reshape(-1, *res.images.shape[1:])
    save_png_grid(
        grid.numpy(), out_dir / "samples" / f"step_{step:06d}.png", ncol=n_per, scale=max(1, 256 // config.input_size)
    )
