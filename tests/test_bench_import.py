"""``lazydit bench import``: the iOS demo's benchmark file (``lazydit-ios-bench/1``, laid out as in
ios_demo/README.md) becomes the host report format. The file here is written from that documented layout, since
the app itself only runs on an iPhone."""

from __future__ import annotations

import json

import pytest

from lazydit.benchmarks.import_report import import_ios_bench
from lazydit.cli import main
from lazydit.errors import UserError


def _report(
    name: str,
    kind: str,
    steps: int,
    laziness: float,
    macs: int,
    step_ms: dict[str, float],
    pattern: list[str],
    totals: list[float],
) -> dict:
    runs = [
        {"total_ms": t, "steps": [{"index": i, "variant": v, "ms": step_ms[v]} for i, v in enumerate(pattern)]}
        for t in totals
    ]
    return {
        "format": "lazydit-ios-report/1",
        "runner": {"name": "lazydit-ios-app", "backend": "coreml", "compute_units": "all"},
        "bundle": {"path": name, "name": name, "steps": steps},
        "plan": {
            "name": name,
            "method": "lazydit" if kind == "lazy" else "ddim",
            "kind": kind,
            "steps": steps,
            "laziness": laziness,
            "lazy_steps": int(steps * laziness),
            "macs_per_image": macs,
        },
        "runs": runs,
        "memory": {"peak_rss_kb": 150_000},
    }


def _file(tmp_path, reports, error=None):
    d = {
        "format": "lazydit-ios-bench/1",
        "created_at": "2026-11-27T06:00:00Z",
        "runner": {"name": "lazydit-ios-app", "backend": "coreml", "compute_units": "all"},
        "device": {
            "manufacturer": "Apple",
            "model": "iPhone17,1",
            "os": "iOS 18.2.0",
            "cpus": 6,
            "mem_total_mb": 8000,
            "thermal_state": "nominal",
            "low_power_mode": False,
        },
        "protocol": {"warmup": 2, "repeat": 3, "interleaved": True},
        "reports": reports,
        "comparisons": [],
        "notes": [],
        "error": error,
    }
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(d))
    return p


def _three():
    return [
        _report(
            "lazydit-20", "lazy", 20, 0.5, 6_500_000_000, {"v0": 4.0, "v1": 0.5}, ["v0", "v1"] * 10, [46.0, 47.0, 45.0]
        ),
        _report("ddim-20", "dense", 20, 0.0, 12_900_000_000, {"v0": 4.0}, ["v0"] * 20, [81.0, 80.0, 82.0]),
        _report("ddim-10", "dense", 10, 0.0, 6_440_000_000, {"v0": 4.0}, ["v0"] * 10, [41.0, 40.0, 42.0]),
    ]


def test_ios_file_becomes_the_host_report(tmp_path, capsys):
    report = import_ios_bench(_file(tmp_path, _three()))
    assert report["format"] == "lazydit-latency-report/1"
    assert report["machine"]["kind"] == "ios" and report["machine"]["model"] == "iPhone17,1"
    assert [b["label"] for b in report["bundles"]] == ["LazyDiT-20 @50%", "DDIM-20", "DDIM-10"]
    by = {r["role"]: r for r in report["results"]}
    assert by["lazy"]["total_ms"]["median"] == 46.0 and by["ddim_half"]["total_ms"]["median"] == 41.0
    assert by["lazy"]["per_variant_step_ms"]["v1"]["count"] == 30
    assert by["lazy"]["peak_rss_mib"] == pytest.approx(150_000 / 1024)
    (c,) = report["comparisons"]
    assert c["backend"] == "coreml (all)"
    assert c["speedup_vs_ddim_n"] == pytest.approx(81.0 / 46.0)
    assert c["ideal_speedup"] == pytest.approx(12.9 / 6.5)
    assert c["lazy_over_ddim_half"] == pytest.approx(46.0 / 41.0)
    assert main(["bench", "import", str(tmp_path / "bench.json"), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "latency.png").is_file()
    assert "| coreml (all) | LazyDiT-20 @50% |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d.update(format="lazydit-app-report/1"), "not an iOS benchmark file"),
        (lambda d: d.update(error="Core ML could not load function v1"), "the benchmark failed on the device"),
        (lambda d: d["reports"].pop(1), "needs a LazyDiT and a DDIM configuration"),
        (lambda d: d["reports"][0].pop("plan"), "missing a field"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, capsys, edit, needle):
    p = _file(tmp_path, _three())
    d = json.loads(p.read_text())
    edit(d)
    p.write_text(json.dumps(d))
    with pytest.raises(UserError, match=needle):
        import_ios_bench(p)
    assert main(["bench", "import", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "o").exists()
