"""Lowering the step graphs: ExecuTorch (XNNPACK), ONNX and Core ML, each with the weights stored once.

* ExecuTorch: one program, one method per variant. Methods lowered together by ``to_edge_transform_and_lower``
  keep identically named weights in one named-data entry, so the ``.pte`` holds one copy (the bundle test
  checks it by file size).
* ONNX: one graph per variant; their initializers are written once into ``weights.bin`` and every graph
  points into it (``onnxruntime`` sessions then share them through ``SessionOptions.add_initializer``).
* Core ML: one ML program per variant, merged into one multifunction ``.mlpackage`` whose identical weights
  ``save_multifunction`` deduplicates (iOS 18 / macOS 15).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import torch
from tqdm.auto import tqdm

# Graphs are StepGraphs (one per variant) and, for a latent model, the DecodeGraph; both name their tensors
# (``input_names`` / ``output_names``).


def lower_executorch(
    graphs: dict[str, torch.nn.Module], inputs: dict[str, tuple], path: Path, progress: bool = True
) -> dict:
    """Write one multi-method ``.pte``; returns delegation info per method."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower

    programs = {}
    for name, g in tqdm(graphs.items(), desc="executorch: export", leave=False, disable=not progress):
        programs[name] = torch.export.export(g, inputs[name], strict=False)
    edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()])
    info = {}
    for name in programs:
        d = get_delegation_info(edge.exported_program(name).graph_module)
        df = d.get_operator_delegation_dataframe()
        cols = list(df.columns)
        non = {
            str(r[cols[0]]): int(r[cols[2]])
            for _, r in df.iterrows()
            if int(r[cols[2]]) > 0 and str(r[cols[0]]) not in ("Total", "getitem")
        }
        info[name] = {
            "delegated_subgraphs": int(d.num_delegated_subgraphs),
            "delegated_nodes": int(d.num_delegated_nodes),
            "non_delegated_nodes": int(d.num_non_delegated_nodes),
            "non_delegated_ops": non,
        }
    program = edge.to_executorch()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        program.write_to_file(f)
    return info


def lower_onnx(
    graphs: dict[str, torch.nn.Module], inputs: dict[str, tuple], folder: Path, progress: bool = True
) -> dict:
    """One ``.onnx`` per variant and one shared ``weights.bin``; returns {variant: file name}."""
    import onnx
    from onnx import numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, g in tqdm(graphs.items(), desc="onnx: export", leave=False, disable=not progress):
            f = Path(tmp) / f"{name}.onnx"
            torch.onnx.export(
                g,
                inputs[name],
                str(f),
                dynamo=True,
                input_names=g.input_names,
                output_names=g.output_names,
                external_data=True,
                verbose=False,
            )
            models[name] = onnx.load(str(f), load_external_data=True)
    # Initializers with the same bytes are written once, whatever their names: the exporter folds transposed
    # weights into constants named per graph (val_50 in one, val_61 in another). Every graph points into weights.bin.
    offsets: dict[tuple, tuple[int, int]] = {}
    with open(folder / "weights.bin", "wb") as wf:
        for m in models.values():
            for init in m.graph.initializer:
                raw = numpy_helper.to_array(init).tobytes()
                if len(raw) <= 64 or init.data_type == onnx.TensorProto.INT64:
                    # Small constants and shape tensors stay inline: shape inference must read them.
                    init.raw_data = raw
                    continue
                key = (init.data_type, tuple(init.dims), hashlib.sha256(raw).hexdigest())
                if key not in offsets:
                    pos = wf.tell()
                    pad = (-pos) % 64
                    wf.write(b"\0" * pad)
                    offsets[key] = (pos + pad, len(raw))
                    wf.write(raw)
                off, length = offsets[key]
                init.ClearField("raw_data")
                for field in ("float_data", "int32_data", "int64_data", "double_data"):
                    init.ClearField(field)
                init.data_location = onnx.TensorProto.EXTERNAL
                del init.external_data[:]
                for k, val in (("location", "weights.bin"), ("offset", str(off)), ("length", str(length))):
                    e = init.external_data.add()
                    e.key, e.value = k, val
    files = {}
    for name, m in models.items():
        out = folder / f"{name}.onnx"
        onnx.save_model(m, str(out), save_as_external_data=False)
        files[name] = out.name
    return files


def lower_coreml(
    graphs: dict[str, torch.nn.Module],
    inputs: dict[str, tuple],
    path: Path,
    fp16: bool = True,
    palettize_bits: int | None = None,
    progress: bool = True,
) -> dict:
    """One multifunction ``.mlpackage`` (function per variant); returns {variant: function name}."""
    import coremltools as ct

    functions = {}
    with tempfile.TemporaryDirectory() as tmp:
        desc = None
        for name, g in tqdm(graphs.items(), desc="coreml: convert", leave=False, disable=not progress):
            ex = inputs[name]
            traced = torch.jit.trace(g, ex, check_trace=False)
            # Every float input and output in the compute dtype (labels stay int32): the app feeds and keeps the
            # latent and the caches in that one type, so no step converts and no cache is held twice.
            io_dtype = _np_dtype(torch.float16 if fp16 else torch.float32)
            ct_inputs = []
            for n, t in zip(g.input_names, ex):
                dtype = io_dtype if t.dtype.is_floating_point else _np_dtype(t.dtype)
                ct_inputs.append(ct.TensorType(name=n, shape=tuple(t.shape), dtype=dtype))
            mlmodel = ct.convert(
                traced,
                inputs=ct_inputs,
                outputs=[ct.TensorType(name=n, dtype=io_dtype) for n in g.output_names],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS18,
                compute_precision=ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32,
            )
            if palettize_bits:
                from coremltools.optimize.coreml import OpPalettizerConfig, OptimizationConfig, palettize_weights

                mlmodel = palettize_weights(
                    mlmodel, OptimizationConfig(global_config=OpPalettizerConfig(mode="kmeans", nbits=palettize_bits))
                )
            p = Path(tmp) / f"{name}.mlpackage"
            mlmodel.save(str(p))
            if desc is None:
                desc = ct.utils.MultiFunctionDescriptor()
            desc.add_function(str(p), src_function_name="main", target_function_name=name)
            functions[name] = name
        desc.default_function_name = next(iter(functions))
        if path.exists():
            shutil.rmtree(path)
        ct.utils.save_multifunction(desc, str(path))
    return functions


def _np_dtype(dtype: torch.dtype):
    import numpy as np

    return {torch.float32: np.float32, torch.float16: np.float16, torch.int32: np.int32}[dtype]


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
