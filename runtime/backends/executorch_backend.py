"""ExecuTorch's Python runtime (executorch 1.5.1): one program, one method per variant, loaded once."""

from __future__ import annotations

import numpy as np

from lazydit.errors import UserError


class ExecuTorchBackend:
    name = "executorch"

    def __init__(self, bundle, threads: int | None = None):
        try:
            import torch  # the ExecuTorch Python bindings exchange torch tensors
            from executorch.runtime import Runtime
        except ImportError as e:
            raise UserError(
                f"the executorch backend needs the executorch package ({e}); "
                "pip install executorch==1.5.1, or use --backend onnxruntime"
            ) from None
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        path = bundle.path(bundle.manifest["targets"]["executorch"]["file"])
        self.program = Runtime.get().load_program(str(path))
        self.methods = {}
        self.method_names = dict(bundle.manifest["targets"]["executorch"]["methods"])
        self._decoder = bundle.manifest["targets"]["executorch"].get("decoder")
        if self._decoder:
            self.method_names[self._decoder] = self._decoder

    def load_all(self) -> None:
        for v in self.method_names:
            self._method(v)

    def _method(self, variant: str):
        m = self.methods.get(variant)
        if m is None:
            m = self.methods[variant] = self.program.load_method(self.method_names[variant])
        return m

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        t = self._torch
        outs = self._method(variant).execute([t.from_numpy(a) for a in inputs])
        return [o.numpy() for o in outs]

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        return self.run(self._decoder, [latent])[0]
