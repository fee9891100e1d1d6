"""``lazydit export`` and ``lazydit sample`` as a user runs them: refusals in one line that leave nothing
behind, and images with latency from a bundle.
"""

from __future__ import annotations

import sys

import pytest

from lazydit import cli
from lazydit.export.checkpoint import fingerprint, load_dit
from lazydit.export.diffusion import ddim_timesteps
from lazydit.export.gates import GatesMeta, LazyGates, save_gates
from lazydit.export.schedule import interval_schedule

from helpers import TINY_STEPS, file_tree, lazydit, one_error_line, run_export


def test_existing_output_is_refused_without_force(tmp_path, tiny_ckpt, capsys):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = file_tree(out)
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "torch",
        "--out",
        str(out),
    )
    assert rc == 2
    line = one_error_line(err)
    assert str(out) in line and "--force" in line
    assert file_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_output_under_a_regular_file_is_one_line_and_leaves_nothing(tmp_path, tiny_ckpt, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "bundle"
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "torch",
        "--out",
        str(out),
    )
    assert rc == 2
    line = one_error_line(err)
    assert "cannot write to" in line and str(blocker) in line and "--out" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"], "no .bundle.partial (or anything) left"


def test_failed_export_removes_its_partial_folder_and_keeps_the_old_bundle(tmp_path, tiny_ckpt, capsys):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("previous bundle")
    before = file_tree(out)
    # A refused export with --force must not have touched the bundle it would replace (the interrupted exports of
    # tests/test_hostile_inputs.py show the partial folder removed once it has been filled).
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "torch",
        "--batch",
        "0",
        "--force",
        "--out",
        str(out),
    )
    assert rc == 2
    one_error_line(err)
    assert file_tree(out) == before, "a failed --force export must leave the existing bundle as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_bad_batch_error_names_the_option(tmp_path, tiny_ckpt, capsys):
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        "interval:2",
        "--steps",
        "10",
        "--targets",
        "torch",
        "--batch",
        "0",
        "--out",
        str(tmp_path / "b"),
    )
    assert rc == 2
    line = one_error_line(err)
    assert "--batch" in line and ".partial" not in line


def test_schedule_for_another_depth_is_refused(tmp_path, tiny_ckpt, capsys):
    path = tmp_path / "deep.json"
    interval_schedule(10, 3, 2).save(path)
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        str(path),
        "--targets",
        "torch",
        "--out",
        str(tmp_path / "b"),
    )
    assert rc == 2
    line = one_error_line(err)
    assert str(path) in line and "depth 3" in line and "depth 2" in line
    assert not (tmp_path / "b").exists()


def test_schedule_for_another_step_count_is_refused(tmp_path, tiny_ckpt, capsys):
    path = tmp_path / "s20.json"
    interval_schedule(20, 2, 2).save(path)
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        str(path),
        "--steps",
        "10",
        "--targets",
        "torch",
        "--out",
        str(tmp_path / "b"),
    )
    assert rc == 2
    line = one_error_line(err)
    assert "20 steps" in line and "--steps says 10" in line
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("mismatch", ["depth", "weights"])
def test_gates_for_another_model_are_refused(tmp_path, tiny_ckpt, capsys, mismatch):
    dit = load_dit(tiny_ckpt)
    c = dit.config
    depth = c.depth + 1 if mismatch == "depth" else c.depth
    fp = "0" * 64 if mismatch == "weights" else fingerprint(dit)
    gates_path = tmp_path / "gates.safetensors"
    save_gates(
        gates_path,
        LazyGates(TINY_STEPS, depth, c.hidden_size),
        GatesMeta(TINY_STEPS, tuple(ddim_timesteps(TINY_STEPS)), depth, c.hidden_size, c.num_patches, fp),
    )
    rc, _, err = run_export(
        capsys,
        "--checkpoint",
        str(tiny_ckpt),
        "--schedule",
        "lazydit",
        "--gates",
        str(gates_path),
        "--steps",
        str(TINY_STEPS),
        "--targets",
        "torch",
        "--out",
        str(tmp_path / "b"),
    )
    assert rc == 2
    line = one_error_line(err)
    assert str(gates_path) in line and "lazydit train-gates" in line
    assert ("depth 3" in line) if mismatch == "depth" else ("other weights" in line)
    assert not (tmp_path / "b").exists()


def test_sample_with_onnxruntime_writes_a_png_and_prints_latency(interval_bundle, tmp_path):
    out = tmp_path / "grid.png"
    proc = lazydit(
        "sample",
        "--bundle",
        str(interval_bundle),
        "--backend",
        "onnxruntime",
        "--n",
        "3",
        "--classes",
        "0,3",
        "--out",
        str(out),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = proc.stdout.splitlines()[0]
    assert first.startswith("onnxruntime: 3 run(s), total ") and "ms median" in first and "per step median" in first
    assert f"over {TINY_STEPS} steps" in first and "variants: " + " ".join(["v0", "v1"] * 5) in first
    assert f"wrote {out}" in proc.stdout


def test_sample_with_executorch_writes_a_png_and_prints_latency(interval_bundle, tmp_path, capsys):
    out = tmp_path / "grid.png"
    rc = cli.main(
        [
            "sample",
            "--bundle",
            str(interval_bundle),
            "--backend",
            "executorch",
            "--n",
            "2",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert text.startswith("executorch: 2 run(s), total ") and "ms" in text


def test_sample_with_coreml_on_linux_is_one_line(interval_bundle, tmp_path, capsys):
    if sys.platform == "darwin":
        pytest.skip("Core ML runs on macOS")
    out = tmp_path / "grid.png"
    rc = cli.main(["sample", "--bundle", str(interval_bundle), "--backend", "coreml", "--n", "1", "--out", str(out)])
    assert rc == 2
    line = one_error_line(capsys.readouterr().err)
    assert "macOS" in line and "--backend executorch or onnxruntime" in line
    assert not out.exists()


def test_an_export_that_cannot_fit_is_refused_before_anything_is_allocated():
    from lazydit.errors import UserError
    from lazydit.export.bundle import check_memory

    # DiT-XL/2 (675M parameters) with a forecasting interval:2 schedule's four variants: 15.1 GiB at the least.
    with pytest.raises(UserError, match=r"needs at least 15.1 GiB, only 8.0 GiB is available"):
        check_memory(675_129_632, 4, ("executorch",), available=8 * 2**30)
    check_memory(675_129_632, 4, ("executorch",), available=24 * 2**30)
    check_memory(675_129_632, 4, ("onnx",), available=8 * 2**30)  # one traced copy only: 7.5 GiB
