"""Images from the scheduler to PNG files (pillow; no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lazydit.errors import UserError
from lazydit.files import atomic_write


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] to (N, H, W, C) uint8."""
    x = np.clip((images.astype(np.float32) + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    return x.transpose(0, 2, 3, 1)


def save_png_grid(images: np.ndarray, path: Path, ncol: int = 10, scale: int | None = None) -> None:
    """The images as one grid PNG, written atomically; non-finite pixels are refused, not drawn as black."""
    if not np.isfinite(images).all():
        raise UserError(f"{path}: the images hold NaN or infinite values; nothing was written (check the bundle)")
    from PIL import Image

    x = to_uint8(images)
    n, h, w, c = x.shape
    ncol = max(1, min(ncol, n))
    nrow = (n + ncol - 1) // ncol
    grid = np.zeros((nrow * (h + 2) + 2, ncol * (w + 2) + 2, c), dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + q * (w + 2) : 2 + q * (w + 2) + w] = x[i]
    img = Image.fromarray(grid[..., 0] if c == 1 else grid)
    scale = scale or max(1, 128 // max(h, w))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_write(path, keep_suffix=True) as tmp:
        img.save(tmp, format="PNG")
