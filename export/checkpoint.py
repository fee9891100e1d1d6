"""Loading and saving DiT weights safely: official ``.pt`` checkpoints, safetensors and diffusers DiT folders
(:mod:`lazydit.export.diffusers_dit`).

Never unpickles arbitrary objects: ``.pt`` files go through ``torch.load(..., weights_only=True)``, with
``argparse.Namespace`` allowed because the official training script stores its arguments that way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lazydit.errors import UserError
from lazydit.files import atomic_write

from .diffusion import ALL_CHANNELS, OFFICIAL_GUIDANCE
from .model import DEFAULT_SAMPLING, DiT, DiTConfig

# Head counts of the official sizes; the head count is the one config value a state_dict cannot show.
_OFFICIAL_HEADS = {1152: 16, 1024: 16, 768: 12, 384: 6}
CONFIG_METADATA_KEY = "lazydit.dit_config"
SAMPLING_METADATA_KEY = "lazydit.sampling"
CLASS_NAMES_METADATA_KEY = "lazydit.class_names"
DATASET_METADATA_KEY = "lazydit.dataset"


def infer_config(state_dict: dict[str, torch.Tensor], num_heads: int | None = None) -> DiTConfig:
    """Rebuild the config from parameter shapes (official checkpoints carry no config)."""
    try:
        proj = state_dict["x_embedder.proj.weight"]
        hidden, in_channels, patch, _ = proj.shape
        num_patches = state_dict["pos_embed"].shape[1]
        depth = 1 + max(int(k.split(".")[1]) for k in state_dict if k.startswith("blocks."))
        table = state_dict["y_embedder.embedding_table.weight"].shape[0]
        out = state_dict["final_layer.linear.weight"].shape[0] // (patch * patch)
        mlp_hidden = state_dict["blocks.0.mlp.fc1.weight"].shape[0]
    except (KeyError, ValueError, IndexError) as e:
        raise UserError(
            f"not a DiT state_dict (missing or malformed {e}); expected facebookresearch/DiT key names"
        ) from None
    grid = int(round(num_patches**0.5))
    if num_heads is None:
        num_heads = _OFFICIAL_HEADS.get(hidden)
        if num_heads is None:
            raise UserError(f"cannot tell the head count of a DiT with hidden size {hidden}; pass --num-heads")
    # The official label table has one extra row (the null class) when class dropout is on.
    try:
        return DiTConfig(
            input_size=grid * patch,
            patch_size=patch,
            in_channels=in_channels,
            hidden_size=hidden,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_hidden / hidden,
            class_dropout_prob=0.1,
            num_classes=table - 1,
            learn_sigma=out == 2 * in_channels,
        )
    except ValueError as e:
        raise UserError(f"the checkpoint's shapes make no DiT ({e}); check --num-heads or --model") from None


def _read_pt(path: Path, weights: str) -> dict[str, torch.Tensor]:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch names the offending global as "Unsupported global: GLOBAL module.name"; keep only that.
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f"it references {found.group(1)}" if found else "it is not a plain tensor pickle"
        raise UserError(
            f"{path}: refused to unpickle ({what}); only tensors are loaded: "
            "convert it to a plain state_dict or safetensors"
        ) from None
    except Exception as e:  # noqa: BLE001 - any other failure of torch.load means the file is damaged
        raise UserError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}); check the file or re-download it"
        ) from None
    if isinstance(obj, dict) and weights in obj and isinstance(obj[weights], dict):
        obj = obj[weights]
    elif isinstance(obj, dict) and ("ema" in obj or "model" in obj):
        key = "ema" if "ema" in obj else "model"
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path}: expected a state_dict (or a dict holding 'ema'/'model'), found {type(obj).__name__}")
    return obj


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about itself besides its weights (official ``.pt`` files say nothing)."""

    config: DiTConfig | None = None
    sampling: dict = field(default_factory=lambda: dict(DEFAULT_SAMPLING))
    class_names: list[str] | None = None
    vae: Path | None = None  # a diffusers folder's vae/, the decoder unless --vae says otherwise


def _class_names(meta: dict[str, str], path: Path) -> list[str] | None:
    """Class names stored in the metadata, else those of the data set it records training on."""
    if CLASS_NAMES_METADATA_KEY in meta:
        try:
            names = json.loads(meta[CLASS_NAMES_METADATA_KEY])
        except ValueError as e:
            raise UserError(f"{path}: bad class names in metadata ({e})") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise UserError(f"{path}: class names in metadata must be a list of strings")
        return names
    from .data import DATASET_CLASSES

    return DATASET_CLASSES.get(meta.get(DATASET_METADATA_KEY, ""))


