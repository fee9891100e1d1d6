"""The embedded Fashion-MNIST model, shipped as package data: every command falls back to it.

Files are found through :mod:`importlib.resources`, so they resolve the same in a checkout, an editable
install and a wheel installed anywhere.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# The step count the embedded gates and schedule are made for; the commands' default.
EMBEDDED_STEPS = 20


def embedded_file(name: str) -> Path:
    """The path of one file of the embedded model (it exists whenever the package is installed)."""
    return Path(str(files(__name__) / name))


CHECKPOINT = embedded_file("fashion-dit-s4.safetensors")
CLASSIFIER = embedded_file("fashion-classifier.safetensors")


def embedded_gates(steps: int, reuse: str = "forecast") -> Path:
    """The committed gates for ``steps`` steps: trained to forecast (the default) or, as in the paper, to hold."""
    return embedded_file(f"fashion-dit-s4.gates-{steps}{'' if reuse == 'forecast' else '-' + reuse}.safetensors")


def embedded_schedule(steps: int) -> Path:
    """The committed calibrated LazyDiT schedule (50% lazy) for ``steps`` steps."""
    return embedded_file(f"fashion-dit-s4.schedule-{steps}.json")
