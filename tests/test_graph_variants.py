"""Graph variants: which steps share a graph, and the slots that hand each cached output from the step
that computes it to the steps that reuse it (hold and forecast).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lazydit.export.calibrate import greedy_schedule, max_skips
from lazydit.export.graphs import Variant, baked_ratios, plan_variants, slot_name, step_patterns, step_plans
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


def test_forecast_is_one_graph_per_skip_pattern_with_the_ratio_as_an_input():
    sched = replace(interval_schedule(10, 2, 2), reuse="forecast")
    variants, per_step = plan_variants(sched)
    # Every full step writes deltas (step 0 against the slots' zeros), every all-cached step forecasts.
    assert [v.name for v in variants] == ["v0", "v1"]
    assert per_step == ["v0", "v1"] * 5
    v0, v1 = variants
    assert v0.reads == ["cache_0_attn", "cache_0_mlp", "cache_1_attn", "cache_1_mlp"]  # the old outputs
    assert v0.writes == v0.reads + [f"{s}_delta" for s in v0.reads]
    assert v1.forecast == ALL and v1.reads == v0.writes and v1.writes == []
    assert v1.ratio_slots == [f"{s}_delta" for s in v0.reads]
    assert v1.input_names[:5] == ["x", "t", "y", "coef", "ratio"] and "ratio" not in v0.input_names
    # Step 1 has one output per module: r = 0 (a hold); later skips forecast half a computation interval ahead.
    ratios = [p.ratios for p in step_plans(sched)]
    assert ratios[1] == (0.0,) * 4 and all(r == (0.5,) * 4 for r in ratios[3::2])
    assert all(r == () for r in ratios[0::2])


def test_a_schema_1_variant_reads_back_with_its_baked_ratios():
    v1 = {
        "name": "v3",
        "reads": ["cache_0_attn", "cache_0_attn_delta"],
        "writes": [],
        "forecast": {"cache_0_attn_delta": 0.5},
    }
    assert Variant.from_manifest(v1).forecast == ((0, 0),) and baked_ratios(v1) == [0.5]
    v2 = {**v1, "ratio_slots": ["cache_0_attn_delta"]}
    del v2["forecast"]
    assert Variant.from_manifest(v2).forecast == ((0, 0),) and baked_ratios(v2) is None


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

    # Replay the slots symbolically: a cache slot holds the step whose output it is, a delta slot the pair
    # (None: the slot's initial zeros).
    plans = step_plans(sched)
    holder: dict[str, object] = {}
    computes: dict[tuple[int, int], list[int]] = {(b, m): [] for b in range(D) for m in range(2)}
    for i, name in enumerate(per_step):
        v = by_name[name]
        assert set(v.skip) == {(b, m) for b in range(D) for m in range(2) if skip[i, b, m]}
        assert len(plans[i].ratios) == len(v.ratio_slots)
        ratios = dict(zip(v.forecast, plans[i].ratios))
        for b, m in v.skip:  # a read sees the output of the module's latest compute
            done = computes[(b, m)]
            assert holder[slot_name(b, m)] == done[-1]
            if reuse == "hold":
                assert (b, m) not in ratios
                continue
            older = done[-2] if len(done) >= 2 else None
            assert holder[slot_name(b, m, True)] == (done[-1], older)
            want = 0.0 if older is None else (ts[i] - ts[done[-1]]) / (ts[done[-1]] - ts[older])
            assert ratios[(b, m)] == pytest.approx(want)
        for b, m in v.delta:  # a delta is new minus old: the old output (or the zeros) must still be in the slot
            assert holder.get(slot_name(b, m)) == (computes[(b, m)][-1] if computes[(b, m)] else None)
        for b in range(D):
            for m in range(2):
                nxt = i + 1 < S and bool(skip[i + 1, b, m])
                if not skip[i, b, m]:
                    if reuse == "hold":  # a computed module writes its slot iff the next step skips it
                        assert ((b, m) in v.write) == nxt
                    assert ((b, m) in v.delta) == (reuse == "forecast" and nxt)
        for b, m in v.delta:
            holder[slot_name(b, m, True)] = (i, computes[(b, m)][-1] if computes[(b, m)] else None)
        for b, m in v.write:
            holder[slot_name(b, m)] = i
        for b in range(D):
            for m in range(2):
                if not skip[i, b, m]:
                    computes[(b, m)].append(i)


@pytest.mark.parametrize("steps,k", [(10, 2), (9, 2), (20, 2), (12, 3), (30, 3), (16, 4)])
def test_interval_schedules_have_as_many_graphs_forecasting_as_holding(steps, k):
    hold = interval_schedule(steps, 2, k)
    variants_hold, _ = plan_variants(hold)
    variants_forecast, _ = plan_variants(replace(hold, reuse="forecast"))
    assert len(variants_forecast) == len(variants_hold)
