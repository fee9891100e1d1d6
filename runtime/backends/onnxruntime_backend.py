"""onnxruntime: one session per variant, all sharing one copy of the weights (``add_initializer``)."""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np

from lazydit.errors import UserError

from . import check_graph_io, loader_error

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
}


def _io(arg) -> tuple[tuple, str]:
    return tuple(arg.shape), _ORT_TYPES.get(arg.type, arg.type)


def _check_label_table(model, bundle, path) -> None:
    """The graph's class-label table must hold every class id the manifest allows, plus the null class that
    guidance feeds: a larger count in the manifest would index past the table."""
    count = bundle.manifest["classes"]["count"]
    need = count + (1 if bundle.manifest["guidance_scale"] != 1.0 else 0)
    for init in model.graph.initializer:
        if init.name.endswith("y_embedder.embedding_table.weight") and init.dims:
            rows = int(init.dims[0])
            if rows < need:
                raise UserError(
                    f"{path}: the graph's label table has {rows} rows, but the manifest's {count} classes (and the "
                    f"null class of guidance) need {need}; the manifest does not belong to this graph, re-export it"
                )


class OnnxRuntimeBackend:
    name = "onnxruntime"
    fresh_outputs = True  # every run returns new arrays

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
        size = weights.shape[0]
        weights_rel = PurePosixPath(t["weights"])
        for variant, rel in graphs.items():
            path = bundle.path(rel)
            try:
                model = onnx.load(str(path), load_external_data=False)
            except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends: a damaged graph file
                raise UserError(
                    f"{path}: not a readable ONNX graph ({type(e).__name__}); re-export the bundle"
                ) from None
            if variant in bundle.variants:
                _check_label_table(model, bundle, path)
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
                # Every external tensor must lie inside the bundle's one weights file.
                if PurePosixPath(rel).parent / ext.get("location", "") != weights_rel:
                    raise UserError(
                        f"{path}: initializer {init.name} points into {ext.get('location')!r}, not the "
                        f"bundle's {weights_rel.name}; a bundle's paths must stay inside the bundle"
                    )
                try:
                    off, length = int(ext["offset"]), int(ext["length"])
                    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type))
                except (KeyError, ValueError, TypeError):
                    raise UserError(
                        f"{path}: initializer {init.name} has no valid offset, length and type; re-export the bundle"
                    ) from None
                if off < 0 or length < 0 or off + length > size or length != dtype.itemsize * int(np.prod(init.dims)):
                    raise UserError(
                        f"{path}: initializer {init.name} spans bytes {off}..{off + length} of "
                        f"{weights_rel.name} ({size} bytes) for shape {list(init.dims)}; re-export the bundle"
                    )
                key = (off, length)
                if key not in self._shared:
                    arr = np.frombuffer(weights, dtype=dtype, count=length // dtype.itemsize, offset=off)
                    arr = np.ascontiguousarray(arr.reshape(tuple(init.dims)))
                    self._keep.append(arr)
                    self._shared[key] = ort.OrtValue.ortvalue_from_numpy(arr)
                opts.add_initializer(init.name, self._shared[key])
            # Every external reference (checked above to be the bundle's weights file) is overridden by the shared
            # buffers, so no session reads (or copies) the file itself.
            try:
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
                raise UserError(
                    f"{path}: onnxruntime cannot load this graph ({loader_error(e)}); re-export it"
                ) from None
            if variant in bundle.variants:
                check_graph_io(
                    bundle,
                    variant,
                    [_io(i) for i in session.get_inputs()],
                    [_io(o) for o in session.get_outputs()],
                    path,
                )
            self.sessions[variant] = session
        self.inputs = {v: [i.name for i in s.get_inputs()] for v, s in self.sessions.items()}

    def load_all(self) -> None:
        pass

    def run(self, variant: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        s = self.sessions[variant]
        return s.run(None, dict(zip(self.inputs[variant], inputs)))

    def run_decoder(self, latent: np.ndarray) -> np.ndarray:
        return self.run("__decoder__", [latent])[0]
