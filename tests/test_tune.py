"""``lazydit tune`` on a tiny 28x28 model: graphs timed on the native runner, candidates composed and scored on
held-out seeds, the pick under the budget, its bundle exported and runnable; and the rules on their own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lazydit.benchmarks.tune import candidate_specs, pick, run_tune, scores
from lazydit.errors import UserError


def test_pooled_psnr_counts_an_outlier_the_mean_hides():
    ref = np.zeros((10, 1, 4, 4), dtype=np.float32)
    images = ref + 0.01
    images[0] += 0.5  # one bad image
    s = scores(images, ref)
    assert s["psnr_worst"] == pytest.approx(10 * np.log10(4 / 0.51**2), rel=1e-5)
    assert s["psnr_pooled"] < s["psnr_mean"] - 5  # the mean of per-image dB is carried by the nine good ones
    assert s["psnr_worst"] <= s["psnr_p5"] <= s["psnr_mean"]


def _row(spec, family, latency, pooled, p5):
    return {"spec": spec, "family": family, "latency_ms": latency, "psnr_pooled": pooled, "psnr_p5": p5}


def test_the_pick_is_the_best_pooled_psnr_under_the_budget_that_keeps_ddims_tail():
    rows = [
        _row("ddim:5", "DDIM", 40, 24.0, 20.0),
        _row("ddim:7", "DDIM", 60, 27.0, 23.0),
        _row("ddim:9", "DDIM", 80, 29.0, 25.0),  # over the budget
        _row("interval:10:2@forecast", "LazyDiT", 55, 30.0, 22.0),  # better mean, worse tail than DDIM-7
        _row("interval:12:2@forecast", "LazyDiT", 59, 29.5, 23.5),
        _row("interval:20:2@forecast", "LazyDiT", 120, 40.0, 35.0),  # over the budget
    ]
    best, ddim = pick(rows, 60)
    assert ddim["spec"] == "ddim:7"
    assert best["spec"] == "interval:12:2@forecast"
    assert pick(rows, 30) == (None, None)


def test_candidates_cover_ddim_and_every_interval_both_ways():
    specs = {c.spec for c in candidate_specs((2, 3), 6)}
    assert {"ddim:2", "ddim:6", "interval:3:2@hold", "interval:12:2@forecast", "interval:4:3@forecast"} <= specs
    assert not any(c.steps <= c.interval for c in candidate_specs((2, 3), 6) if c.family == "LazyDiT")
    # Every DDIM step count even with a stride; none that 1000 timesteps cannot be respaced to.
    many = candidate_specs((2,), 40, stride=2)
    assert {c.steps for c in many if c.family == "DDIM"} >= {5, 7, 9} and "interval:37:2@hold" not in {
        c.spec for c in candidate_specs((2,), 40)
    }


def test_tune_picks_measures_and_exports(tiny_eval, tmp_path, native_runner):
    dit, _ = tiny_eval
    # A budget of about ten dense steps of this model on this machine, from the same timing the tuner does.
    from lazydit.benchmarks.quality import measure_step_graphs

    graphs = measure_step_graphs(dit, tmp_path / "bundles", "native", native_runner, 2, 1, "tune")
    budget = 10 * (graphs["dense_step_ms"] + graphs["loop_ms_per_step"])
    res = run_tune(
        dit,
        budget,
        "host-native",
        quick=True,
        out_dir=tmp_path / "t",
        bundle_dir=tmp_path / "bundles",
        runner=native_runner,
        threads=1,
        n=8,
    )
    saved = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert saved["format"] == "lazydit-tune/1" and saved["n"] == 8
    rows = saved["candidates"]
    assert {r["family"] for r in rows} == {"DDIM", "LazyDiT"} and {r["reuse"] for r in rows} >= {"hold", "forecast"}
    assert all(np.isfinite(r["psnr_pooled"]) and r["psnr_worst"] <= r["psnr_p5"] for r in rows)
    best, ddim = res["pick"], res["ddim_under_budget"]
    assert best is not None and best["latency_ms"] <= budget
    assert best == max(
        (r for r in rows if r["latency_ms"] <= budget and r["psnr_p5"] >= ddim["psnr_p5"]),
        key=lambda r: (r["psnr_pooled"], r["psnr_p5"]),
    )
    for name in ("frontier.png", "worst.png"):
        assert (tmp_path / "t" / name).stat().st_size > 0
    # The exported bundle runs the picked schedule.
    from lazydit.runtime.backends import create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    bundle = load_bundle(tmp_path / "t" / "bundle")
    assert bundle.manifest["schedule"]["num_steps"] == best["steps"]
    image = Scheduler(bundle, create_backend("executorch", bundle)).run([3], seed=0).image
    assert np.isfinite(image).all()
    with pytest.raises(UserError, match="exists; pass --force"):
        run_tune(dit, budget, "host-native", True, tmp_path / "t", tmp_path / "bundles", native_runner, 1, 8)
    with pytest.raises(UserError, match="no schedule fits"):
        run_tune(dit, 1e-6, "host-native", True, tmp_path / "t2", tmp_path / "bundles", native_runner, 1, 8)


def test_tune_refuses_what_it_cannot_do(tiny_eval, tmp_path, native_runner):
    dit, _ = tiny_eval
    with pytest.raises(UserError, match="positive number"):
        run_tune(dit, 0.0, "host-native", True, tmp_path / "t", tmp_path / "b", native_runner)
    with pytest.raises(UserError, match="needs the native runner"):
        run_tune(dit, 50.0, "host-native", True, tmp_path / "t", tmp_path / "b", tmp_path / "no-runner")
