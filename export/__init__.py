"""From a checkpoint to a bundle: DiT model, diffusion math, lazy gates, gate training, calibration, lowering."""
