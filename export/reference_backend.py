"""The eager PyTorch reference backend, ``torch``: rebuilds each variant's step graph from the bundle's
``torch`` weights. It lives in the export half (it needs the model code) and registers itself with the
runtime's backend registry on import."""

from __future__ import annotations

import numpy as np
import torch

from lazydit.runtime.backends import register_backend

from .checkpoint import load_dit
from .diffusion import manifest_guidance_rule
from .graphs import DecodeGraph, StepGraph, Variant, baked_ratios
from .vae import load_vae


class TorchBackend:
    name = "torch"
    fresh_outputs = True  # every run returns new arrays

    def __init__(self, bundle, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        m = bundle.manifest
        dit = load_dit(bundle.path(m["targets"]["torch"]["weights"]))
        if m["dtype"] == "float16":
            dit = dit.half()
        self.graphs = {}
        # Schema-1 forecasting variants baked their ratios into the graphs; this graph takes them as an input.
        self.baked = {}
        for v in m["variants"]:
            ratios = baked_ratios(v)
            if ratios is not None:
                self.baked[v["name"]] = np.array(ratios, dtype=np.float16 if m["dtype"] == "float16" else np.float32)
            self.graphs[v["name"]] = StepGraph(
                dit,
                Variant.from_manifest(v),
                m["guidance_scale"],
                m.get("clip_denoised", False),
                manifest_guidance_rule(m),
            ).eval()

        self.decoder = None
        if "decoder" in m:
            vae = load_vae(bundle.path(m["targets"]["torch"]["decoder"]))
            self.decoder = DecodeGraph(vae.half() if m["dtype"] == "float16" else vae, m["decoder"]["latent_scale"])

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            return self.decoder(self._torch.from_numpy(latent)).numpy()

    def load_all(self) -> None:
        pass

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        t = self._torch
        if variant in self.baked:
            inputs = [*inputs[:4], self.baked[variant], *inputs[4:]]
        with t.no_grad():
            outs = self.graphs[variant](*[t.from_numpy(a) for a in inputs])
        return [o.numpy() for o in outs]


register_backend("torch", "torch", TorchBackend)
