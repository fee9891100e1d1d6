"""lazydit-mobile: LazyDiT from a checkpoint to a phone.

``lazydit.export`` turns a checkpoint into a bundle (model, gates, calibration, lowering);
``lazydit.runtime`` turns a bundle into images (the step scheduler and its backends) without torch.
"""

__version__ = "0.1.0"
