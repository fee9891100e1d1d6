"""Graph variants: which steps share a graph, and the slots that hand each cached output from the step
that computes it to the steps that reuse it (hold and forecast).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lazydit.export.calibrate import greedy_schedule, max_skips
from lazydit.export.graphs import plan_variants, slot_name, step_patterns
from lazydit.export.schedule import Schedule, dense_schedule, interval_schedule

ALL = ((0, 0), (0, 1), (1, 0), (1, 1))


def test_identical_patterns_share_one_graph():
    variants, per_step = plan_variants(interval_schedule(10, 2, 2))
    assert [v.name for v in variants] == ["v0", "v1"]
    assert per_step == ["v0", "v1"] * 5
    v0, v1 = variants
    assert (v0.skip, v0.write) == ((), ALL)
    assert (v1.skip, v1.write) == (ALL, ())
    assert v0.reads == [] and v0.writes == ["cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp"]
    assert v1.reads == v0.writes and v1.writes == []


def test_a_computed_last_step_writes_nothing():
    # interval:2 over 9 steps: the last step computes, and nothing after it reads a cache.
    variants, per_step = plan_variants(interval_schedule(9, 2, 2))
    assert [v.name for v in variants] == ["v0", "v1", "dense"]
    assert per_step == ["v0", "v1"] * 4 + ["dense"]
    assert (variants[2].skip, variants[2].write) == ((), ())


def test_dense_schedule_is_one_variant():
    variants, per_step = plan_variants(dense_schedule(10, 3))
    assert len(variants) == 1 and variants[0].name == "dense"
    assert variants[0].reads == [] and variants[0].writes == []
    assert per_step == ["dense"] * 10


def test_forecast_adds_delta_slots_and_bakes_the_ratio():
    sched = replace(interval_schedule(10, 2, 2), reuse="forecast")
    variants, per_step = plan_variants(sched)
    # step 0 fills the caches, step 1 holds (one output only), step 2 also writes deltas, step 3 forecasts.
    assert [v.name for v in variants] == ["v0", "v1", "v2", "v3"]
    assert per_step == ["v0", "v1"] + ["v2", "v3"] * 4
    v0, v1, v2, v3 = variants
    assert (v0.write, v0.delta, v1.skip, v1.forecast) == (ALL, (), ALL, ())
    assert v2.reads == ["cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp"]  # the old outputs
    assert v2.writes == v2.reads + [f"{s}_delta" for s in v2.reads]
    # interval:2 over evenly spaced timesteps: forecast half a computation interval ahead.
    assert v3.forecast == tuple((b, m, 0.5) for b, m in ALL)
    assert v3.reads == v2.writes and v3.writes == []
    assert v3.forecast_ratios == {f"{s}_delta": 0.5 for s in v2.reads}


@pytest.mark.parametrize("reuse", ["hold", "forecast"])
@pytest.mark.parametrize("seed", range(25))
def test_reads_and_writes_hand_every_cache_from_its_compute_to_its_reuse(seed, reuse):
    rng = np.random.default_rng(seed)
    S, D, age = int(rng.integers(2, 12)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    target = int(rng.integers(0, max_skips(S, D, age) + 1))
    skip = greedy_schedule(rng.random((S, D, 2)), target, age)
    sched = Schedule(S, D, skip.tolist(), max_cache_age=age, reuse=reuse)
    ts = sched.timesteps
    variants, per_step = plan_variants(sched)
    by_name = {v.name: v for v in variants}
    assert len(by_name) == len(variants), "variant names must be unique"
    key = lambda v: (v.skip, v.write, v.forecast, v.delta)  # noqa: E731
    assert len({key(v) for v in variants}) == len(variants), "identical patterns must share a variant"
    assert [key(by_name[n]) for n in per_step] == step_patterns(sched)

    # Replay the slots symbolically: a cache slot holds the step whose output it is, a delta slot the pair.
    holder: dict[str, object] = {}
    computes: dict[tuple[int, int], list[int]] = {(b, m): [] for b in range(D) for m in range(2)}
    for i, name in enumerate(per_step):
        v = by_name[name]
        assert set(v.skip) == {(b, m) for b in range(D) for m in range(2) if skip[i, b, m]}
        ratios = {(b, m): r for b, m, r in v.forecast}
        for b, m in v.skip:  # a read sees the output of the module's latest compute
            done = computes[(b, m)]
            assert holder[slot_name(b, m)] == done[-1]
            if reuse == "forecast" and len(done) >= 2:
                assert holder[slot_name(b, m, True)] == (done[-1], done[-2])
                assert ratios[(b, m)] == pytest.approx((ts[i] - ts[done[-1]]) / (ts[done[-1]] - ts[done[-2]]))
            else:
                assert (b, m) not in ratios
        for b, m in v.delta:  # a delta is new minus old: the old output must still be in the slot
            assert holder[slot_name(b, m)] == computes[(b, m)][-1]
        for b in range(D):
            for m in range(2):
                nxt = i + 1 < S and bool(skip[i + 1, b, m])
                if not skip[i, b, m]:
                    if reuse == "hold":  # a computed module writes its slot iff the next step skips it
                        assert ((b, m) in v.write) == nxt
                    assert ((b, m) in v.delta) == (reuse == "forecast" and nxt and bool(computes[(b, m)]))
        for b, m in v.delta:
            holder[slot_name(b, m, True)] = (i, computes[(b, m)][-1])
        for b, m in v.write:
            holder[slot_name(b, m)] = i
        for b in range(D):
            for m in range(2):
                if not skip[i, b, m]:
                    computes[(b, m)].append(i)
