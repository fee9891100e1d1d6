"""`lazydit eval` mechanics on a tiny 28x28 model: balanced fixed-seed samples, paired fidelity against the
many-step reference, MACs of what actually ran, FID floors, and the sample cache."""

import json

import numpy as np
import pytest

from lazydit.benchmarks import evaluate as ev


def test_evaluate_reports_every_metric(tiny_eval, tmp_path):
    dit, clf = tiny_eval
    res = ev.evaluate(
        dit,
        ["ddim:4", "interval:4:2", "ddim:2"],
        n=20,
        reference_steps=4,
        classifier_path=clf,
        inception=False,
        n_boot=2,
        out_dir=tmp_path / "out",
        batch_size=8,
    )
    rows = {r["method"]: r for r in res["methods"]}
    # The reference itself: identical images, PSNR at its cap and SSIM 1.
    assert rows["ddim:4"]["psnr"] == pytest.approx(100.0)
    assert rows["ddim:4"]["ssim"] == pytest.approx(1.0)
    assert rows["interval:4:2"]["psnr"] < 100.0
    # MACs follow what ran: the interval schedule skips every module on 2 of 4 steps.
    dense = rows["ddim:4"]["macs_per_image"]
    assert rows["ddim:2"]["macs_per_image"] == pytest.approx(dense / 2)
    assert rows["interval:4:2"]["laziness"] == pytest.approx(0.5)
    assert dense / 2 < rows["interval:4:2"]["macs_per_image"] < dense
    for r in rows.values():
        assert r["fid_classifier"] >= 0 and r["fid_classifier_std"] >= 0
        assert 0 <= r["accuracy"] <= 1
        # The pooled error's PSNR is never above the mean of per-image PSNRs (log is concave), the tail below.
        assert r["psnr_worst"] <= r["psnr_p5"] <= r["psnr"] and r["psnr_pooled"] <= r["psnr"] + 1e-9
    assert res["floor"]["fid_classifier"] >= 0
    saved = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert saved["n"] == 20 and (tmp_path / "out" / "samples.png").is_file()
    assert "| ddim:4 |" in ev.markdown_table(res)


def test_samples_are_balanced_seeded_and_cached(tiny_eval):
    dit, _ = tiny_eval
    m = ev.parse_method("ddim:2", dit)
    a, _, _ = ev.generate(dit, m, 12, seed=3, cfg_scale=1.5, clip_denoised=True, batch_size=5)
    # A prefix comes from the cache of the larger run and equals a fresh smaller run.
    b, _, _ = ev.generate(dit, m, 7, seed=3, cfg_scale=1.5, clip_denoised=True, batch_size=5)
    c, _, _ = ev.generate(dit, m, 7, seed=3, cfg_scale=1.5, clip_denoised=True, batch_size=7, cache=False)
    np.testing.assert_allclose(b, a[:7])
    np.testing.assert_allclose(b, c)
    assert ev.balanced_labels(12, 10).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_unknown_configuration_is_a_user_error(tiny_eval):
    from lazydit.errors import UserError

    dit, _ = tiny_eval
    with pytest.raises(UserError, match="unknown schedule .fast:3."):
        ev.parse_method("fast:3", dit)


def test_reuse_comes_from_the_gates_or_schedule_unless_a_spec_says_otherwise(tiny_eval, tmp_path):
    from lazydit.errors import UserError
    from lazydit.export.gates import GatesMeta, LazyGates, save_gates

    dit, _ = tiny_eval
    c = dit.config
    assert ev.parse_method("interval:4:2", dit).reuse == "hold"
    assert ev.parse_method("interval:4:2@forecast", dit).reuse == "forecast"
    path = tmp_path / "g.safetensors"
    save_gates(
        path,
        LazyGates(4, c.depth, c.hidden_size),
        GatesMeta(4, (750, 500, 250, 0), c.depth, c.hidden_size, c.num_patches, reuse="forecast"),
    )
    assert ev.parse_method(f"lazy:4:{path}", dit).reuse == "forecast"
    assert ev.parse_method(f"lazy:4:{path}@hold", dit).reuse == "hold"
    with pytest.raises(UserError, match="@forecast means nothing"):
        ev.parse_method("ddim:4@forecast", dit)
    # The two reuse modes are different samples, cached apart.
    hold, _, _ = ev.generate(dit, ev.parse_method("interval:4:2", dit), 3, 0, 1.5, True)
    fc, _, _ = ev.generate(dit, ev.parse_method("interval:4:2@forecast", dit), 3, 0, 1.5, True)
    assert not np.array_equal(hold, fc)  # this toy saturates to +-1 (fp16 cache), so only just
    assert len(list(ev.CACHE_DIR.glob("samples-*"))) == 2


def test_a_larger_run_extends_the_cached_prefix(tiny_eval):
    dit, _ = tiny_eval
    m = ev.parse_method("ddim:2", dit)
    small, _, _ = ev.generate(dit, m, 5, seed=1, cfg_scale=1.5, clip_denoised=True, batch_size=4)
    grown, macs, _ = ev.generate(dit, m, 9, seed=1, cfg_scale=1.5, clip_denoised=True, batch_size=4)
    fresh, fresh_macs, _ = ev.generate(dit, m, 9, seed=1, cfg_scale=1.5, clip_denoised=True, batch_size=4, cache=False)
    np.testing.assert_array_equal(grown[:5], small)
    # Sample i depends only on i (its own noise seed); batching changes only float rounding.
    np.testing.assert_allclose(grown, fresh, atol=2e-3)
    assert macs == pytest.approx(fresh_macs)
    assert sorted(p.name.rsplit("-", 1)[1] for p in ev.CACHE_DIR.glob("samples-*")) == ["n5.npz", "n9.npz"]


def test_inception_fid_against_a_fixed_subset_of_the_test_split(tiny_eval, tmp_path, missing_tool):
    from lazydit.benchmarks.metrics import find_inception_network
    from lazydit.errors import UserError

    try:
        find_inception_network()
    except UserError as e:
        missing_tool(str(e))
    dit, clf = tiny_eval
    res = ev.evaluate(
        dit,
        ["ddim:2"],
        n=10,
        reference_steps=2,
        classifier_path=clf,
        inception=True,
        inception_real_n=24,
        n_boot=2,
        batch_size=10,
    )
    assert res["inception_real_n"] == 24
    row = res["methods"][0]
    assert row["fid_inception"] > 0 and row["fid_inception_std"] >= 0
    assert res["floor"]["fid_inception"] >= 0
    assert "FID (Inception)" in ev.markdown_table(res)
