"""Lean lazy steps: what an all-cached graph still computes, and a scheduler that moves no more than it must."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

from lazydit.export.graphs import StepGraph, example_inputs, modulation_of, plan_variants
from lazydit.export.schedule import interval_schedule


def test_regrouped_modulation_rows_are_the_blocks_adaln_chunks(pixel_dit):
    c = torch.randn(3, pixel_dit.config.hidden_size)
    mod = modulation_of(pixel_dit)
    gates = mod.gates(F.silu(c))
    H = pixel_dit.config.hidden_size
    for b, block in enumerate(pixel_dit.blocks):
        chunks = block.adaLN_modulation(c).chunk(6, dim=1)
        for m in range(2):
            j = 2 * b + m
            torch.testing.assert_close(gates[:, j * H : (j + 1) * H], chunks[3 * m + 2], rtol=1e-6, atol=1e-6)
            shift, scale = mod.shift_scale[j](F.silu(c)).chunk(2, dim=1)
            torch.testing.assert_close(shift, chunks[3 * m], rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(scale, chunks[3 * m + 1], rtol=1e-6, atol=1e-6)
    assert modulation_of(pixel_dit) is mod, "every graph of a model shares one regrouped copy"


def _exported_parameters(dit, variant) -> set[str]:
    """The parameters the exported graph of ``variant`` reads (export lifts every parameter; unused ones have
    no users)."""
    graph = StepGraph(dit, variant, 1.5, False).eval()
    ep = torch.export.export(graph, example_inputs(dit, variant, 1, 1.5), strict=False)
    used = {n.name for n in ep.graph.nodes if n.op == "placeholder" and n.users}
    return {param for node, param in ep.graph_signature.inputs_to_parameters.items() if node in used}


def test_an_all_cached_graph_holds_only_the_gates_embeddings_and_head(pixel_dit):
    dense, cached = plan_variants(interval_schedule(4, pixel_dit.config.depth, 2))[0]
    params = _exported_parameters(pixel_dit, cached)
    assert "modulation.gates.weight" in params
    modules = [p for p in params if p.startswith("dit.blocks.") and (".attn." in p or ".mlp." in p)]
    assert not modules and not [p for p in params if "shift_scale" in p], sorted(params)
    assert not [p for p in params if "adaLN_modulation" in p and "final_layer" not in p], sorted(params)
    full = _exported_parameters(pixel_dit, dense)
    assert {f"modulation.shift_scale.{j}.weight" for j in range(2 * pixel_dit.config.depth)} <= full
    assert params < full


class _Copying:
    """The same backend without ``fresh_outputs``: the scheduler then copies every written slot."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def run(self, variant, inputs):
        return self.inner.run(variant, inputs)


def test_taking_fresh_outputs_as_slots_gives_the_copying_schedulers_images(forecast_bundle):
    from lazydit.runtime.backends import TappedBackend, create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    bundle = load_bundle(forecast_bundle)
    backend = create_backend("executorch", bundle)
    assert backend.fresh_outputs and TappedBackend(backend, lambda *a: None).fresh_outputs
    taking = Scheduler(bundle, backend)
    copying = Scheduler(bundle, _Copying(backend))
    assert taking.take_outputs and not copying.take_outputs
    a, b = taking.run([0], seed=3), copying.run([0], seed=3)
    np.testing.assert_array_equal(a.image, b.image)


def test_every_run_feeds_the_graphs_what_the_first_run_fed(forecast_bundle):
    """A forecasting full step reads its modules' old slots, zeros at the first step: zeros on every run."""
    from lazydit.runtime.backends import TappedBackend, create_backend
    from lazydit.runtime.bundle import load_bundle
    from lazydit.runtime.scheduler import Scheduler

    bundle = load_bundle(forecast_bundle)
    fed: list[list[np.ndarray]] = []
    backend = TappedBackend(create_backend("executorch", bundle), lambda v, ins, outs: fed.append(list(ins)))
    scheduler = Scheduler(bundle, backend)
    assert scheduler.zero_at_start == [s for s in bundle.manifest["steps"][0]["reads"]]
    scheduler.run([1], seed=0)
    first = [[np.array(a) for a in ins] for ins in fed]
    fed.clear()
    scheduler.run([1], seed=0)
    for step, (was, now) in enumerate(zip(first, fed)):
        for k, (x, y) in enumerate(zip(was, now)):
            np.testing.assert_array_equal(x, y, err_msg=f"step {step} input {k}")
    assert not np.any(first[0][4]), "step 0 reads the slots' zeros"


_RUN = """
import json, sys
import numpy as np
from lazydit.runtime.backends import create_backend
from lazydit.runtime.bundle import load_bundle
from lazydit.runtime.scheduler import Scheduler
b = load_bundle(sys.argv[1])
backend = create_backend("executorch", b)
r = Scheduler(b, backend).run([0], seed=5)
print(json.dumps({"weight_cache": backend.weight_cache, "image": np.asarray(r.image, dtype=float).ravel().tolist()}))
"""


def test_the_shared_weight_cache_changes_no_number(forecast_bundle):
    runs = {}
    for flag in ("1", "0"):
        env = {**os.environ, "LAZYDIT_XNNPACK_WEIGHT_CACHE": flag}
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(forecast_bundle)], capture_output=True, text=True, env=env, check=True
        )
        runs[flag] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["1"]["weight_cache"] is True, "executorch 1.5.1 has XNNPACK's weight cache: it must be switched on"
    assert runs["0"]["weight_cache"] is False
    np.testing.assert_allclose(runs["1"]["image"], runs["0"]["image"], rtol=0, atol=1e-6)
