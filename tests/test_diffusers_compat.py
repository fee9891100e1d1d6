"""diffusers DiT folders load with ``--checkpoint DIR``: small random-weight pipelines built with the installed
diffusers and saved with ``save_pretrained`` (both transformer classes hub DiT folders use) give diffusers'
transformer outputs, and a guided DDIM trajectory equals ``DiTPipeline`` with a ``DDIMScheduler`` set to the same
timesteps, eagerly and from an exported bundle (ExecuTorch and onnxruntime), with the folder's VAE as decoder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from lazydit.errors import UserError
from lazydit.export.checkpoint import load_dit
from lazydit.export.diffusion import ddim_timesteps
from lazydit.export.lazy_dit import LazyDiT
from lazydit.export.sampling import ddim_sample
from lazydit.export.vae import decode_latents, load_vae

from helpers import read_manifest, run_export

diffusers = pytest.importorskip("diffusers")

NUM_CLASSES = 1000  # DiTPipeline hard-codes the null class 1000, so the tiny models have ImageNet's class count
STEPS, SCALE, LABELS, SEED = 10, 1.5, [1, 998], 3
# The DDIMScheduler that reproduces DiT's respaced DDIM ("ddim10" of ADM's space_timesteps): ADM's linear betas,
# timesteps 900, 800, ..., 0 ("leading" spacing, no offset), alpha_bar_prev of the last step 1 (set_alpha_to_one),
# eps prediction, no clipping (DiT's sampler does not clip latents), eta 0 (DDIMScheduler.step's default).
SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.0001,
    beta_end=0.02,
    beta_schedule="linear",
    clip_sample=False,
    set_alpha_to_one=True,
    steps_offset=0,
    timestep_spacing="leading",
    prediction_type="epsilon",
)
TRANSFORMER = dict(
    num_attention_heads=2,
    attention_head_dim=16,
    in_channels=4,
    out_channels=8,
    num_layers=2,
    sample_size=8,
    patch_size=2,
    num_embeds_ada_norm=NUM_CLASSES,
    norm_type="ada_norm_zero",
    activation_fn="gelu-approximate",
    attention_bias=True,
    norm_elementwise_affine=False,
)


class RecordingDDIM(diffusers.DDIMScheduler):
    """diffusers' DDIMScheduler, keeping every x it produces (DiTPipeline returns only the decoded image)."""

    def step(self, model_output, timestep, sample, *args, **kwargs):
        out = super().step(model_output, timestep, sample, *args, **kwargs)
        self.recorded.append(out.prev_sample.clone())
        return out


def _transformer(cls_name: str):
    torch.manual_seed(0)
    model = getattr(diffusers, cls_name)(**TRANSFORMER).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.08)  # random everywhere: adaLN-Zero's zero init would make every block the identity
        # A converted official DiT has one timestep/class embedder, copied into every block.
        sd = model.state_dict()
        for k, v in sd.items():
            if ".norm1.emb." in k and not k.startswith("transformer_blocks.0."):
                v.copy_(sd["transformer_blocks.0." + k.split(".", 2)[2]])
    return model


def _vae():
    torch.manual_seed(1)
    return diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=16,
    ).eval()


@pytest.fixture(scope="module", params=["DiTTransformer2DModel", "Transformer2DModel"])
def pipeline(request, tmp_path_factory):
    """(folder, pipeline): a DiTPipeline folder as save_pretrained writes it, with id2label in model_index.json as
    hub DiT folders carry it."""
    folder = tmp_path_factory.mktemp("diffusers") / "dit"
    pipe = diffusers.DiTPipeline(_transformer(request.param), _vae(), RecordingDDIM(**SCHEDULER))
    pipe.save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["id2label"] = {str(i): f"class {i}" for i in range(NUM_CLASSES)}
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder, pipe


@pytest.fixture(scope="module")
def reference(pipeline):
    """DiTPipeline's guided run: every x of the conditional half, the noise it drew and its decoded image."""
    _, pipe = pipeline
    pipe.scheduler.recorded = []
    gen = torch.Generator().manual_seed(SEED)
    images = pipe(LABELS, guidance_scale=SCALE, generator=gen, num_inference_steps=STEPS, output_type="np")
    # the pipeline's latents come from randn_tensor: torch.randn with the generator on the CPU
    noise = torch.randn((len(LABELS), 4, 8, 8), generator=torch.Generator().manual_seed(SEED))
    xs = [noise] + [x[: len(LABELS)] for x in pipe.scheduler.recorded]
    return torch.stack(xs), torch.from_numpy(np.asarray(images.images))


