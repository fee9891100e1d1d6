"""``lazydit bench quality`` on a tiny 28x28 model: step graphs timed on the native runner, configurations
evaluated (classifier FID, paired PSNR), latencies composed from the measured graphs, verdicts and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lazydit.benchmarks.quality import markdown, run_quality, static_latency_ms, write
from lazydit.errors import UserError


def test_quality_against_latency(tiny_eval, tmp_path, native_runner):
    dit, clf = tiny_eval
    res = run_quality(
        dit,
        [2, 4],
        ["interval:4:2", "interval:6:3", "interval:6:2@forecast"],
        n=16,
        paired_n=16,
        inception=False,
        out_dir=tmp_path / "q",
        bundle_dir=tmp_path / "bundles",
        backend="native",
        runner=native_runner,
        repeat=2,
        threads=1,
        reference_steps=8,
        classifier_path=clf,
        n_boot=2,
        batch_size=8,
    )
    g = res["step_graphs"]
    assert (
        min(g[k] for k in ("dense_step_ms", "full_step_ms", "cached_step_ms", "full_delta_step_ms", "forecast_step_ms"))
        > 0
    )
    rows = {r["method"]: r for r in res["methods"]}
    loop = g["loop_ms_per_step"]
    assert rows["ddim:4"]["latency_ms"] == pytest.approx(4 * (g["dense_step_ms"] + loop))
    # interval:4:2 = full (its cache is read later), cached, full, cached.
    assert rows["interval:4:2"]["latency_ms"] == pytest.approx(
        2 * g["full_step_ms"] + 2 * g["cached_step_ms"] + 4 * loop
    )
    # Forecasting: every full step writes deltas, every all-cached step forecasts (the first with r = 0).
    assert rows["interval:6:2@forecast"]["latency_ms"] == pytest.approx(
        3 * g["full_delta_step_ms"] + 3 * g["forecast_step_ms"] + 6 * loop
    )
    assert rows["interval:6:2@forecast"]["reuse"] == "forecast" and rows["interval:4:2"]["reuse"] == "hold"
    assert rows["interval:6:3"]["laziness"] == pytest.approx(4 / 6)
    assert {r["family"] for r in res["methods"]} == {"DDIM", "LazyDiT"}
    assert [v["label"] for v in res["verdicts"]] == [
        rows[k]["label"] for k in ("interval:4:2", "interval:6:3", "interval:6:2@forecast")
    ]
    assert all(v["axis"] == "latency_ms" for v in res["verdicts"])
    paths = write(res, tmp_path / "q")
    assert json.loads(paths["json"].read_text())["latency_report"]["format"] == "lazydit-latency-report/1"
    assert paths["md"].read_text() == markdown(res) + "\n"
    assert "LazyDiT-4 interval:2 hold (50%)" in markdown(res)
    assert "LazyDiT-6 interval:2 forecast (50%)" in markdown(res)
    with Image.open(paths["png"]) as im:
        assert im.size[0] > 1000


def test_partly_lazy_steps_are_refused():
    from lazydit.export.schedule import Schedule

    graphs = {"dense_step_ms": 2.0, "full_step_ms": 2.2, "cached_step_ms": 0.3, "loop_ms_per_step": 0.1}
    masks = np.zeros((3, 2, 2), dtype=bool)
    masks[1] = True
    assert static_latency_ms(Schedule(3, 2, masks.tolist()), graphs) == pytest.approx(2.2 + 0.3 + 2.0 + 0.3)
    masks[2, 0, 0] = True
    with pytest.raises(UserError, match="all-computed or all-cached"):
        static_latency_ms(Schedule(3, 2, masks.tolist()), graphs)
