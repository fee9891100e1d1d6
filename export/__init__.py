"""From a checkpoint to a bundle: DiT model, diffusion math, lazy gates, gate training, calibration, lowering.

The eager PyTorch reference backend (``torch``) registers itself with the runtime when
:mod:`lazydit.export.reference_backend` is imported.
"""
