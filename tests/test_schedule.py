"""Static skip schedules: laziness and MACs bookkeeping, the rules every schedule obeys, and the file format.

Every way a schedule file can be wrong must end in one ``UserError`` line that names the file.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from lazydit import cli
from lazydit.errors import UserError
from lazydit.export.diffusion import ddim_timesteps
from lazydit.export.macs import forward_macs
from lazydit.export.model import config_from_name
from lazydit.export.schedule import (
    SCHEDULE_FORMAT,
    Schedule,
    dense_schedule,
    interval_schedule,
    load_schedule,
)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg.strip() == msg and msg, repr(msg)
    return msg


def _write(path, data) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data))


# --- building schedules ---------------------------------------------------------------------------------------


def test_dense_schedule_skips_nothing():
    s = dense_schedule(10, 3)
    assert s.num_steps == 10 and s.depth == 3 and s.source == "ddim"
    assert s.laziness_per_step() == [0.0] * 10
    assert s.laziness() == 0.0 and s.num_skipped() == 0
    s.validate()


def test_interval_2_alternates_dense_and_fully_lazy_steps():
    s = interval_schedule(10, 2, 2)
    assert s.source == "interval:2" and s.max_cache_age == 1
    assert s.laziness_per_step() == [0.0, 1.0] * 5
    assert s.laziness() == 0.5
    assert s.num_skipped() == 5 * 2 * 2
    for i, step in enumerate(s.skip):
        assert step == ((i % 2 == 1,) * 2,) * 2
    s.validate()


def test_interval_3_needs_cache_age_2_and_is_two_thirds_lazy_per_period():
    s = interval_schedule(9, 2, 3)
    assert s.max_cache_age == 2
    assert s.laziness_per_step() == [0.0, 1.0, 1.0] * 3
    assert s.laziness() == pytest.approx(6 / 9)
    s.validate()
    # The same pattern with the default cache age is refused: the second reuse is two steps old.
    with pytest.raises(UserError) as e:
        Schedule(9, 2, s.skip, max_cache_age=1).validate("sched.json")
    assert "step 2" in _one_line(e) and "max-cache-age 1" in str(e.value)


def test_interval_must_be_positive():
    with pytest.raises(UserError) as e:
        interval_schedule(10, 2, 0)
    assert "at least 1" in _one_line(e)


def test_laziness_counts_modules_not_steps():
    # One block of two, attention only, at one step out of four: 1 of 16 module evaluations skipped.
    skip = [[[False, False], [False, False]] for _ in range(4)]
    skip[2][1][0] = True
    s = Schedule(4, 2, skip)
    assert s.laziness_per_step() == [0.0, 0.0, 0.25, 0.0]
    assert s.laziness() == pytest.approx(1 / 16)
    assert s.num_skipped() == 1


@pytest.mark.parametrize("cfg_scale, batch", [(1.0, 1), (1.5, 2)])
def test_macs_ratio_matches_the_per_module_counts(pixel_config, cfg_scale, batch):
    fm = forward_macs(pixel_config)
    dense = dense_schedule(10, pixel_config.depth).macs_per_image(pixel_config, cfg_scale)
    assert dense["ratio"] == 1.0
    assert dense["dense_per_image"] == fm.dense * batch * 10 == dense["per_image"]

    s = interval_schedule(10, pixel_config.depth, 2)
    macs = s.macs_per_image(pixel_config, cfg_scale)
    lazy_step = fm.dense - pixel_config.depth * (fm.attn + fm.mlp)
    assert macs["per_step"] == [fm.dense * batch, lazy_step * batch] * 5
    assert macs["per_image"] == sum(macs["per_step"])
    assert macs["ratio"] == pytest.approx((fm.dense + lazy_step) / (2 * fm.dense))
    # Guidance doubles every count and leaves the ratio alone.
    assert macs["ratio"] == pytest.approx(s.macs_per_image(pixel_config, 1.0)["ratio"])


def test_schedule_sources_in_the_one_grammar(pixel_dit):
    from lazydit.export.schedule_source import parse_schedule_source, resolve_schedule

    assert resolve_schedule("ddim:20", pixel_dit)[0].num_steps == 20
    assert resolve_schedule("ddim", pixel_dit, steps=10)[0].laziness() == 0.0
    s, report = resolve_schedule("interval:10:2", pixel_dit)
    assert (s.num_steps, s.source, s.depth, report) == (10, "interval:2", pixel_dit.config.depth, None)
    assert resolve_schedule("interval:3", pixel_dit, steps=9)[0].skip == interval_schedule(9, 2, 3).skip
    assert resolve_schedule("interval:10:2@forecast", pixel_dit)[0].reuse == "forecast"
    assert resolve_schedule("interval:10:2", pixel_dit, reuse="forecast")[0].reuse == "forecast"
    src = parse_schedule_source("lazy:20:g.safetensors@hold")
    assert (src.kind, src.steps, str(src.path), src.reuse, src.is_dynamic) == (
        "lazy",
        20,
        "g.safetensors",
        "hold",
        True,
    )
    for bad in ("fora", "interval:x", "ddim:ten", "interval", "ddim:0", "interval:10:-1"):
        with pytest.raises(UserError) as e:
            resolve_schedule(bad, pixel_dit)
        assert repr(bad) in _one_line(e) and "interval[:N]:K" in _one_line(e)
    with pytest.raises(UserError, match="has 10 steps, --steps says 12"):
        resolve_schedule("interval:10:2", pixel_dit, steps=12)
    with pytest.raises(UserError, match="no static graph"):
        resolve_schedule("lazy:10", pixel_dit)


def test_a_schedule_cannot_be_changed_after_the_fact():
    import dataclasses

    s = dense_schedule(4, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.reuse = "forecast"
    with pytest.raises(TypeError):
        s.skip[0][1][1] = True
    assert dataclasses.replace(s, reuse="forecast").reuse == "forecast" and s.reuse == "hold"


def _skips(num_steps: int, depth: int = 2) -> list:
    return [[[False, False] for _ in range(depth)] for _ in range(num_steps)]


# --- the rules ------------------------------------------------------------------------------------------------


def test_validate_rejects_a_skip_at_step_0():
    skip = _skips(4)
    skip[0][1][1] = True
    with pytest.raises(UserError) as e:
        Schedule(4, 2, skip).validate("mine.json")
    msg = _one_line(e)
    assert msg.startswith("mine.json: step 0") and "nothing is cached" in msg


@pytest.mark.parametrize("age", [1, 2, 3])
def test_validate_rejects_caches_older_than_max_cache_age(age):
    skip = _skips(8)
    for i in range(1, age + 1):  # exactly max_cache_age reuses in a row are fine
        skip[i][0][1] = True
    Schedule(8, 2, skip, max_cache_age=age).validate()
    skip[age + 1][0][1] = True  # one more is a cache age + 1 steps old
    with pytest.raises(UserError) as e:
        Schedule(8, 2, skip, max_cache_age=age).validate("x.json")
    msg = _one_line(e)
    assert f"block 0 mlp at step {age + 1}" in msg and f"{age + 1} steps old" in msg
    assert f"max-cache-age {age}" in msg


def test_validate_rejects_malformed_masks():
    with pytest.raises(UserError) as e:
        Schedule(3, 2, dense_schedule(2, 2).skip).validate("a.json")
    assert "2 step masks for 3 steps" in _one_line(e)
    with pytest.raises(UserError) as e:
        Schedule(2, 2, [[[False, False]], [[False, False]]]).validate("a.json")
    assert "step 0 mask must be 2 blocks x [attn, mlp]" in _one_line(e)


def test_schedule_for_another_depth_is_refused(pixel_config):
    deeper = config_from_name("DiT-Tiny/4", input_size=16, in_channels=1, num_classes=4, learn_sigma=False, depth=3)
    s = interval_schedule(10, deeper.depth, 2)
    s.check_model(deeper)
    with pytest.raises(UserError) as e:
        s.check_model(pixel_config, "deep.json")
    msg = _one_line(e)
    assert msg.startswith("deep.json:") and "depth 3" in msg and "depth 2" in msg and "lazydit calibrate" in msg


# --- the file -------------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, pixel_config):
    s = dataclasses.replace(interval_schedule(10, 2, 3), cfg_scale=1.5, details={"note": "hand made"})
    path = tmp_path / "sub" / "s.json"
    s.save(path, pixel_config)
    d = json.loads(path.read_text())
    assert d["format"] == SCHEDULE_FORMAT
    assert d["timesteps"] == ddim_timesteps(10)
    assert d["laziness"] == pytest.approx(s.laziness(), abs=1e-6)
    assert d["macs"]["ratio"] == pytest.approx(s.macs_per_image(pixel_config, 1.5)["ratio"])
    assert not list(tmp_path.glob("sub/*.tmp")), "the temporary file of the atomic write was left behind"
    back = load_schedule(path)
    assert (back.num_steps, back.depth, back.skip, back.source, back.max_cache_age, back.cfg_scale, back.details) == (
        s.num_steps,
        s.depth,
        s.skip,
        s.source,
        s.max_cache_age,
        s.cfg_scale,
        s.details,
    )
    assert d["reuse"] == back.reuse == "hold"


def test_reuse_round_trips_and_defaults_to_hold(tmp_path):
    s = dataclasses.replace(interval_schedule(10, 2, 2), reuse="forecast")
    p = tmp_path / "s.json"
    s.save(p)
    assert load_schedule(p).reuse == "forecast"
    d = json.loads(p.read_text())
    del d["reuse"]  # a file written before forecasting existed
    _write(p, d)
    assert load_schedule(p).reuse == "hold"
    d["reuse"] = "taylor"
    _write(p, d)
    with pytest.raises(UserError) as e:
        load_schedule(p)
    assert _one_line(e) == f'{p}: unknown reuse \'taylor\'; write "hold" or "forecast"'


def test_load_missing_file(tmp_path):
    with pytest.raises(UserError) as e:
        load_schedule(tmp_path / "nope.json")
    msg = _one_line(e)
    assert "schedule file not found" in msg and "nope.json" in msg and "lazydit calibrate" in msg


def test_load_bad_json(tmp_path):
    p = tmp_path / "bad.json"
    _write(p, '{"format": "lazydit-schedule/1", "skip": [')
    with pytest.raises(UserError) as e:
        load_schedule(p)
    assert str(p) in _one_line(e) and "not valid JSON" in str(e.value)


@pytest.mark.parametrize("payload", [[1, 2, 3], {"format": "lazydit-gates/1"}, {"num_steps": 10}])
def test_load_wrong_format(tmp_path, payload):
    p = tmp_path / "other.json"
    _write(p, payload)
    with pytest.raises(UserError) as e:
        load_schedule(p)
    assert "not a schedule file" in _one_line(e) and SCHEDULE_FORMAT in str(e.value)


def test_load_missing_field(tmp_path):
    p = tmp_path / "s.json"
    d = dense_schedule(10, 2).to_json()
    del d["skip"]
    _write(p, d)
    with pytest.raises(UserError) as e:
        load_schedule(p)
    assert "missing or has a bad field" in _one_line(e) and "skip" in str(e.value)


def test_load_step_count_without_integer_stride(tmp_path):
    bad = 700  # no integer stride splits 1000 timesteps into 501..999 steps
    with pytest.raises(ValueError):
        ddim_timesteps(bad)
    p = tmp_path / "s.json"
    _write(p, {"format": SCHEDULE_FORMAT, "num_steps": bad, "depth": 1, "skip": dense_schedule(bad, 1).skip})
    with pytest.raises(UserError) as e:
        load_schedule(p)
    msg = _one_line(e)
    assert str(p) in msg and f"{bad} DDIM steps" in msg and "such as 10, 20" in msg


def test_load_applies_the_rules(tmp_path):
    d = interval_schedule(10, 2, 3).to_json()
    d["max_cache_age"] = 1
    p = tmp_path / "s.json"
    _write(p, d)
    with pytest.raises(UserError) as e:
        load_schedule(p)
    assert _one_line(e).startswith(f"{p}: block 0 attn at step 2")


def test_cli_bad_step_count_for_a_built_in_schedule_is_one_line(tmp_path, pixel_dit, capsys):
    from lazydit.export.checkpoint import save_safetensors

    ckpt = tmp_path / "tiny.safetensors"
    save_safetensors(pixel_dit, ckpt)
    out = tmp_path / "s.json"
    rc = cli.main(
        ["calibrate", "--checkpoint", str(ckpt), "--schedule", "interval:2", "--steps", "700", "--out", str(out)]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "700" in err[0] and err[0].startswith("lazydit: error: ")
    assert not out.exists()
