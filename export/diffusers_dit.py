"""Reading a diffusers DiT folder (as ``DiTPipeline.save_pretrained`` writes it, e.g. facebook/DiT-XL-2-256) into
our facebookresearch/DiT parameter names.

Layouts taken: a pipeline folder (``model_index.json``, ``transformer/``, ``vae/``, ``scheduler/``) or a bare
transformer folder (``config.json`` plus weights). The transformer is a ``DiTTransformer2DModel`` or the older
``Transformer2DModel`` with ``norm_type="ada_norm_zero"`` (the class hub DiT folders name); both store the same
parameters. Weights are read from safetensors, or from ``.bin`` with ``torch.load(weights_only=True)``; nothing
is imported from diffusers and nothing is downloaded.

diffusers keeps one copy of the timestep and class embedders per block (the conversion from the official
checkpoint copies the single official one into each), and differs from the official DiT in two details that
:class:`DiTConfig` carries: the LayerNorm eps before each MLP (``norm_eps``) and the timestep frequencies
(``downscale_freq_shift=1``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lazydit.errors import UserError

from .model import DiTConfig, get_2d_sincos_pos_embed

TRANSFORMER_CLASSES = ("DiTTransformer2DModel", "Transformer2DModel")
_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")
_BIN_FILES = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin")
# The diffusers default of norm_eps for both transformer classes (a config that omits it means this).
_DIFFUSERS_NORM_EPS = 1e-5


def _json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not readable JSON ({e}); re-download the diffusers folder") from None
    if not isinstance(d, dict):
        raise UserError(f"{path}: expected a JSON object; re-download the diffusers folder")
    return d


def is_diffusers_folder(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in ("model_index.json", "transformer/config.json"))


def transformer_folder(root: Path) -> Path:
    """The folder that holds the transformer's config.json and weights."""
    if (root / "transformer" / "config.json").is_file():
        return root / "transformer"
    if (root / "config.json").is_file():
        return root
    raise UserError(
        f"{root}: no transformer/config.json; pass --checkpoint with a diffusers DiT folder "
        "(as DiTPipeline.save_pretrained writes it), an official .pt or a .safetensors file"
    )


