"""Core ML (macOS 15+): one ``MLModel`` per function of the multifunction package, sharing its weights."""

from __future__ import annotations

import platform

import numpy as np

from lazydit.errors import UserError


class CoreMLBackend:
    name = "coreml"

    def __init__(self, bundle, threads: int | None = None):
        if platform.system() != "Darwin":
            raise UserError(
                "Core ML predictions run only on macOS 15+ (or iOS 18+); on this machine use "
                "--backend executorch or onnxruntime (the .mlpackage can still be inspected)"
            )
        import coremltools as ct

        t = bundle.manifest["targets"]["coreml"]
        path = str(bundle.path(t["package"]))
        self.models = {
            v: ct.models.MLModel(path, function_name=f, compute_units=ct.ComputeUnit.ALL)
            for v, f in t["functions"].items()
        }
        self.variants = {v["name"]: v for v in bundle.manifest["variants"]}
        self.decoder = None
        if "decoder" in t:
            self.decoder = ct.models.MLModel(path, function_name=t["decoder"], compute_units=ct.ComputeUnit.ALL)

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        return np.asarray(self.decoder.predict({"latent": latent})["image"])

    def load_all(self) -> None:
        pass

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        v = self.variants[variant]
        out = self.models[variant].predict(dict(zip(v["inputs"], inputs)))
        return [np.asarray(out[name]) for name in v["outputs"]]
