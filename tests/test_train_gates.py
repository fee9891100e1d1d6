"""Gate training: the laziness / fidelity trade-off, resumable training states, the gates file it writes,
and data-parallel training under torchrun (2 CPU processes, gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lazydit.export.train_gates as tg
from lazydit import cli
from lazydit.export.checkpoint import fingerprint, save_safetensors
from lazydit.export.diffusion import alphas_cumprod, ddim_steps, ddim_timesteps, q_sample
from lazydit.export.gates import load_gates, save_gates
from lazydit.export.lazy_dit import LazyDiT
from lazydit.export.sampling import ddim_sample, initial_noise
from lazydit.export.train_gates import GateTrainingConfig, build_pool_from_data, laziness_report, train_gates

STEPS = 10


def _cfg(**kw) -> GateTrainingConfig:
    base = dict(
        num_steps=STEPS, cfg_scale=1.5, iterations=200, batch_size=8, pool_size=16, lr=1e-2, checkpoint_every=0, seed=0
    )
    base.update(kw)
    return GateTrainingConfig(**base)


@pytest.fixture
def costly_dit(pixel_dit):
    """The tiny pixel DiT with block 1's MLP amplified: skipping that module costs ~20x more than any other."""
    with torch.no_grad():
        pixel_dit.blocks[1].mlp.fc2.weight.mul_(30.0)
        pixel_dit.blocks[1].mlp.fc2.bias.mul_(30.0)
    return pixel_dit


@torch.no_grad()
def _module_laziness(dit, gates, max_cache_age=1, n=16) -> torch.Tensor:
    """(depth, 2) share of (step, sample) pairs where the module was skipped, sampling with the gates."""
    cfg = dit.config
    res = ddim_sample(
        LazyDiT(dit, gates, max_cache_age),
        torch.arange(n) % cfg.num_classes,
        initial_noise(n, cfg, 12345),
        STEPS,
        1.5,
        mode="dynamic",
        clip_denoised=False,
    )
    return 1.0 - torch.stack(res.state.decisions).float().mean(dim=(0, 1))


def test_gates_learn_laziness_where_it_is_cheap(costly_dit, tmp_path):
    dit = costly_dit
    before = fingerprint(dit)
    out = tmp_path / "gates.safetensors"
    gates, meta, report = train_gates(dit, _cfg(rho=1e-3), out, progress=False)
    hist = report["history"]
    # Zero-initialised gates compute everything: no laziness and an exact match at the start.
    assert hist[0]["laziness"] == 0.0 and hist[0]["mse"] == 0.0
    assert len(hist) == 200 and report["modules"] == 4
    # The penalty made the gates lazy ...
    late = sum(h["laziness"] for h in hist[-50:]) / 50
    assert late > 0.3
    per_step = laziness_report(LazyDiT(dit, gates, 1), STEPS, 1.5, False, num_samples=16)
    assert per_step.shape == (STEPS,)
    assert per_step[0] == 0  # step 0 has no cache
    assert per_step.mean() > 0.2
    # ... but not on the module whose skipping hurts.
    lazy = _module_laziness(dit, gates)
    costly, cheap = lazy[1, 1].item(), torch.cat([lazy[0], lazy[1, :1]])
    assert cheap.min() > 0.3
    assert costly < 0.5 * cheap.mean().item(), lazy
    # The DiT itself is frozen.
    assert fingerprint(dit) == before
    assert out.is_file() and not Path(str(out) + ".train.pt").exists()


def test_without_penalty_gates_stay_dense(pixel_dit, tmp_path):
    gates, _, report = train_gates(pixel_dit, _cfg(rho=0.0, iterations=60), tmp_path / "g.safetensors", progress=False)
    assert all(h["laziness"] == 0.0 for h in report["history"])
    assert laziness_report(LazyDiT(pixel_dit, gates, 1), STEPS, 1.5, False, num_samples=8).max() == 0
    assert torch.count_nonzero(gates.attn.weight) == 0  # no gradient ever reached them


def test_target_laziness_adapts_rho(pixel_dit, tmp_path):
    _, _, report = train_gates(
        pixel_dit, _cfg(rho=1e-8, target_laziness=0.9, iterations=40), tmp_path / "g.safetensors", progress=False
    )
    rhos = [h["rho"] for h in report["history"]]
    assert rhos[-1] > rhos[0] > 1e-8 and report["final_rho"] == rhos[-1]


def test_saved_gates_file_and_metadata(pixel_dit, tmp_path):
    out = tmp_path / "nested" / "g.safetensors"
    gates, meta, _ = train_gates(pixel_dit, _cfg(iterations=10, max_cache_age=2, cfg_scale=2.0), out, progress=False)
    loaded, lmeta = load_gates(out)
    assert lmeta == meta
    assert lmeta.num_steps == STEPS and lmeta.timesteps == tuple(ddim_timesteps(STEPS))
    assert (lmeta.depth, lmeta.hidden_size, lmeta.num_patches) == (2, 32, 16)
    assert lmeta.model_fingerprint == fingerprint(pixel_dit)
    assert (lmeta.cfg_scale, lmeta.max_cache_age, lmeta.reuse) == (2.0, 2, "hold")
    assert torch.equal(loaded.attn.weight, gates.attn.weight.detach())
    assert torch.equal(loaded.mlp.weight, gates.mlp.weight.detach())


