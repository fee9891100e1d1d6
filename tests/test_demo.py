"""``lazydit demo --latent``'s path on a tiny latent DiT: export with the decode graph, run on ExecuTorch, write
the images; the second call reuses the bundle."""

from __future__ import annotations

import json

from PIL import Image

from lazydit.demo import run_latent_demo


def test_the_latent_demo_exports_runs_and_decodes(tmp_path, capsys):
    grid = run_latent_demo(tmp_path, model="DiT-Tiny/2")
    out = capsys.readouterr().out
    m = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert m["model"]["latent"] and m["targets"]["executorch"]["decoder"] == "decode"
    assert m["image"]["height"] == m["image"]["width"] == 64  # 8x8 latents through an 8x-upsampling decoder
    with Image.open(grid) as img:
        assert img.mode == "RGB" and img.width > 10 * 64
    assert "ms of decoding" in out and "images 64x64" in out
    stamp = (tmp_path / "bundle" / "manifest.json").stat().st_mtime_ns
    run_latent_demo(tmp_path, model="DiT-Tiny/2")
    assert (tmp_path / "bundle" / "manifest.json").stat().st_mtime_ns == stamp, "a matching bundle is reused"
