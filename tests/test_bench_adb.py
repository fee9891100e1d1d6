"""``lazydit bench adb`` without a phone.

These tests run the whole flow through a stand-in ``adb`` (tests/tools/adb) that executes the device commands
on this host in a sandbox folder standing for /data/local/tmp: the real native runner, the real tiny bundles,
the real report parsing. The stand-in answers the Android-only commands itself (getprop, df, dumpsys, pm,
run-as) and plays the demo app's BenchmarkActivity with the host runner for ``--via app``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lazydit.benchmarks.adb import cpu_mask, elf_abi
from lazydit.cli import main
from lazydit.errors import UserError

STAND_IN = Path(__file__).resolve().parent / "tools" / "adb"


@pytest.fixture
def device(tmp_path, monkeypatch):
    root = tmp_path / "device"
    root.mkdir()
    monkeypatch.setenv("LAZYDIT_FAKE_ADB_ROOT", str(root))
    for var in (
        "LAZYDIT_FAKE_ADB_DEVICES",
        "LAZYDIT_FAKE_ADB_ABI",
        "LAZYDIT_FAKE_ADB_FREE_KB",
        "LAZYDIT_FAKE_ADB_APP_RUNNER",
    ):
        monkeypatch.delenv(var, raising=False)
    return root


def _bench(tiny_latency_set, out: Path, *extra: str) -> int:
    return main(
        [
            "bench",
            "adb",
            "--adb",
            str(STAND_IN),
            "--bundles",
            *[str(b.path) for b in tiny_latency_set],
            "--repeat",
            "2",
            "--warmup",
            "0",
            "--cooldown",
            "0",
            "--threads",
            "1",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_full_flow_with_the_native_runner(tiny_latency_set, native_runner, device, tmp_path, capsys):
    out = tmp_path / "adb"
    assert _bench(tiny_latency_set, out, "--runner", str(native_runner), "--cpus", "0-1") == 0
    report = json.loads((out / "latency.json").read_text())
    assert report["format"] == "lazydit-latency-report/1"
    m = report["machine"]
    assert (m["model"], m["soc"], m["android"], m["abi"], m["governor"]) == (
        "Stand-in Phone",
        "Host x86-64 stand-in",
        "15",
        "x86_64",
        "schedutil",
    )
    assert len(m["thermal_before_runs"]) == 6 and all(t["status"] == 0 for t in m["thermal_before_runs"])
    assert report["options"]["cpus"] == "0-1" and report["options"]["via"] == "runner"
    assert {(r["backend"], r["role"], r["total_ms"]["count"]) for r in report["results"]} == {
        ("native", role, 2) for role in ("lazy", "ddim_n", "ddim_half")
    }
    assert report["comparisons"][0]["ideal_speedup"] > 1
    # Pushed where a phone would have them, and every report pulled back.
    dev = device / "data/local/tmp/lazydit"
    assert (dev / "lazydit_runner").is_file()
    assert all((dev / "bundles" / b.path.name / "manifest.json").is_file() for b in tiny_latency_set)
    assert len(list((out / "device-reports" / "reports").glob("*.json"))) == 6
    assert (out / "latency.md").is_file() and (out / "latency.png").is_file()
    assert "| native | LazyDiT-10 @50% |" in capsys.readouterr().out


def test_via_app(tiny_latency_set, native_runner, device, tmp_path, monkeypatch):
    out = tmp_path / "app"
    assert _bench(tiny_latency_set, out, "--via", "app") == 2  # the app is not installed
    monkeypatch.setenv("LAZYDIT_FAKE_ADB_APP_RUNNER", str(native_runner))
    assert _bench(tiny_latency_set, out, "--via", "app") == 0
    report = json.loads((out / "latency.json").read_text())
    assert {r["backend"] for r in report["results"]} == {"app"}
    assert len(list((out / "device-reports").glob("*.json"))) == 6


def test_host_mode(tiny_latency_set, native_runner, tmp_path):
    out = tmp_path / "host"
    assert (
        main(
            [
                "bench",
                "adb",
                "--host",
                "--runner",
                str(native_runner),
                "--bundles",
                *[str(b.path) for b in tiny_latency_set],
                "--repeat",
                "1",
                "--warmup",
                "0",
                "--cooldown",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "latency.json").read_text())
    assert report["machine"]["kind"] == "host" and len(report["results"]) == 3


@pytest.mark.parametrize(
    "env, extra, needle",
    [
        ({}, ["--adb", "/nonexistent/adb"], "adb not found: install Android platform-tools"),
        ({"LAZYDIT_FAKE_ADB_DEVICES": ""}, [], "no Android device connected"),
        (
            {"LAZYDIT_FAKE_ADB_DEVICES": "a:device,b:device"},
            [],
            "several devices connected (a, b): pick one with --serial",
        ),
        ({"LAZYDIT_FAKE_ADB_DEVICES": "a:device,b:device"}, ["--serial", "c"], "device c is not connected"),
        ({"LAZYDIT_FAKE_ADB_DEVICES": "a:unauthorized"}, [], "device a is unauthorized"),
        ({"LAZYDIT_FAKE_ADB_ABI": "arm64-v8a"}, [], "is built for x86_64 but the device is arm64-v8a"),
        ({"LAZYDIT_FAKE_ADB_FREE_KB": "1"}, [], "device out of storage"),
    ],
)
def test_device_problems_are_one_line(
    tiny_latency_set, native_runner, device, tmp_path, monkeypatch, capsys, env, extra, needle
):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "bad"
    args = ["--runner", str(native_runner)] + extra
    if "--adb" in extra:
        rc = main(["bench", "adb", *extra, "--bundles", *[str(b.path) for b in tiny_latency_set], "--out", str(out)])
    else:
        rc = _bench(tiny_latency_set, out, *args)
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (out / "latency.json").exists()
    assert "Traceback" not in err[0]


def test_elf_abi_and_cpu_mask(native_runner, tmp_path):
    assert elf_abi(native_runner) == "x86_64"
    (tmp_path / "x").write_text("#!/bin/sh\n")
    with pytest.raises(UserError, match="not an ELF executable"):
        elf_abi(tmp_path / "x")
    assert cpu_mask("4-7") == "f0" and cpu_mask("0,2") == "5" and cpu_mask("6") == "40"
    with pytest.raises(UserError, match="--cpus"):
        cpu_mask("big")
    assert os.access(STAND_IN, os.X_OK)
