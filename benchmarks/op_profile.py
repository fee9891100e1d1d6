"""``lazydit bench ops``: where each step graph's time goes, operator by operator, from ExecuTorch's ETDump.

The Python scheduler runs the bundle ``repeat`` times on a program loaded with ETDump on; ExecuTorch's
``Inspector`` then gives every event's median time over the runs. Per variant the report lists the execute
time, the time inside XNNPACK delegate calls and outside them, and every operator
kind with its count and summed average time; ``outside`` lists what ran as portable ExecuTorch ops, not in
XNNPACK. (Times are those of one process on this machine; compare variants within one report.)
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from pathlib import Path

from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.scheduler import Scheduler

_COUNTER = re.compile(r" #\d+$")
# Events that frame others rather than being operators.
_FRAMES = {"Method::execute", "DELEGATE_CALL", "OPERATOR_CALL", "Program::load_method", "Method::init"}


class _ProfiledBackend:
    name = "executorch"
    fresh_outputs = True

    def __init__(self, program, methods: dict[str, str]):
        import torch

        self._torch = torch
        self.program = program
        self.names = methods
        self.methods: dict[str, object] = {}
        self.order: list[str] = []  # the variant of every call, in order: ETDump's blocks come in that order

    def run(self, variant, inputs):
        if variant not in self.methods:
            self.methods[variant] = self.program.load_method(self.names[variant])
        self.order.append(variant)
        t = self._torch
        return [o.numpy() for o in self.methods[variant].execute([t.from_numpy(a) for a in inputs])]


def profile_ops(bundle_dir: Path, repeat: int = 3, threads: int | None = None) -> dict:
    """Per variant of the bundle's ExecuTorch program: time inside and outside XNNPACK, and time per operator."""
    import torch
    from executorch.devtools import Inspector
    from executorch.runtime import Runtime

    from lazydit.runtime.backends.executorch_backend import share_packed_weights

    if threads:
        torch.set_num_threads(threads)
    share_packed_weights()
    bundle = load_bundle(bundle_dir)
    et = bundle.manifest["targets"]["executorch"]
    program = Runtime.get().load_program(str(bundle.path(et["file"])), enable_etdump=True)
    backend = _ProfiledBackend(program, et["methods"])
    scheduler = Scheduler(bundle, backend)
    for _ in range(repeat):
        scheduler.run([i % bundle.manifest["classes"]["count"] for i in range(bundle.manifest["batch"])], seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        etdump = Path(tmp) / "run.etdp"
        program._program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))
        # One block per loaded method (in load order), each event averaged over that method's executions.
        blocks = [b for b in Inspector(etdump_path=str(etdump)).event_blocks if b.name.startswith("Execute")]
    loaded = list(backend.methods)
    if len(blocks) != len(loaded):
        raise RuntimeError(f"ETDump holds {len(blocks)} methods' executions, {len(loaded)} were loaded")
    out = {"bundle": str(bundle_dir), "repeat": repeat, "variants": {}}
    for variant, block in zip(loaded, blocks):
        df = block.to_dataframe()
        ops: dict[tuple[str, bool], list[float]] = defaultdict(list)
        for name, delegated, ms in zip(df["event_name"], df["is_delegated_op"], df["p50"]):
            if name not in _FRAMES:
                ops[(_COUNTER.sub("", name).removeprefix("native_call_"), bool(delegated))].append(float(ms))
        rows = sorted(
            ({"op": k, "in_xnnpack": d, "count": len(ms), "ms": sum(ms)} for (k, d), ms in ops.items()),
            key=lambda o: -o["ms"],
        )
        execute = float(df.loc[df["event_name"] == "Method::execute", "p50"].sum())
        delegate = float(df.loc[df["event_name"] == "DELEGATE_CALL", "p50"].sum())
        out["variants"][variant] = {
            "calls": backend.order.count(variant),
            "execute_ms": execute,
            "in_delegate_ms": delegate,
            "outside_delegate_ms": execute - delegate,
            "delegate_calls": int((df["event_name"] == "DELEGATE_CALL").sum()),
            "outside": sorted({o["op"] for o in rows if not o["in_xnnpack"]}),
            "ops": rows,
        }
    return out


def render_ops(report: dict, top: int = 8) -> str:
    lines = []
    for variant, v in report["variants"].items():
        lines.append(
            f"{variant}: execute {v['execute_ms']:.3f} ms (XNNPACK {v['in_delegate_ms']:.3f}, outside "
            f"{v['outside_delegate_ms']:.3f}; {v['delegate_calls']} delegate calls); portable ops: "
            f"{', '.join(v['outside']) or 'none'}"
        )
        for o in v["ops"][:top]:
            where = "xnnpack" if o["in_xnnpack"] else "portable"
            lines.append(f"    {o['op']:<40} {where:<8} x{o['count']:<4} {o['ms']:.4f} ms")
    return "\n".join(lines)
