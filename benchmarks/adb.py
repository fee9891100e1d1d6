"""``lazydit bench adb``: the latency benchmark on an Android phone over adb.

Protocol: check adb and the device (one-line errors for each way it goes wrong), record the device (model,
SoC, Android version, ABI, CPU governor), push the native runner (arm64 build) and the bundles to
``/data/local/tmp/lazydit/``, then run rounds in which every bundle runs once (A B C A B C ...), each with its
own warm-up, with a cooldown after each run and the thermal status read before it; pull the runner's JSON
reports and write the report of ``lazydit bench latency`` (``lazydit-latency-report/1``).

``--via app`` starts the demo app's ``BenchmarkActivity`` instead of the runner (the app must be installed) and
reads its reports with ``run-as``. ``--host`` runs the same protocol on this machine with the host-built
runner, in a sandbox folder standing for ``/data/local/tmp/lazydit``.
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from tqdm.auto import tqdm

from lazydit.errors import UserError

from .latency_report import host_machine, summarize
from .latency_set import BenchBundle
from .latency_workers import native_measurement

DEVICE_ROOT = "/data/local/tmp/lazydit"
APP_PACKAGE = "dev.lazydit.demo"
APP_ACTIVITY = f"{APP_PACKAGE}/.BenchmarkActivity"
# The app reads pushed bundles from its external files dir (android_demo BundleStore), no permission needed.
APP_BUNDLES = f"/sdcard/Android/data/{APP_PACKAGE}/files/bundles"
ELF_MACHINES = {183: "arm64-v8a", 62: "x86_64", 40: "armeabi-v7a", 3: "x86"}
HOST_ABIS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a"}


def elf_abi(path: Path) -> str:
    """The Android ABI name of an ELF executable, from its header's e_machine."""
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        raise UserError(f"{path}: not an ELF executable; pass the lazydit_runner binary with --runner")
    order = "little" if head[5] == 1 else "big"
    machine = int.from_bytes(head[18:20], order)
    return ELF_MACHINES.get(machine, f"e_machine {machine}")


