"""ExecuTorch's Python runtime (executorch 1.5.1): one program, one method per variant, loaded once."""

from __future__ import annotations

import numpy as np

from lazydit.errors import UserError

from . import check_graph_io, loader_error

# ExecuTorch's ScalarType codes of the dtypes a bundle uses.
_SCALAR_TYPES = {6: "float32", 5: "float16", 3: "int32", 4: "int64"}


def _tensor(info) -> tuple[tuple, str]:
    return tuple(info.sizes()), _SCALAR_TYPES.get(int(info.dtype()), f"scalar type {int(info.dtype())}")


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
