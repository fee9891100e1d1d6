"""Calibration: from gates to one static schedule with exactly the target number of skips.

The schedule builders are checked property-style over random priorities (numpy seeds); ``calibrate`` runs end
to end on a tiny random DiT, where every number it reports can be recomputed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lazydit.errors import UserError
from lazydit.export.calibrate import (
    CalibrationConfig,
    EndToEnd,
    calibrate,
    draw_heatmap,
    greedy_schedule,
    max_skips,
    trim_schedule,
)
from lazydit.export.gates import LazyGates
from lazydit.export.lazy_dit import LazyDiT
from lazydit.export.schedule import Schedule, interval_schedule

SEEDS = range(40)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run ~10x faster on one intra-op thread than on two busy cores fighting over them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _longest_reuse(skip: np.ndarray) -> int:
    """Longest run of consecutive skips of any one module (the oldest cache any step reads)."""
    longest = 0
    S, D, _ = skip.shape
    for b, m in itertools.product(range(D), range(2)):
        run = 0
        for i in range(S):
            run = run + 1 if skip[i, b, m] else 0
            longest = max(longest, run)
    return longest


def _obeys_rules(skip: np.ndarray, max_age: int) -> bool:
    return not skip[0].any() and _longest_reuse(skip) <= max_age


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    S, D, age = int(rng.integers(2, 13)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    # Half the cases with many ties: the builders must still be deterministic and legal.
    prio = rng.random((S, D, 2)) if seed % 2 else rng.integers(0, 3, (S, D, 2)).astype(float)
    target = int(rng.integers(0, max_skips(S, D, age) + 1))
    return rng, S, D, age, prio, target


def _best_per_module(S: int, age: int) -> int:
    """Brute force: most skips one module can have over S steps (step 0 computes, runs <= age)."""
    best = 0
    for bits in itertools.product((False, True), repeat=S - 1):
        mask = np.array((False, *bits)).reshape(S, 1, 1).repeat(2, axis=2)
        if _longest_reuse(mask) <= age:
            best = max(best, sum(bits))
    return best


@pytest.mark.parametrize("S", range(1, 12))
@pytest.mark.parametrize("age", [1, 2, 3, 4])
def test_max_skips_is_the_true_maximum(S, age):
    assert max_skips(S, 3, age) == _best_per_module(S, age) * 3 * 2


@pytest.mark.parametrize("seed", SEEDS)
def test_greedy_schedule_obeys_the_rules_and_stops_at_target(seed):
    _, S, D, age, prio, target = _random_case(seed)
    skip = greedy_schedule(prio, target, age)
    assert skip.shape == (S, D, 2) and skip.dtype == bool
    assert _obeys_rules(skip, age)
    assert skip.sum() <= target
    if skip.sum() < target:
        # It may fall short only when no single further skip is legal.
        for idx in zip(*np.nonzero(~skip)):
            trial = skip.copy()
            trial[idx] = True
            assert not _obeys_rules(trial, age), f"greedy stopped at {skip.sum()}/{target} but {idx} was free"
    assert np.array_equal(skip, greedy_schedule(prio, target, age)), "not deterministic"


@pytest.mark.parametrize("seed", SEEDS)
def test_greedy_schedule_keeps_its_start_and_skips_low_priority_first(seed):
    rng, S, D, age, prio, target = _random_case(seed)
    start = np.array(interval_schedule(S, D, age + 1).skip, dtype=bool)
    grown = greedy_schedule(prio, max(target, int(start.sum())), age, start=start)
    assert (grown >= start).all() and _obeys_rules(grown, age)
    # With a target of one skip, the pick is the lowest-priority entry outside step 0.
    prio = rng.random((S, D, 2))
    one = greedy_schedule(prio, 1, age)
    if S > 1:
        assert one.sum() == 1 and prio[one][0] == prio[1:].min()


@pytest.mark.parametrize("seed", SEEDS)
def test_trim_schedule_unskips_the_highest_priorities(seed):
    rng, S, D, age, _, _ = _random_case(seed)
    prio = rng.random((S, D, 2))
    full = greedy_schedule(rng.random((S, D, 2)), max_skips(S, D, age), age)
    target = int(rng.integers(0, full.sum() + 1))
    before = full.copy()
    trimmed = trim_schedule(full, prio, target)
    assert np.array_equal(full, before), "the input schedule must not be modified"
    assert trimmed.sum() == target
    assert (trimmed <= full).all(), "trim may only un-skip"
    assert _obeys_rules(trimmed, age), "un-skipping can never make a cache older"
    dropped = full & ~trimmed
    if trimmed.any() and dropped.any():
        assert prio[trimmed].max() < prio[dropped].min()


# --- calibrate() end to end -----------------------------------------------------------------------------------


def _lazy(dit, steps: int, age: int, gate_std: float = 0.0) -> LazyDiT:
    c = dit.config
    gates = LazyGates(steps, c.depth, c.hidden_size)
    if gate_std:
        torch.manual_seed(1)
        with torch.no_grad():
            gates.attn.weight.normal_(0, gate_std)
            gates.mlp.weight.normal_(0, gate_std)
    return LazyDiT(dit, gates, age)


def _config(steps: int, laziness: float, age: int, **kw) -> CalibrationConfig:
    base = dict(cfg_scale=1.5, seeds_per_class=1, heldout_per_class=1, search_evaluations=12, seed=0)
    return CalibrationConfig(num_steps=steps, laziness=laziness, max_cache_age=age, **(base | kw))


@pytest.mark.parametrize("gate_std", [0.0, 0.05], ids=["zero-gates", "random-gates"])
def test_calibrate_meets_the_target_exactly_within_the_rules(pixel_dit, gate_std):
    steps, age, laziness = 10, 2, 0.4
    lazy = _lazy(pixel_dit, steps, age, gate_std)
    cfg = _config(steps, laziness, age)
    sched, report = calibrate(lazy, cfg, progress=False)
    target = round(laziness * steps * pixel_dit.config.depth * 2)
    skip = np.array(sched.skip, dtype=bool)
    assert skip.shape == (steps, pixel_dit.config.depth, 2)
    assert sched.num_skipped() == target
    assert sched.laziness() == pytest.approx(target / skip.size)
    assert not skip[0].any(), "step 0 must compute everything"
    assert _longest_reuse(skip) <= age
    assert (sched.source, sched.max_cache_age, sched.cfg_scale) == ("lazydit", age, 1.5)
    sched.validate()

    scores = np.array(report["gate_keep_scores"])
    assert scores.shape == skip.shape
    if gate_std == 0.0:
        assert np.allclose(scores, 0.5), "zero-weight gates keep with probability exactly 0.5"
    # The local search only accepts improvements: the result is at least as good as every start.
    assert report["heldout_psnr"] >= max(report["candidates_psnr"].values())
    assert report["best_candidate"] in report["candidates_psnr"]
    assert 0 <= report["search_accepted"] <= cfg.search_evaluations
    # The reported PSNR is the schedule's: recompute it on the same held-out seeds.
    again = EndToEnd(lazy, cfg).psnr(skip)
    assert again == pytest.approx(report["heldout_psnr"], abs=1e-3)
    assert "gate_keep_scores" not in sched.details and sched.details["heldout_psnr"] == report["heldout_psnr"]


def _patterns_with(S: int, skips: int, age: int) -> list[tuple[bool, ...]]:
    """Every legal skip pattern of one module over S steps with exactly ``skips`` skips."""
    out = []
    for bits in itertools.product((False, True), repeat=S - 1):
        mask = np.array((False, *bits)).reshape(S, 1, 1).repeat(2, axis=2)
        if sum(bits) == skips and _longest_reuse(mask) <= age:
            out.append((False, *bits))
    return out


def test_half_lazy_with_cache_age_1_on_even_steps_is_interval_2(pixel_dit):
    steps, age = 10, 1
    # The claim: each module can skip at most steps/2 times, so 50% laziness needs every module at its
    # maximum, and the only legal pattern with steps/2 skips is every odd step.
    assert max_skips(steps, pixel_dit.config.depth, age) == steps * pixel_dit.config.depth
    assert _patterns_with(steps, steps // 2, age) == [tuple(i % 2 == 1 for i in range(steps))]
    assert _patterns_with(steps, steps // 2 + 1, age) == []

    sched, _ = calibrate(_lazy(pixel_dit, steps, age), _config(steps, 0.5, age), progress=False)
    assert sched.skip == interval_schedule(steps, pixel_dit.config.depth, 2).skip
    assert (sched.source, sched.max_cache_age) == ("lazydit", 1)
    sched.validate()


def test_target_above_the_cache_age_limit_is_refused_up_front(pixel_dit):
    steps = 10
    with pytest.raises(UserError) as e:
        calibrate(_lazy(pixel_dit, steps, 1), _config(steps, 0.6, 1), progress=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert "--max-cache-age 1" in msg and "24 skips" in msg and "at most 20" in msg and "--laziness" in msg


@pytest.mark.parametrize("laziness", [-0.1, 1.0])
def test_laziness_out_of_range(pixel_dit, laziness):
    with pytest.raises(UserError, match=r"--laziness must be in \[0, 1\)"):
        calibrate(_lazy(pixel_dit, 10, 1), _config(10, laziness, 1), progress=False)


@pytest.mark.parametrize("with_scores", [False, True])
def test_draw_heatmap_writes_a_png(tmp_path, with_scores):
    from PIL import Image

    sched = Schedule(10, 2, interval_schedule(10, 2, 2).skip)
    scores = np.random.default_rng(0).random((10, 2, 2)) if with_scores else None
    path = tmp_path / "heat.png"
    draw_heatmap(sched, path, scores)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        assert im.width > 100 and im.height > 50
