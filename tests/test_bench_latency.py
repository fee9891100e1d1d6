"""``lazydit bench latency`` on a tiny bundle set: real exports, the real runtimes (ExecuTorch from Python, the
native runner, onnxruntime), the report, its table and its plot. Speed itself is not asserted (benchmarks/)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from lazydit.benchmarks.latency import run_latency
from lazydit.benchmarks.latency_render import markdown, write_report
from lazydit.benchmarks.latency_set import BenchBundle, build_bundle_set, bundles_from_paths
from lazydit.cli import main
from lazydit.errors import UserError


def test_bundle_set_roles_and_reuse(tiny_latency_set):
    roles = [(b.role, b.label) for b in tiny_latency_set]
    assert roles == [("lazy", "LazyDiT-10 @50%"), ("ddim_n", "DDIM-10"), ("ddim_half", "DDIM-5")]
    lazy = tiny_latency_set[0]
    assert [v["skipped_modules"] for v in lazy.manifest["variants"]] == [0, 4]
    # A second call with the same model and schedules reuses the exported folders.
    from lazydit.export.model import DiT
    from lazydit.export.schedule import load_schedule

    before = {b.path: (b.path / "manifest.json").stat().st_mtime_ns for b in tiny_latency_set}
    cfg = lazy.manifest["model"]["config"]
    import torch

    from lazydit.export.model import DiTConfig
    from tests.conftest import randomize_

    torch.manual_seed(0)
    dit = randomize_(DiT(DiTConfig(**cfg)), 3).eval()
    again = build_bundle_set(dit, load_schedule(lazy.path / "schedule.json"), ("executorch",), lazy.path.parent, "tiny")
    assert [b.path for b in again] == [b.path for b in tiny_latency_set]
    assert {b.path: (b.path / "manifest.json").stat().st_mtime_ns for b in again} == before
    # The same skips forecasting are another bundle: it is not the holding one reused, nor does it replace it.
    from dataclasses import replace

    from lazydit.export.bundle import bundle_matches
    from lazydit.export.checkpoint import fingerprint

    forecasting = replace(load_schedule(lazy.path / "schedule.json"), reuse="forecast")
    assert not bundle_matches(lazy.path, fingerprint(dit), forecasting, ("executorch",))
    assert bundle_matches(lazy.path, fingerprint(dit), load_schedule(lazy.path / "schedule.json"), ("executorch",))


def test_latency_report_all_backends(tiny_latency_set, native_runner, tmp_path):
    report = run_latency(
        tiny_latency_set, ["executorch", "native", "onnxruntime"], repeat=2, warmup=1, threads=1, runner=native_runner
    )
    assert report["format"] == "lazydit-latency-report/1"
    assert {(r["backend"], r["role"]) for r in report["results"]} == {
        (b, r) for b in ("executorch", "native", "onnxruntime") for r in ("lazy", "ddim_n", "ddim_half")
    }
    info = {b["role"]: b for b in report["bundles"]}
    for r in report["results"]:
        assert r["total_ms"]["count"] == 2 and len(r["runs_ms"]) == 2
        assert 0 < r["total_ms"]["median"] <= r["total_ms"]["max"]
        # Steps are timed inside the run, so their sum cannot exceed the run.
        assert r["step_sum_ms"]["min"] <= r["total_ms"]["max"]
        assert sum(v["count"] for v in r["per_variant_step_ms"].values()) == 2 * info[r["role"]]["steps"]
        # Each configuration ran in its own process: a tiny model's peak is far below the exporting parent's.
        assert 0 < r["peak_rss_mib"] < 2048
    lazy_runs = [r for r in report["results"] if r["role"] == "lazy"]
    assert all(set(r["per_variant_step_ms"]) == {"v0", "v1"} for r in lazy_runs)
    ideal = info["ddim_n"]["macs_per_image"] / info["lazy"]["macs_per_image"]
    assert len(report["comparisons"]) == 3
    for c in report["comparisons"]:
        assert c["ideal_speedup"] == pytest.approx(ideal)
        assert c["achieved_over_ideal"] == pytest.approx(c["speedup_vs_ddim_n"] / ideal)
        assert c["lazy_over_ddim_half"] > 0
        skip_all = next(v for v in c["variants"] if v["variant"] == "v1")
        assert skip_all["ideal_speedup"] > 1 and skip_all["skipped_modules"] == 4

    paths = write_report(report, tmp_path / "lat", "tiny")
    assert json.loads(paths["json"].read_text())["format"] == "lazydit-latency-report/1"
    md = paths["md"].read_text()
    assert "| native | LazyDiT-10 @50% |" in md and "| onnxruntime | DDIM-5 |" in md
    assert md == markdown(report) + "\n"
    with Image.open(paths["png"]) as im:
        assert im.size[0] > 300 and im.size[1] > 200


def test_bundles_from_paths_needs_three_bundles(tiny_latency_set, tmp_path):
    with pytest.raises(UserError, match="three folders"):
        bundles_from_paths([b.path for b in tiny_latency_set[:2]])
    with pytest.raises(UserError, match="not a bundle"):
        bundles_from_paths([tiny_latency_set[0].path, tiny_latency_set[1].path, tmp_path])
    got = bundles_from_paths([b.path for b in tiny_latency_set])
    assert [b.role for b in got] == ["lazy", "ddim_n", "ddim_half"] and isinstance(got[0], BenchBundle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--backends", "tensorrt"], "list of executorch, native, onnxruntime, got 'tensorrt'"),
        (["--backends", "native", "--runner", "/nonexistent/lazydit_runner"], "native runner not found"),
    ],
)
def test_cli_rejects_bad_backends_in_one_line(args, needle, capsys, tmp_path):
    assert main(["bench", "latency", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "o").exists()


def test_cli_on_given_bundles(tiny_latency_set, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "bench",
                "latency",
                "--bundles",
                *[str(b.path) for b in tiny_latency_set],
                "--backends",
                "executorch",
                "--repeat",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "latency.json").read_text())
    assert report["command"].startswith("lazydit bench latency --bundles")
    assert "LazyDiT vs DDIM-N" in capsys.readouterr().out


def test_random_architecture_and_default_lazy_schedule():
    from lazydit.benchmarks.latency_set import random_dit
    from lazydit.export.checkpoint import load_dit
    from lazydit.export.schedule import load_schedule
    from lazydit.export.schedule_source import default_lazy_source, resolve_schedule
    from lazydit.models import CHECKPOINT, embedded_schedule

    dit = random_dit("DiT-S/8")
    # adaLN-Zero would leave these at zero; a latency model must compute real values everywhere.
    assert float(dit.blocks[0].adaLN_modulation[-1].weight.abs().sum()) > 0
    with pytest.raises(UserError, match="unknown model"):
        random_dit("DiT-Q/3")
    # Any other model gets interval:2; the embedded one (recognised by its weights) its committed schedule.
    assert default_lazy_source(dit, 20) == "interval:2"
    other, _ = resolve_schedule(default_lazy_source(dit, 20), dit, steps=20)
    assert other.source == "interval:2" and other.laziness() == pytest.approx(0.5)
    embedded = load_dit(CHECKPOINT)
    assert default_lazy_source(embedded, 20) == "embedded" and default_lazy_source(embedded, 10) == "interval:2"
    committed = load_schedule(embedded_schedule(20))
    assert resolve_schedule("embedded", embedded)[0].skip == committed.skip
    with pytest.raises(UserError, match="schedule has 20 steps, --steps says 10"):
        resolve_schedule(str(embedded_schedule(20)), embedded, steps=10)


def test_a_latent_bundle_reports_its_decode_time(latent_tiny_bundle):
    """The Python worker times the decoder after the last step; the report gives its statistics per result."""
    bundle, _ = latent_tiny_bundle
    report = run_latency(bundles_from_paths([bundle] * 3), ["executorch"], repeat=2, warmup=0, threads=1)
    for r in report["results"]:
        assert r["decode_ms"]["median"] > 0 and r["decode_ms"]["median"] < r["total_ms"]["median"]


def test_the_sd_vae_decoder_architecture_for_latency_runs(tmp_path, capsys):
    """``--decoder sd-vae`` builds the Stable Diffusion VAE's architecture (random weights) once; it needs --arch."""
    from diffusers import AutoencoderKL

    from lazydit.export.vae import random_vae

    folder = random_vae(tmp_path / "vae", "sd-vae")
    vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)
    assert vae.config.block_out_channels == [128, 256, 512, 512] and vae.config.latent_channels == 4
    assert 2 ** (len(vae.config.block_out_channels) - 1) == 8  # 32x32 latents to 256x256 images, as DiT-XL/2-256
    assert 83e6 < sum(p.numel() for p in vae.parameters()) < 84e6  # the SD VAE's 83.7M parameters
    capsys.readouterr()  # the library's own warnings above
    assert main(["bench", "latency", "--decoder", "sd-vae", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--decoder adds a random decoder to an --arch model" in err[0]
