"""Plain helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from lazydit import cli

# Sampling steps of the tiny bundles (conftest.py exports them).
TINY_STEPS = 10

_PROGRESS = re.compile(r"\d+/\d+ \[")  # tqdm bars the export draws on stderr before it fails


def read_manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def one_error_line(stderr: str) -> str:
    """The single ``lazydit: error:`` line of a failed command (progress bars aside); fails on anything else."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not _PROGRESS.search(ln)]
    assert len(lines) == 1 and lines[0].startswith("lazydit: error: "), f"expected one error line:\n{stderr}"
    return lines[0]


def run_export(capsys, *args: str) -> tuple[int, str, str]:
    """``lazydit export ARGS`` in this process: (exit status, stdout, stderr)."""
    rc = cli.main(["export", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def file_tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256, to show that a failed command changed nothing."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def lazydit(*args, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real ``lazydit`` command in a subprocess, as a user runs it (progress bars off)."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lazydit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