class AdbDevice:
    """A phone over adb."""

    kind = "android"

    def __init__(self, adb: str | None, serial: str | None):
        exe = shutil.which(adb or "adb")
        if exe is None:
            where = f"{adb} not found" if adb else "adb not found on PATH"
            raise UserError(
                f"{where}: install Android platform-tools (Debian/Ubuntu: sudo apt install adb; or the "
                "SDK's platform-tools) or pass --adb PATH"
            )
        self.adb = exe
        self.serial = self._pick(serial)
        self.root = DEVICE_ROOT

    def _raw(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.adb] + (["-s", self.serial] if getattr(self, "serial", None) else []) + list(args)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if check and done.returncode != 0:
            msg = (done.stderr or done.stdout).strip().splitlines()
            raise UserError(f"adb {' '.join(args[:2])} failed: {msg[-1] if msg else f'exit {done.returncode}'}")
        return done

    def _pick(self, serial: str | None) -> str:
        listed = []
        for line in self._raw("devices").stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2:
                listed.append((parts[0], parts[1]))
        if not listed:
            raise UserError(
                "no Android device connected: plug in a phone with USB debugging on (`adb devices` lists none)"
            )
        if serial is None:
            if len(listed) > 1:
                raise UserError(
                    f"several devices connected ({', '.join(s for s, _ in listed)}): pick one with --serial"
                )
            serial, state = listed[0]
        else:
            states = dict(listed)
            if serial not in states:
                raise UserError(
                    f"device {serial} is not connected (`adb devices` lists {', '.join(s for s, _ in listed)})"
                )
            state = states[serial]
        if state == "unauthorized":
            raise UserError(
                f"device {serial} is unauthorized: unlock the phone, accept the USB debugging prompt, then run again"
            )
        if state != "device":
            raise UserError(f"device {serial} is {state}: reconnect it (adb kill-server; adb devices)")
        return serial

    def shell(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._raw("shell", cmd, check=check)

    def prop(self, name: str) -> str:
        return self.shell(f"getprop {name}", check=False).stdout.strip()

    def push(self, local: Path, remote: str) -> None:
        self._raw("push", str(local), remote)

    def pull(self, remote: str, local: Path) -> None:
        self._raw("pull", remote, str(local))

    def info(self) -> dict:
        soc = " ".join(p for p in (self.prop("ro.soc.manufacturer"), self.prop("ro.soc.model")) if p)
        return {
            "kind": "android",
            "serial": self.serial,
            "model": self.prop("ro.product.model"),
            "manufacturer": self.prop("ro.product.manufacturer"),
            "soc": soc or self.prop("ro.board.platform") or self.prop("ro.hardware"),
            "android": self.prop("ro.build.version.release"),
            "sdk": self.prop("ro.build.version.sdk"),
            "abi": self.prop("ro.product.cpu.abi"),
            "governor": self.governors(),
            "thermal_status": self.thermal_status(),
        }

    def abi(self) -> str:
        return self.prop("ro.product.cpu.abi")

    def governors(self) -> str:
        out = self.shell("cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor", check=False).stdout
        return ",".join(dict.fromkeys(out.split())) or "unknown"

    def thermal_status(self) -> int | None:
        """Android's thermal status (0 none .. 6 shutdown), or None when the device does not say."""
        out = self.shell("dumpsys thermalservice", check=False).stdout
        for line in out.splitlines():
            if "Thermal Status:" in line:
                try:
                    return int(line.split(":", 1)[1].split()[0])
                except (ValueError, IndexError):
                    return None
        return None

    def free_bytes(self, path: str) -> int | None:
        out = self.shell(f"df -k {path}", check=False).stdout.splitlines()
        if len(out) < 2:
            return None
        cols = out[-1].split()
        try:
            return int(cols[3]) * 1024
        except (IndexError, ValueError):
            return None


class HostDevice:
    """This machine, with a sandbox folder standing for the device's /data/local/tmp/lazydit."""

    kind = "host"

    def __init__(self, sandbox: Path):
        self.sandbox = sandbox.resolve()
        self.root = str(self.sandbox)

    def shell(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise UserError(f"command failed: {cmd}: {done.stderr.strip()}")
        return done

    def push(self, local: Path, remote: str) -> None:
        dst = Path(remote)
        if local.is_dir():
            target = dst / local.name if dst.is_dir() else dst
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(local, target)
        else:
            shutil.copy2(local, dst / local.name if dst.is_dir() else dst)

    def pull(self, remote: str, local: Path) -> None:
        src = Path(remote)
        if src.is_dir():
            shutil.copytree(src, local / src.name if local.is_dir() else local, dirs_exist_ok=True)
        else:
            shutil.copy2(src, local)

    def info(self) -> dict:
        d = host_machine(None)
        d["abi"] = self.abi()
        try:
            d["governor"] = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
        except OSError:
            d["governor"] = "unknown"
        d["thermal_status"] = None
        return d

    def abi(self) -> str:
        return HOST_ABIS.get(platform.machine().lower(), platform.machine())

    def thermal_status(self) -> int | None:
        return None

    def free_bytes(self, path: str) -> int | None:
        return shutil.disk_usage(path).free


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def cpu_mask(cpus: str) -> str:
    """``4-7`` or ``4,5,6,7`` -> the hexadecimal affinity mask taskset takes (``f0``)."""
    mask = 0
    try:
        for part in cpus.split(","):
            lo, _, hi = part.partition("-")
            for c in range(int(lo), int(hi or lo) + 1):
                mask |= 1 << c
    except ValueError:
        raise UserError(f"--cpus {cpus!r}: write CPU numbers like 4-7 or 4,5,6,7") from None
    return format(mask, "x")


def run_adb_benchmark(
    device,
    bundles: list[BenchBundle],
    runner: Path | None,
    repeat: int = 5,
    warmup: int = 1,
    threads: int = 0,
    cpus: str | None = None,
    cooldown_s: float = 5.0,
    via: str = "runner",
    libs: Path | None = None,
    work: Path | None = None,
) -> dict:
    """Push, run interleaved rounds with cooldowns, pull the reports; the ``lazydit-latency-report/1`` object."""
    if via not in ("runner", "app"):
        raise UserError(f"--via must be runner or app, not {via!r}")
    if via == "app" and device.kind == "host":
        raise UserError("--via app needs a phone with the demo app; --host runs the native runner")
    root = device.root
    abi = device.abi()
    need = sum(_dir_bytes(b.path) for b in bundles)
    if via == "runner":
        if runner is None or not runner.is_file():
            raise UserError(
                f"runner not found: {runner}; build lazydit_runner for the device "
                "(docs/native-runner.md) and pass --runner"
            )
        built = elf_abi(runner)
        if built != abi:
            raise UserError(
                f"{runner} is built for {built} but the device is {abi}: build the runner for {abi} "
                "(docs/native-runner.md) and pass --runner"
            )
        need += runner.stat().st_size + (_dir_bytes(libs) if libs else 0)
    else:
        listed = device.shell(f"pm list packages {APP_PACKAGE}", check=False).stdout
        if f"package:{APP_PACKAGE}" not in listed.split():
            raise UserError(
                f"the demo app ({APP_PACKAGE}) is not installed: build and install android_demo "
                "(android_demo/README.md), or leave out --via app"
            )
    bundle_root = f"{root}/bundles" if via == "runner" or device.kind == "host" else APP_BUNDLES
    device.shell(f"mkdir -p {bundle_root} {root}/reports")
    free = device.free_bytes(bundle_root)
    if free is not None and free < need:
        raise UserError(
            f"device out of storage: the runner and bundles need {need / 2**20:.0f} MB in {bundle_root}, "
            f"{free / 2**20:.0f} MB are free; free space on the device or benchmark fewer bundles"
        )
    info = device.info()

    for b in tqdm(bundles, desc="pushing bundles", leave=False):
        device.shell(f"rm -rf {bundle_root}/{b.path.name}")
        device.push(b.path, f"{bundle_root}/")
    env = ""
    if via == "runner":
        device.push(runner, f"{root}/lazydit_runner")
        device.shell(f"chmod 755 {root}/lazydit_runner")
        if libs is not None:
            device.push(libs, f"{root}/lib")
            env = f"LD_LIBRARY_PATH={root}/lib "
    device.shell(f"rm -f {root}/reports/*.json", check=False)
    prefix = f"taskset {cpu_mask(cpus)} " if cpus else ""

    runs: dict[tuple[str, str], list[dict]] = {}
    thermal: list[dict] = []
    backend = "native" if via == "runner" else "app"
    for rnd in tqdm(range(repeat), desc="rounds"):
        for b in bundles:
            name = b.path.name
            report_name = f"{name}-{rnd}.json"
            thermal.append({"round": rnd, "bundle": name, "status": device.thermal_status()})
            if via == "runner":
                cmd = (
                    f"cd {root} && {env}{prefix}./lazydit_runner --bundle bundles/{name} --warmup {warmup} "
                    f"--repeat 1 --report reports/{report_name}" + (f" --threads {threads}" if threads else "")
                )
                done = device.shell(cmd, check=False)
                if done.returncode != 0:
                    raise UserError(
                        f"runner failed on {name} (exit {done.returncode}): {(done.stderr or done.stdout).strip()}"
                    )
                report = None
            else:
                report = _run_app(
                    device, name if device.kind == "android" else f"{bundle_root}/{name}", report_name, warmup, threads
                )
            runs.setdefault((backend, b.role), []).append({"name": report_name, "report": report})
            if cooldown_s:
                time.sleep(cooldown_s)

    local = Path(work) if work is not None else Path("out/bench/adb-reports")
    local.mkdir(parents=True, exist_ok=True)
    measured: dict[tuple[str, str], list[dict]] = {}
    if via == "runner":
        pulled = local / "reports"
        shutil.rmtree(pulled, ignore_errors=True)
        device.pull(f"{root}/reports", local)
    for key, items in runs.items():
        for it in items:
            if it["report"] is None:
                path = local / "reports" / it["name"]
                if not path.is_file():
                    raise UserError(f"report {it['name']} was not pulled from the device; look in {root}/reports")
                it["report"] = json.loads(path.read_text())
            else:
                (local / it["name"]).write_text(json.dumps(it["report"], indent=1))
            measured.setdefault(key, []).append(native_measurement(it["report"]))
    info["thermal_before_runs"] = thermal
    return summarize(
        bundles,
        measured,
        machine=info,
        options={
            "repeat": repeat,
            "warmup": warmup,
            "threads": threads,
            "cpus": cpus,
            "cooldown_s": cooldown_s,
            "via": via,
            "order": "interleaved",
            "device_root": root if device.kind == "android" else "(host sandbox)",
        },
    )


def _run_app(device, bundle: str, output: str, warmup: int, threads: int, timeout_s: float = 600) -> dict:
    """One BenchmarkActivity run; its report read back with run-as (the app deletes the old one at start)."""
    args = (
        f"am start -W -S -n {APP_ACTIVITY} --es bundle_dir {shlex.quote(bundle)} --ei warmup {warmup} "
        f"--ei repeat 1 --ei threads {threads} --es output {output}"
    )
    device.shell(args)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        done = device.shell(f"run-as {APP_PACKAGE} cat files/{output}", check=False)
        if done.returncode == 0 and done.stdout.strip():
            try:
                return json.loads(done.stdout)
            except ValueError:
                pass  # still being written
        time.sleep(1.0)
    raise UserError(f"no report from {APP_ACTIVITY} within {timeout_s:.0f} s (adb logcat -s LazyDiTBenchmark)")


def host_sandbox(out: Path) -> Path:
    path = out.parent / (out.name + "-sandbox")
    path.mkdir(parents=True, exist_ok=True)
    return path
