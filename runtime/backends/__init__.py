"""Backends run one variant of a bundle on given inputs. Each is imported only when asked for.

The runtime's own backends are listed here; another half of the package adds its own with
:func:`register_backend` (the export half registers the eager PyTorch reference, ``torch``), so the runtime
never imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from lazydit.errors import UserError

# name -> (bundle target it runs, "module:Class" of the runtime's own backends)
_BUILTIN = {
    "executorch": ("executorch", "lazydit.runtime.backends.executorch_backend:ExecuTorchBackend"),
    "onnxruntime": ("onnx", "lazydit.runtime.backends.onnxruntime_backend:OnnxRuntimeBackend"),
    "coreml": ("coreml", "lazydit.runtime.backends.coreml_backend:CoreMLBackend"),
}
# Backends registered from outside the runtime: name -> (target, factory(bundle, threads=...)).
_REGISTERED: dict[str, tuple[str, Callable]] = {}
# Backends this package provides elsewhere, and what makes them available.
_PROVIDED_ELSEWHERE = {"torch": "import lazydit.export.reference_backend (pip install 'lazydit-mobile[export]')"}
BACKENDS = (*_BUILTIN, *_PROVIDED_ELSEWHERE)


def register_backend(name: str, target: str, factory: Callable) -> None:
    """Make ``create_backend(name, ...)`` build ``factory(bundle, threads=...)`` for bundles with ``target``."""
    _REGISTERED[name] = (target, factory)


def target_of(backend: str) -> str:
    """The bundle target a backend runs (onnxruntime runs the ``onnx`` graphs)."""
    if backend in _REGISTERED:
        return _REGISTERED[backend][0]
    return _BUILTIN[backend][0] if backend in _BUILTIN else backend


class TappedBackend:
    """A backend that reports every graph call, ``on_run(variant, inputs, outputs)``, and otherwise passes through."""

    def __init__(self, inner, on_run):
        self.inner = inner
        self.name = inner.name
        self.on_run = on_run
        self.fresh_outputs = getattr(inner, "fresh_outputs", False)

    def run(self, variant, inputs):
        outputs = self.inner.run(variant, inputs)
        self.on_run(variant, inputs, outputs)
        return outputs

    def run_decoder(self, latent):
        return self.inner.run_decoder(latent)


def loader_error(e: Exception) -> str:
    """A native loader's exception as a few words for a one-line error: its type and first line."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def check_graph_io(
    bundle, variant: str, inputs: list[tuple[tuple, str]], outputs: list[tuple[tuple, str]], where
) -> None:
    """Refuse a graph whose inputs or outputs (shape, dtype name) are not the ones the manifest gives
    ``variant``: a graph from another export would otherwise run on wrong buffers."""
    v = bundle.variants[variant]
    for kind, got, names in (("input", inputs, v["inputs"]), ("output", outputs, v["outputs"])):
        specs = [bundle.ratio_spec(v) if n == "ratio" else bundle.tensor_spec(n) for n in names]
        want = [(tuple(shape), str(dtype)) for shape, dtype in specs]
        if len(got) != len(want):
            raise UserError(
                f"{where}: the graph of variant {variant} has {len(got)} {kind}s, the manifest says "
                f"{len(want)}; the bundle is damaged, re-export it"
            )
        for i, ((gs, gd), (ws, wd), n) in enumerate(zip(got, want, names)):
            if tuple(gs) != ws or gd != wd:
                raise UserError(
                    f"{where}: the graph of variant {variant} has {kind} {i} ({n}) {list(gs)} {gd}, "
                    f"the manifest says {list(ws)} {wd}; the bundle is damaged, re-export it"
                )


def create_backend(name: str, bundle, threads: int | None = None):
    """The backend ``name`` loaded for ``bundle``; one-line errors when it cannot run here."""
    if name not in _BUILTIN and name not in _REGISTERED:
        if name in _PROVIDED_ELSEWHERE:
            raise UserError(f"backend {name!r} is not loaded; {_PROVIDED_ELSEWHERE[name]}")
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    target = target_of(name)
    if not bundle.has_target(target):
        raise UserError(f"{bundle.root}: bundle has no {target} graphs; export it with --targets including {target}")
    if name in _REGISTERED:
        factory = _REGISTERED[name][1]
    else:
        module, _, cls = _BUILTIN[name][1].partition(":")
        factory = getattr(importlib.import_module(module), cls)
    return factory(bundle, threads=threads)