def read_checkpoint(path: str | Path, weights: str = "ema") -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """The state_dict in a checkpoint file and, for our safetensors, what its metadata says beside it."""
    path = Path(path)
    if path.is_dir():
        from .diffusers_dit import is_diffusers_folder, read_diffusers_folder

        if not is_diffusers_folder(path) and not (path / "config.json").is_file():
            raise UserError(
                f"{path} is a folder without model_index.json or transformer/config.json; pass --checkpoint with "
                "a diffusers DiT folder (DiTPipeline.save_pretrained), an official .pt or a .safetensors file"
            )
        sd, config, names, vae = read_diffusers_folder(path)
        # diffusers' DiTPipeline guides every eps channel.
        return sd, CheckpointMeta(config, dict(DEFAULT_SAMPLING, guidance_rule=ALL_CHANNELS), names, vae)
    if not path.is_file():
        raise UserError(
            f"checkpoint not found: {path}; pass --checkpoint with a .pt or .safetensors file or a diffusers DiT folder"
        )
    if path.suffix != ".safetensors":
        # An official .pt is sampled as the official sample.py does: guidance on the first three channels.
        official = dict(DEFAULT_SAMPLING, guidance_rule=OFFICIAL_GUIDANCE)
        return _read_pt(path, weights), CheckpointMeta(sampling=official)
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as e:
        raise UserError(f"{path}: not a readable safetensors file ({e})") from None
    config = None
    sampling = dict(DEFAULT_SAMPLING)
    try:
        sampling.update(json.loads(meta.get(SAMPLING_METADATA_KEY, "{}")))
    except ValueError as e:
        raise UserError(f"{path}: bad sampling metadata ({e})") from None
    # Without a recorded rule a model of ours is sampled with guidance on every eps channel (guidance_rule_of),
    # as every model was before the rule was recorded; the manifest of its bundles states it.
    if sampling.get("guidance_rule", ALL_CHANNELS) not in (ALL_CHANNELS, OFFICIAL_GUIDANCE):
        raise UserError(
            f"{path}: unknown guidance_rule {sampling['guidance_rule']!r} in the sampling metadata; "
            f"use {OFFICIAL_GUIDANCE} or {ALL_CHANNELS}"
        )
    if CONFIG_METADATA_KEY in meta:
        try:
            config = DiTConfig.from_dict(json.loads(meta[CONFIG_METADATA_KEY]))
        except (ValueError, TypeError) as e:
            raise UserError(f"{path}: bad DiT config in metadata ({e})") from None
    return sd, CheckpointMeta(config, sampling, _class_names(meta, path))


def load_dit(
    path: str | Path, config: DiTConfig | None = None, weights: str = "ema", num_heads: int | None = None
) -> DiT:
    """A DiT in eval mode with the checkpoint's weights (fp32), config from the file or inferred from shapes."""
    sd, meta = read_checkpoint(path, weights)
    # A diffusers folder's config says everything (and holds values no official config name has).
    config = meta.config if Path(path).is_dir() else config or meta.config or infer_config(sd, num_heads)
    model = DiT(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{path}: does not match the DiT config (missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}); check the model name or --num-heads"
        )
    for k, v in sd.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise UserError(f"{path}: {k} has shape {tuple(v.shape)}, the config needs {tuple(expected[k].shape)}")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise UserError(f"{path}: {k} holds NaN or infinite values; the checkpoint is damaged, re-download it")
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    model.sampling_defaults = dict(meta.sampling)
    if meta.class_names is not None and len(meta.class_names) == config.num_classes:
        model.class_names = list(meta.class_names)
    model.vae_folder = meta.vae
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def save_safetensors(
    model: DiT,
    path: str | Path,
    dtype: torch.dtype = torch.float16,
    extra: dict | None = None,
    sampling: dict | None = None,
) -> None:
    """Weights (in ``dtype``) plus the config and sampling defaults as metadata, written atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    meta = {CONFIG_METADATA_KEY: json.dumps(model.config.to_dict())}
    if sampling is not None:
        meta[SAMPLING_METADATA_KEY] = json.dumps(sampling)
    if getattr(model, "class_names", None):
        meta[CLASS_NAMES_METADATA_KEY] = json.dumps(model.class_names)
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    with atomic_write(path) as tmp:
        save_file(sd, str(tmp), metadata=meta)


def fingerprint(model: DiT) -> str:
    """sha256 of the weights rounded to fp16: the same for an fp32 checkpoint and its fp16 copy."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().to(torch.float16).contiguous().numpy().tobytes())
    return h.hexdigest()


def is_same_model(model: DiT, path: Path) -> bool:
    """Whether ``model`` has the weights of our safetensors checkpoint at ``path`` (config compared first, so a
    different model costs no hashing)."""
    if not path.is_file():
        return False
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        stored = (f.metadata() or {}).get(CONFIG_METADATA_KEY)
    if stored is None or DiTConfig.from_dict(json.loads(stored)) != model.config:
        return False
    return fingerprint(model) == fingerprint(load_dit(path))
