"""The `lazydit` command on bad input: one line on stderr (``lazydit: error: ...``), exit status 2, no traceback.

A few cases run the real command in a subprocess (as a user would); the rest call ``lazydit.cli.main``
in-process, which takes the same code path and is much cheaper than importing torch again.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from lazydit import cli
from lazydit.export.checkpoint import save_safetensors


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TQDM_DISABLE="1")
    return subprocess.run(
        [sys.executable, "-m", "lazydit.cli", *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def _one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("lazydit: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def tiny_ckpt(pixel_dit, tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_safetensors(pixel_dit, path)
    return path


def test_help_does_not_import_torch():
    code = (
        "import sys; from lazydit.cli import build_parser; build_parser(); "
        "assert 'torch' not in sys.modules, 'torch imported by the CLI module'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_subprocess_missing_checkpoint_for_train_gates(tmp_path):
    missing = tmp_path / "nowhere" / "model.pt"
    proc = _run("train-gates", "--checkpoint", str(missing), "--out", str(tmp_path / "g.safetensors"), cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "checkpoint not found" in line and str(missing) in line
    assert not (tmp_path / "g.safetensors").exists()


def test_subprocess_unknown_preset_for_train_dit(tmp_path):
    proc = _run("train-dit", "--preset", "no-such-preset", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "invalid choice: 'no-such-preset'" in line and "smoke" in line
    assert not (tmp_path / "run").exists()


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_subprocess_malicious_checkpoint_is_refused(pixel_dit, tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    torch.save({"model": pixel_dit.state_dict(), "payload": _Payload(marker)}, path)
    proc = _run("train-gates", "--checkpoint", str(path), "--out", str(tmp_path / "g.safetensors"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "refused to unpickle" in _one_error_line(proc.stderr)
    assert not marker.exists()


def test_model_name_that_does_not_fit_the_checkpoint(tiny_ckpt, tmp_path, capsys):
    rc = cli.main(
        ["train-gates", "--checkpoint", str(tiny_ckpt), "--model", "DiT-S/2", "--out", str(tmp_path / "g.safetensors")]
    )
    assert rc == 2
    assert "does not match the DiT config" in _one_error_line(capsys.readouterr().err)

    rc = cli.main(
        [
            "train-gates",
            "--checkpoint",
            str(tiny_ckpt),
            "--model",
            "DiT-Tiny/2",
            "--out",
            str(tmp_path / "g.safetensors"),
        ]
    )
    assert rc == 2
    assert "has shape" in _one_error_line(capsys.readouterr().err)


def test_unknown_model_name(tiny_ckpt, tmp_path, capsys):
    rc = cli.main(
        [
            "train-gates",
            "--checkpoint",
            str(tiny_ckpt),
            "--model",
            "DiT-Huge/2",
            "--out",
            str(tmp_path / "g.safetensors"),
        ]
    )
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("lazydit: error: unknown model 'DiT-Huge/2'") and "DiT-XL/2" in line


def test_head_count_needed_for_unofficial_width(pixel_dit, tmp_path, capsys):
    path = tmp_path / "plain.pt"
    torch.save(pixel_dit.state_dict(), path)
    rc = cli.main(["train-gates", "--checkpoint", str(path), "--out", str(tmp_path / "g.safetensors")])
    assert rc == 2
    assert "--num-heads" in _one_error_line(capsys.readouterr().err)


def test_existing_gates_file_needs_force(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "g.safetensors"
    out.write_bytes(b"keep me")
    rc = cli.main(["train-gates", "--checkpoint", str(tiny_ckpt), "--out", str(out), "--steps", "10"])
    assert rc == 2
    assert "pass --force" in _one_error_line(capsys.readouterr().err)
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize("steps", ["999", "1"])
def test_impossible_step_count_is_a_user_error(steps, tiny_ckpt, tmp_path, capsys):
    rc = cli.main(
        [
            "train-gates",
            "--checkpoint",
            str(tiny_ckpt),
            "--out",
            str(tmp_path / "g.safetensors"),
            "--steps",
            steps,
            "--iterations",
            "1",
            "--batch-size",
            "2",
            "--pool-size",
            "2",
        ]
    )
    assert rc == 2
    _one_error_line(capsys.readouterr().err)
