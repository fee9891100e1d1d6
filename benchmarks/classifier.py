"""A small CNN classifier of 28x28 images: class accuracy of samples and the feature space of a fast FID."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lazydit.errors import UserError
from lazydit.files import atomic_write

FEATURE_DIM = 128


class SmallClassifier(nn.Module):
    """conv(32)-conv(64)-conv(128) with BatchNorm, a 128-d feature layer, and the class head."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            )

        self.stem = nn.Sequential(
            block(in_channels, 32),
            nn.MaxPool2d(2),
            block(32, 64),
            nn.MaxPool2d(2),
            block(64, 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.features = nn.Sequential(nn.Linear(128, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, features) for images in [-1, 1]."""
        f = self.features(self.stem(x))
        return self.head(f), f


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[SmallClassifier, float]:
    """Train with light augmentation (random shifts); returns the model and its test accuracy."""
    torch.manual_seed(seed)
    num_classes = int(labels.max()) + 1
    model = SmallClassifier(num_classes, images.shape[1]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    x = torch.from_numpy(images).to(device)
    y = torch.from_numpy(labels).to(device)
    steps = epochs * (len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    g = torch.Generator(device="cpu").manual_seed(seed)
    bar = tqdm(total=steps, desc="training classifier", disable=not progress)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g).to(device)
        for i in range(len(x) // batch_size):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            xb = x[idx]
            # Random shift of up to 2 pixels: cheap augmentation that helps a small CNN generalise.
            dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            logits, _ = model(xb)
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            if i % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    acc = accuracy(model, test_images, test_labels, device)
    return model.cpu(), acc


@torch.no_grad()
def predict(
    model: SmallClassifier, images: np.ndarray, device: str = "cpu", batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, features) for images in [-1, 1]."""
    model = model.to(device).eval()
    preds, feats = [], []
    for i in range(0, len(images), batch_size):
        logits, f = model(torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size])).float().to(device))
        preds.append(logits.argmax(1).cpu().numpy())
        feats.append(f.double().cpu().numpy())
    return np.concatenate(preds), np.concatenate(feats)


def accuracy(model: SmallClassifier, images: np.ndarray, labels: np.ndarray, device: str = "cpu") -> float:
    pred, _ = predict(model, images, device)
    return float((pred == labels).mean())


def save_classifier(model: SmallClassifier, path: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(sd, str(tmp), metadata={"lazydit.classifier": json.dumps(meta)})


def load_classifier(path: Path) -> tuple[SmallClassifier, dict]:
    from safetensors import SafetensorError, safe_open

    if not Path(path).is_file():
        raise UserError(f"classifier not found: {path}; train one with `lazydit train-classifier`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("lazydit.classifier", "{}"))
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, ValueError) as e:
        raise UserError(f"{path}: not a lazydit classifier file ({e})") from None
    model = SmallClassifier(meta.get("num_classes", 10), meta.get("in_channels", 1))
    model.load_state_dict(sd)
    model.eval()
    return model, meta
