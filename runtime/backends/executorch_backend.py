"""ExecuTorch's Python runtime (executorch 1.5.1): one program, one method per variant, loaded once.

XNNPACK packs the weights of every delegate when its method loads. With its weight cache on, the packed
weights are looked up by their named-data key (the sha256 of the weight), so the methods of a bundle, which
use the same weights, hold one packed copy between them, as the native runner and the Android AAR do. The
Python bindings of 1.5.1 pass no backend options, so :func:`share_packed_weights` sets the XNNPACK backend's
process-wide default through ``executorch::runtime::set_option``, the C++ runtime's own entry point.
``LAZYDIT_XNNPACK_WEIGHT_CACHE=0`` leaves it off (to measure what it saves).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from lazydit.errors import UserError

from . import check_graph_io, loader_error

# ExecuTorch's ScalarType codes of the dtypes a bundle uses.
_SCALAR_TYPES = {6: "float32", 5: "float16", 3: "int32", 4: "int64"}


# executorch::runtime::set_option(const char* backend, Span<BackendOption>) in libexecutorch.so, and the layout
# of BackendOption in executorch 1.5's runtime/backend/options.h: char key[64], then
# std::variant<bool, int, std::array<char, 256>> (256 bytes of storage, then its one-byte index; 324 in all).
_SET_OPTION = "_ZN10executorch7runtime10set_optionEPKcNS0_4SpanINS0_13BackendOptionEEE"
_ABI_VERSIONS = ("1.5.",)


class _BackendOption(ctypes.Structure):
    # The variant is 4-byte aligned (it can hold an int): three bytes of padding after its index.
    _fields_ = [
        ("key", ctypes.c_char * 64),
        ("value", ctypes.c_ubyte * 256),
        ("index", ctypes.c_ubyte),
        ("_padding", ctypes.c_ubyte * 3),
    ]


_weight_cache: bool | None = None


def share_packed_weights() -> bool:
    """Turn XNNPACK's weight cache on for every program loaded from now on; False where this build of
    ExecuTorch offers no such switch (then each method packs its own copy, as before)."""
    global _weight_cache
    if _weight_cache is not None:
        return _weight_cache
    _weight_cache = False
    if os.environ.get("LAZYDIT_XNNPACK_WEIGHT_CACHE", "1") == "0":
        return False
    try:
        import executorch
        from executorch import version

        if ctypes.sizeof(_BackendOption) != 324 or not version.__version__.startswith(_ABI_VERSIONS):
            return False
        lib = next(Path(p) / "lib" / "libexecutorch.so" for p in executorch.__path__ if (Path(p) / "lib").is_dir())
        fn = getattr(ctypes.CDLL(str(lib)), _SET_OPTION)
    except (ImportError, OSError, AttributeError, StopIteration):
        return False
    fn.restype = ctypes.c_uint32
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]  # a Span is passed as (data, size)
    option = _BackendOption(key=b"weight_cache_enabled", index=0)  # index 0: the variant holds a bool
    option.value[0] = 1
    _weight_cache = fn(b"XnnpackBackend", ctypes.addressof(option), 1) == 0
    return _weight_cache


def _tensor(info) -> tuple[tuple, str]:
    return tuple(info.sizes()), _SCALAR_TYPES.get(int(info.dtype()), f"scalar type {int(info.dtype())}")


class ExecuTorchBackend:
    name = "executorch"
    fresh_outputs = True  # execute() copies every output into a new tensor

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
        self.weight_cache = share_packed_weights()
        path = bundle.path(bundle.manifest["targets"]["executorch"]["file"])
        self.path, self.bundle = path, bundle
        # The loader's parser is native code that a damaged file can abort inside: look at the header first.
        with open(path, "rb") as f:
            head = f.read(8)
        if len(head) < 8 or head[4:6] != b"ET":
            raise UserError(f"{path}: not an ExecuTorch program (no ET file identifier); re-export the bundle")
        try:
            self.program = Runtime.get().load_program(str(path))
            names = set(self.program.method_names)
        except Exception as e:  # noqa: BLE001 - the loader's errors are of many types; each means a bad file
            raise UserError(f"{path}: ExecuTorch cannot load this program ({loader_error(e)}); re-export it") from None
        self.methods = {}
        self.method_names = dict(bundle.manifest["targets"]["executorch"]["methods"])
        missing = sorted(v for v, method in self.method_names.items() if method not in names)
        if missing:
            raise UserError(f"{path}: the program has no method for variant {missing[0]}; re-export the bundle")
        self._decoder = bundle.manifest["targets"]["executorch"].get("decoder")
        if self._decoder:
            self.method_names[self._decoder] = self._decoder

    def load_all(self) -> None:
        for v in self.method_names:
            self._method(v)

    def _method(self, variant: str):
        m = self.methods.get(variant)
        if m is None:
            try:
                m = self.program.load_method(self.method_names[variant])
            except Exception as e:  # noqa: BLE001 - as for load_program
                raise UserError(
                    f"{self.path}: method {self.method_names[variant]} cannot be loaded "
                    f"({loader_error(e)}); re-export the bundle"
                ) from None
            if variant in self.bundle.variants:
                meta = m.metadata
                ins = [_tensor(meta.input_tensor_meta(i)) for i in range(meta.num_inputs())]
                outs = [_tensor(meta.output_tensor_meta(i)) for i in range(meta.num_outputs())]
                check_graph_io(self.bundle, variant, ins, outs, self.path)
            self.methods[variant] = m
        return m

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        t = self._torch
        method = self._method(variant)
        try:
            outs = method.execute([t.from_numpy(a) for a in inputs])
        except RuntimeError as e:
            # The program's own checks failed while running (an ExecuTorch program does not expose its label
            # table's size, so a class id the manifest allows but the graph lacks ends here).
            raise UserError(
                f"{self.path}: method {self.method_names[variant]} failed while running ({loader_error(e)}); "
                "the manifest may allow class ids the graph does not have, re-export the bundle"
            ) from None
        return [o.numpy() for o in outs]

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        return self.run(self._decoder, [latent])[0]