def test_folder_loads_with_its_config_classes_and_vae(pipeline):
    folder, pipe = pipeline
    dit = load_dit(folder)
    c = dit.config
    assert (c.input_size, c.patch_size, c.in_channels, c.hidden_size, c.depth, c.num_heads) == (8, 2, 4, 32, 2, 2)
    assert (c.num_classes, c.learn_sigma, c.mlp_norm_eps, c.timestep_freq_shift) == (NUM_CLASSES, True, 1e-5, 1)
    assert dit.class_names[:2] == ["class 0", "class 1"] and len(dit.class_names) == NUM_CLASSES
    assert dit.sampling_defaults["guidance_rule"] == "all-channels"
    assert dit.vae_folder == folder / "vae"
    # the null class is the table's extra row, as the pipeline's label 1000
    assert dit.y_embedder.embedding_table.num_embeddings == NUM_CLASSES + 1


def test_forward_equals_the_diffusers_transformer(pipeline):
    folder, pipe = pipeline
    dit = load_dit(folder)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 4, 8, 8, generator=g)
    t = torch.tensor([999, 500, 17, 0])
    y = torch.tensor([3, 7, 999, NUM_CLASSES])
    with torch.no_grad():
        theirs = pipe.transformer(x, timestep=t, class_labels=y).sample
        mine = dit(x, t, y)
    torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)


def test_guided_ddim_trajectory_equals_dit_pipeline(pipeline, reference):
    folder, pipe = pipeline
    assert pipe.scheduler.timesteps.tolist() == ddim_timesteps(STEPS)
    xs, images = reference
    dit = load_dit(folder)
    res = ddim_sample(
        LazyDiT(dit), torch.tensor(LABELS), xs[0], STEPS, SCALE, clip_denoised=False, keep_trajectory=True
    )
    for i, (mine, theirs) in enumerate(zip(res.trajectory, xs)):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4, msg=lambda m, i=i: f"x before step {i}: {m}")
    decoded = decode_latents(load_vae(folder / "vae"), res.images)
    torch.testing.assert_close((decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1), images, rtol=1e-4, atol=1e-4)


# One export suffices: both classes load to the same model (the tests above).
@pytest.mark.parametrize("pipeline", ["DiTTransformer2DModel"], indirect=True)
def test_bundle_of_a_diffusers_folder_matches_dit_pipeline(pipeline, reference, tmp_path, capsys):
    """``lazydit export --checkpoint DIR``: the folder's VAE becomes the decode graph, its labels the class names,
    all-channels guidance the rule; ExecuTorch and onnxruntime end at the pipeline's latent and image."""
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    folder, pipe = pipeline
    xs, images = reference
    out = tmp_path / "bundle"
    args = ["--checkpoint", str(folder), "--schedule", f"ddim:{STEPS}", "--targets", "executorch,onnx"]
    rc, _, err = run_export(capsys, *args, "--batch", str(len(LABELS)), "--cfg-scale", str(SCALE), "--out", str(out))
    assert rc == 0, err
    m = read_manifest(out)
    assert m["guidance"] == {"scale": SCALE, "rule": "all-channels"}
    assert m["model"]["latent"] and m["decoder"]["latent_scale"] == pipe.vae.config.scaling_factor
    assert m["classes"]["names"][998] == "class 998" and m["classes"]["null_class"] == NUM_CLASSES
    assert m["model"]["config"]["timestep_freq_shift"] == 1
    bundle = load_bundle(out)
    for backend in ("executorch", "onnxruntime"):
        res = Scheduler(bundle, create_backend(backend, bundle)).run(LABELS, noise=xs[0].numpy())
        torch.testing.assert_close(torch.from_numpy(res.latent), xs[-1], rtol=1e-4, atol=1e-4)
        image = torch.from_numpy(np.asarray(res.image)) / 2 + 0.5
        torch.testing.assert_close(image.clamp(0, 1).permute(0, 2, 3, 1), images, rtol=1e-4, atol=1e-4)


def _copy(folder, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


def _edit_config(path, **changes):
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


def test_bad_folders_are_refused_with_the_fix(pipeline, tmp_path):
    folder, _ = pipeline
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="folder without model_index.json"):
        load_dit(tmp_path / "empty")

    bad = _copy(folder, tmp_path)
    _edit_config(bad / "transformer" / "config.json", _class_name="UNet2DModel")
    with pytest.raises(UserError, match="is a UNet2DModel, not a DiT"):
        load_dit(bad)
    _edit_config(bad / "transformer" / "config.json", _class_name="Transformer2DModel", norm_type="ada_norm_single")
    with pytest.raises(UserError, match="norm_type 'ada_norm_single' is not a DiT's"):
        load_dit(bad)
    _edit_config(bad / "transformer" / "config.json", norm_type="ada_norm_zero")
    (bad / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(UserError, match="no weights .* download the folder's weights"):
        load_dit(bad)

    other = _copy(folder, tmp_path / "sched")
    _edit_config(other / "scheduler" / "scheduler_config.json", beta_schedule="scaled_linear")
    with pytest.raises(UserError, match="beta_schedule is 'scaled_linear'"):
        load_dit(other)
