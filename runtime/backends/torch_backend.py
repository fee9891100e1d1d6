"""The eager PyTorch reference: rebuilds each variant's step graph from the bundle's ``torch`` weights."""
from __future__ import annotations

import numpy as np

from lazydit.errors import UserError


class TorchBackend:
    name = "torch"

    def __init__(self, bundle, threads: int | None = None):
        try:
            import torch

            from ...export.checkpoint import load_dit
            from ...export.graphs import StepGraph, Variant
        except ImportError as e:
            raise UserError(f"the torch backend needs torch ({e}); use --backend executorch or onnxruntime") from None
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        m = bundle.manifest
        dit = load_dit(bundle.path(m["targets"]["torch"]["weights"]))
        if m["dtype"] == "float16":
            dit = dit.half()
        self.graphs = {}
        for v in m["variants"]:
            self.graphs[v["name"]] = StepGraph(dit, Variant.from_manifest(v), m["guidance_scale"],
                                               m.get("clip_denoised", False)).eval()

        self.decoder = None
        if "decoder" in m:
            from ...export.graphs import DecodeGraph
            from ...export.vae import load_vae

            vae = load_vae(bundle.path(m["targets"]["torch"]["decoder"]))
            self.decoder = DecodeGraph(vae.half() if m["dtype"] == "float16" else vae, m["decoder"]["latent_scale"])

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            return self.decoder(self._torch.from_numpy(latent)).numpy()

    def load_all(self) -> None:
        pass

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        t = self._torch
        with t.no_grad():
            outs = self.graphs[variant](*[t.from_numpy(a) for a in inputs])
        return [o.numpy() for o in outs]
