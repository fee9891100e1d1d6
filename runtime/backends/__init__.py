"""Backends run one variant of a bundle on given inputs. Each is imported only when asked for."""
from __future__ import annotations

from lazydit.errors import UserError

BACKENDS = ("executorch", "onnxruntime", "torch", "coreml")


def target_of(backend: str) -> str:
    """The bundle target a backend runs (onnxruntime runs the ``onnx`` graphs)."""
    return {"onnxruntime": "onnx"}.get(backend, backend)


class TappedBackend:
    """A backend that reports every graph call, ``on_run(variant, inputs, outputs)``, and otherwise passes through."""

    def __init__(self, inner, on_run):
        self.inner = inner
        self.name = inner.name
        self.on_run = on_run

    def run(self, variant, inputs):
        outputs = self.inner.run(variant, inputs)
        self.on_run(variant, inputs, outputs)
        return outputs

    def run_decoder(self, latent):
        return self.inner.run_decoder(latent)


def create_backend(name: str, bundle, threads: int | None = None):
    """The backend ``name`` loaded for ``bundle``; one-line errors when it cannot run here."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    target = target_of(name)
    if not bundle.has_target(target):
        raise UserError(f"{bundle.root}: bundle has no {target} graphs; export it with --targets including {target}")
    if name == "executorch":
        from .executorch_backend import ExecuTorchBackend as cls
    elif name == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend as cls
    elif name == "torch":
        from .torch_backend import TorchBackend as cls
    else:
        from .coreml_backend import CoreMLBackend as cls
    return cls(bundle, threads=threads)
