"""Where the embedded default model lives; every command falls back to it."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "fashion-dit-s4.safetensors"
DEFAULT_CLASSIFIER = MODELS_DIR / "fashion-classifier.safetensors"
DEFAULT_STEPS = 20
# What a skipped module feeds its block: its cached output (the paper) or the forecast from its last two outputs.
REUSE_MODES = ("hold", "forecast")


def default_gates(steps: int, reuse: str = "forecast") -> Path:
    """The committed gates for ``steps`` steps: trained to forecast (the default) or, as in the paper, to hold."""
    return MODELS_DIR / f"fashion-dit-s4.gates-{steps}{'' if reuse == 'forecast' else '-' + reuse}.safetensors"


def default_schedule(steps: int) -> Path:
    """The committed calibrated LazyDiT schedule (50% lazy) for ``steps`` steps."""
    return MODELS_DIR / f"fashion-dit-s4.schedule-{steps}.json"
