"""onnxruntime: one session per variant, all sharing one copy of the weights (``add_initializer``)."""

from __future__ import annotations

import numpy as np

from lazydit.errors import UserError


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, bundle, threads: int | None = None):
        try:
            import onnx
            import onnxruntime as ort
        except ImportError as e:
            raise UserError(
                f"the onnxruntime backend needs onnx and onnxruntime ({e}); pip install onnxruntime onnx"
            ) from None
        t = bundle.manifest["targets"]["onnx"]
        weights_path = bundle.path(t["weights"])
        weights = np.memmap(weights_path, dtype=np.uint8, mode="r")
        self.sessions = {}
        # Initializers are read once and handed to every session: the sessions share the buffers.
        self._shared: dict[tuple[int, int], object] = {}
        self._keep = []
        graphs = dict(t["graphs"])
        if "decoder" in t:
            graphs["__decoder__"] = t["decoder"]
        for variant, rel in graphs.items():
            model = onnx.load(str(bundle.path(rel)), load_external_data=False)
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Steps alternate between sessions: an idle session's spinning threads would take the cores the
            # next step's session needs.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            for init in model.graph.initializer:
                if init.data_location != onnx.TensorProto.EXTERNAL:
                    continue
                ext = {e.key: e.value for e in init.external_data}
                off, length = int(ext["offset"]), int(ext["length"])
                key = (off, length)
                if key not in self._shared:
                    dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
                    arr = np.frombuffer(
                        weights, dtype=dtype, count=length // np.dtype(dtype).itemsize, offset=off
                    ).reshape(tuple(init.dims))
                    arr = np.ascontiguousarray(arr)
                    self._keep.append(arr)
                    self._shared[key] = ort.OrtValue.ortvalue_from_numpy(arr)
                opts.add_initializer(init.name, self._shared[key])
            # The graph keeps its references into weights.bin; every one of them is overridden by the shared
            # buffers above, so no session reads (or copies) the file itself.
            self.sessions[variant] = ort.InferenceSession(
                str(bundle.path(rel)), opts, providers=["CPUExecutionProvider"]
            )
        self.inputs = {v: [i.name for i in s.get_inputs()] for v, s in self.sessions.items()}

    def load_all(self) -> None:
        pass

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        s = self.sessions[variant]
        return s.run(None, dict(zip(self.inputs[variant], inputs)))

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        return self.run("__decoder__", [latent])[0]