def test_forecast_gates_train_against_the_forecast_and_say_so(costly_dit, tmp_path, monkeypatch):
    """Forecasting gates see the forecast in training: one more dense step fills the older output first."""
    seen = []
    forward = tg.GateTrainer.forward

    def spy(self, x_prev, labels, step, x_older=None):
        seen.append((step, self.older_step(step), x_older is not None))
        return forward(self, x_prev, labels, step, x_older)

    monkeypatch.setattr(tg.GateTrainer, "forward", spy)
    out = tmp_path / "g.safetensors"
    gates, meta, report = train_gates(costly_dit, _cfg(rho=1e-3, reuse="forecast", iterations=120), out, progress=False)
    assert load_gates(out)[1].reuse == meta.reuse == "forecast"
    for step, older, given in seen:
        assert older == (None if step < 2 else step - 2 if step == 2 else step - 3) and given == (older is not None)
    assert {s for s, _, _ in seen} >= {1, 2, 3}
    assert sum(h["laziness"] for h in report["history"][-30:]) / 30 > 0.3
    lazy = _module_laziness(costly_dit, gates)
    assert lazy.max() > 0.2  # the gates learned to skip with their forecasts


def test_training_resumes_from_its_state_file(pixel_dit, tmp_path, monkeypatch):
    out = tmp_path / "g.safetensors"
    state_path = tmp_path / "g.safetensors.train.pt"
    saved = []
    real_save = tg._save_training_state

    def spy(path, gates, opt, rho, iteration, *rest):
        real_save(path, gates, opt, rho, iteration, *rest)
        saved.append((iteration, Path(path).is_file()))

    def crash(*args, **kw):
        raise KeyboardInterrupt  # interrupted after the last iteration, before the gates file is written

    monkeypatch.setattr(tg, "_save_training_state", spy)
    monkeypatch.setattr(tg, "save_gates", crash)
    with pytest.raises(KeyboardInterrupt):
        train_gates(pixel_dit, _cfg(iterations=15, checkpoint_every=10, rho=1e-3), out, progress=False)
    assert saved == [(10, True)]
    assert state_path.is_file() and not out.exists()
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    assert state["iteration"] == 10 and state["rho"] == pytest.approx(1e-3)
    assert state["gates"]["attn.weight"].shape == (STEPS, 2, 32)

    monkeypatch.setattr(tg, "save_gates", save_gates)
    gates, meta, report = train_gates(
        pixel_dit, _cfg(iterations=20, checkpoint_every=10, rho=1e-3), out, progress=False
    )
    its = [h["iteration"] for h in report["history"]]
    assert its == list(range(10, 20))  # continues where the state file left off
    assert saved == [(10, True)]  # iteration 20 is the last one: no state file for it
    assert out.is_file() and not state_path.exists()
    assert load_gates(out)[1] == meta

    # resume=False starts over even when a state file exists.
    state_path.write_bytes(b"")
    _, _, report = train_gates(pixel_dit, _cfg(iterations=3), out, resume=False, progress=False)
    assert [h["iteration"] for h in report["history"]] == [0, 1, 2]


def test_pool_from_data_diffuses_to_each_timestep():
    images = torch.rand(5, 1, 16, 16) * 2 - 1
    labels = torch.arange(5) % 4
    cfg = _cfg()
    pool = build_pool_from_data(images, labels, cfg, seed=3)
    assert pool.x.shape == (STEPS, 5, 1, 16, 16) and torch.equal(pool.labels, labels)
    abar = torch.from_numpy(alphas_cumprod()).float()
    g = torch.Generator().manual_seed(3)
    for i, s in enumerate(ddim_steps(STEPS)):
        noise = torch.randn(images.shape, generator=g)
        expected = q_sample(images, torch.full((5,), s.timestep), noise, abar)
        torch.testing.assert_close(pool.x[i], expected)


def test_train_gates_on_real_data_states(pixel_dit, tmp_path):
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    labels = torch.arange(8) % 4
    gates, meta, report = train_gates(
        pixel_dit, _cfg(iterations=5), tmp_path / "g.safetensors", data=(images, labels), progress=False
    )
    assert len(report["history"]) == 5 and meta.num_steps == STEPS


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("lazydit: error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_resume_with_other_step_count_is_a_user_error(pixel_dit, tmp_path, monkeypatch, capsys):
    ckpt = tmp_path / "tiny.safetensors"
    save_safetensors(pixel_dit, ckpt, dtype=torch.float32)
    out = tmp_path / "g.safetensors"
    monkeypatch.setattr(tg, "save_gates", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        train_gates(pixel_dit, _cfg(iterations=12, checkpoint_every=10, batch_size=4, pool_size=4), out, progress=False)
    monkeypatch.undo()
    assert Path(str(out) + ".train.pt").is_file()
    rc = cli.main(
        [
            "train-gates",
            "--checkpoint",
            str(ckpt),
            "--out",
            str(out),
            "--steps",
            "20",
            "--iterations",
            "12",
            "--batch-size",
            "4",
            "--pool-size",
            "4",
        ]
    )
    assert rc == 2
    _one_error_line(capsys.readouterr().err)


def test_ddp_training_with_torchrun(pixel_dit, tmp_path):
    ckpt = tmp_path / "tiny.safetensors"
    save_safetensors(pixel_dit, ckpt, sampling={"cfg_scale": 1.5, "clip_denoised": False, "num_steps": STEPS})
    out = tmp_path / "ddp.safetensors"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "lazydit.cli",
        "train-gates",
        "--checkpoint",
        str(ckpt),
        "--out",
        str(out),
        "--steps",
        str(STEPS),
        "--iterations",
        "8",
        "--batch-size",
        "4",
        "--pool-size",
        "8",
        "--rho",
        "1e-3",
    ]
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.is_file() and not Path(str(out) + ".train.pt").exists()
    gates, meta = load_gates(out)
    from lazydit.export.checkpoint import load_dit

    assert meta.model_fingerprint == fingerprint(load_dit(ckpt))
    assert meta.num_steps == STEPS and meta.cfg_scale == 1.5
    # Only rank 0 reports.
    assert proc.stdout.count("overall laziness") == 1, proc.stdout