def config_from_diffusers(cfg: dict, where: Path, sd: dict[str, torch.Tensor]) -> DiTConfig:
    """Our config from a transformer's config.json (and the weights, for the MLP width and the null class)."""
    cls = cfg.get("_class_name")
    if cls not in TRANSFORMER_CLASSES:
        raise UserError(
            f"{where}: the transformer is a {cls or 'model of unknown class'}, not a DiT; "
            f"pass a folder whose transformer is one of {', '.join(TRANSFORMER_CLASSES)}"
        )
    norm_type = cfg.get("norm_type", "ada_norm_zero" if cls == "DiTTransformer2DModel" else "layer_norm")
    if norm_type != "ada_norm_zero":
        raise UserError(
            f"{where}: norm_type {norm_type!r} is not a DiT's; only norm_type 'ada_norm_zero' (adaLN-Zero) converts"
        )
    # What an absent key means is the class's default: DiT's values for DiTTransformer2DModel, others for the
    # general Transformer2DModel (hub DiT folders state all three).
    dit_class = cls == "DiTTransformer2DModel"
    checks = {
        "activation_fn": ("gelu-approximate", cfg.get("activation_fn", "gelu-approximate" if dit_class else "geglu")),
        "norm_elementwise_affine": (False, cfg.get("norm_elementwise_affine", not dit_class)),
        "attention_bias": (True, cfg.get("attention_bias", dit_class)),
    }
    for key, (want, got) in checks.items():
        if got != want:
            raise UserError(f"{where}: {key} {got!r} differs from DiT's {want!r}; this transformer cannot convert")
    try:
        heads, head_dim = int(cfg["num_attention_heads"]), int(cfg["attention_head_dim"])
        in_ch = int(cfg["in_channels"])
        out_ch = int(cfg.get("out_channels") or in_ch)
        patch, size, depth = int(cfg["patch_size"]), int(cfg["sample_size"]), int(cfg["num_layers"])
        num_classes = int(cfg["num_embeds_ada_norm"])
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{where}: config.json lacks or mangles {e}; this is not a DiT transformer config") from None
    if out_ch not in (in_ch, 2 * in_ch):
        raise UserError(f"{where}: out_channels {out_ch} is neither in_channels nor twice it; not a DiT")
    hidden = heads * head_dim
    fc1 = sd.get("transformer_blocks.0.ff.net.0.proj.weight")
    table = sd.get("transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight")
    if fc1 is None or table is None:
        raise UserError(f"{where}: the weights lack the first block's MLP or class table; re-download the folder")
    try:
        return DiTConfig(
            input_size=size,
            patch_size=patch,
            in_channels=in_ch,
            hidden_size=hidden,
            depth=depth,
            num_heads=heads,
            mlp_ratio=fc1.shape[0] / hidden,
            # The table has a null-class row exactly when the model was trained with class dropout.
            class_dropout_prob=0.1 if table.shape[0] == num_classes + 1 else 0.0,
            num_classes=num_classes,
            learn_sigma=out_ch == 2 * in_ch,
            mlp_norm_eps=float(cfg.get("norm_eps", _DIFFUSERS_NORM_EPS)),
            timestep_freq_shift=1,
        )
    except ValueError as e:
        raise UserError(f"{where}: config.json makes no DiT ({e})") from None


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    files = [folder / f for f in _WEIGHT_FILES if (folder / f).is_file()][:1]
    if not files and index.is_file():
        shards = sorted(set(_json(index).get("weight_map", {}).values()))
        files = [folder / s for s in shards]
        missing = [f.name for f in files if not f.is_file() or f.resolve().parent != folder.resolve()]
        if missing:
            raise UserError(f"{folder}: weight shards {missing[:3]} are missing; re-download the diffusers folder")
    if files:
        sd = {}
        for f in files:
            try:
                with safe_open(str(f), framework="pt") as st:
                    sd.update({k: st.get_tensor(k) for k in st.keys()})
            except SafetensorError as e:
                raise UserError(f"{f}: not a readable safetensors file ({e}); re-download it") from None
        return sd
    bins = [folder / f for f in _BIN_FILES if (folder / f).is_file()]
    if bins:
        try:
            obj = torch.load(str(bins[0]), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - refused pickles and damaged files alike end here
            raise UserError(
                f"{bins[0]}: not loadable as plain tensors ({type(e).__name__}); convert it to safetensors"
            ) from None
        if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        raise UserError(f"{bins[0]}: expected a state_dict of tensors; convert it to safetensors")
    raise UserError(
        f"{folder}: no weights (diffusion_pytorch_model.safetensors or .bin); download the folder's weights too"
    )


def convert_state_dict(sd: dict[str, torch.Tensor], config: DiTConfig, where: Path) -> dict[str, torch.Tensor]:
    """diffusers parameter names to facebookresearch/DiT ones; every diffusers tensor must be used."""
    sd = dict(sd)
    out: dict[str, torch.Tensor] = {}

    def take(name: str) -> torch.Tensor:
        try:
            return sd.pop(name)
        except KeyError:
            raise UserError(f"{where}: the weights lack {name}; re-download the diffusers folder") from None

    def move(src: str, dst: str) -> None:
        for suffix in ("weight", "bias"):
            out[f"{dst}.{suffix}"] = take(f"{src}.{suffix}")

    emb = "transformer_blocks.{}.norm1.emb."
    embedders = {
        "timestep_embedder.linear_1": "t_embedder.mlp.0",
        "timestep_embedder.linear_2": "t_embedder.mlp.2",
    }
    move("pos_embed.proj", "x_embedder.proj")
    for src, dst in embedders.items():
        move(emb.format(0) + src, dst)
    out["y_embedder.embedding_table.weight"] = take(emb.format(0) + "class_embedder.embedding_table.weight")
    for b in range(config.depth):
        p = f"transformer_blocks.{b}."
        if b > 0:
            # The official DiT has one embedder; a folder whose blocks embed differently has no DiT equivalent.
            for src, dst in [*embedders.items(), ("class_embedder.embedding_table", "y_embedder.embedding_table")]:
                for suffix in ("weight", "bias"):
                    key = f"{emb.format(b)}{src}.{suffix}"
                    if key in sd and not torch.equal(sd.pop(key), out[f"{dst}.{suffix}"]):
                        raise UserError(
                            f"{where}: block {b}'s {src} differs from block 0's; only DiTs with one shared "
                            "timestep and class embedder (as converted from facebookresearch/DiT) convert"
                        )
        move(p + "norm1.linear", f"blocks.{b}.adaLN_modulation.1")
        qkv = [take(f"{p}attn1.to_{n}.{s}") for s in ("weight", "bias") for n in "qkv"]
        out[f"blocks.{b}.attn.qkv.weight"] = torch.cat(qkv[:3], 0)
        out[f"blocks.{b}.attn.qkv.bias"] = torch.cat(qkv[3:], 0)
        move(p + "attn1.to_out.0", f"blocks.{b}.attn.proj")
        move(p + "ff.net.0.proj", f"blocks.{b}.mlp.fc1")
        move(p + "ff.net.2", f"blocks.{b}.mlp.fc2")
    move("proj_out_1", "final_layer.adaLN_modulation.1")
    move("proj_out_2", "final_layer.linear")
    if sd:
        left = sorted(sd)
        raise UserError(
            f"{where}: {len(left)} weight(s) have no DiT counterpart ({', '.join(left[:3])}); "
            "this transformer is not a plain DiT"
        )
    # diffusers computes the fixed sin-cos position embedding at load time; the official checkpoint stores it.
    grid = config.input_size // config.patch_size
    out["pos_embed"] = torch.from_numpy(get_2d_sincos_pos_embed(config.hidden_size, grid)).float().unsqueeze(0)
    return out


def _class_names(root: Path, tcfg: dict, num_classes: int) -> list[str] | None:
    """``id2label`` of model_index.json (where DiTPipeline keeps it) or of the transformer config."""
    index = _json(root / "model_index.json") if (root / "model_index.json").is_file() else {}
    id2label = index.get("id2label") or tcfg.get("id2label")
    if not isinstance(id2label, dict):
        return None
    try:
        names = {int(k): str(v) for k, v in id2label.items()}
    except (TypeError, ValueError):
        raise UserError(f"{root}: id2label keys must be class numbers; fix model_index.json") from None
    if sorted(names) != list(range(num_classes)):
        raise UserError(f"{root}: id2label names {len(names)} classes, the transformer has {num_classes}")
    return [names[i] for i in range(num_classes)]


def _check_scheduler(root: Path) -> None:
    """Our sampler is DDIM over ADM's linear 1000-step schedule on eps; a folder trained otherwise would sample
    wrongly without a word, so it is refused."""
    path = root / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        return
    cfg = _json(path)
    want = {
        "num_train_timesteps": 1000,
        "beta_schedule": "linear",
        "beta_start": 0.0001,
        "beta_end": 0.02,
        "prediction_type": "epsilon",
    }
    for key, value in want.items():
        got = cfg.get(key, value)
        if got != value and not (isinstance(value, float) and isinstance(got, float) and np.isclose(got, value)):
            raise UserError(
                f"{path}: {key} is {got!r}, but the sampler here uses DiT's {value!r}; "
                "only DiTs trained on the linear 1000-step eps schedule are supported"
            )


def read_diffusers_folder(root: Path):
    """(state_dict in our names, config, class names, the folder's VAE or None)."""
    folder = transformer_folder(root)
    tcfg = _json(folder / "config.json")
    if tcfg.get("_class_name") not in TRANSFORMER_CLASSES:
        # Checked before the weights are read: a UNet folder would otherwise fail on a missing key.
        config_from_diffusers(tcfg, folder, {})
    raw = _read_weights(folder)
    config = config_from_diffusers(tcfg, folder, raw)
    sd = convert_state_dict(raw, config, folder)
    _check_scheduler(root)
    vae = root / "vae" if (root / "vae" / "config.json").is_file() else None
    return sd, config, _class_names(root, tcfg, config.num_classes), vae
