"""A SpikeGrad-trained network run in stdpnet's own clock-based simulator, as static layers.

The trained weights become layers with no learning rule (``rule = None``): non-leaky IF neurons
with subtractive reset, threshold ``theta``, the bias as the initial potential (``V(0) = b``:
potentials are reset to the bias at every sample start). So the spikes and synaptic operations
of the backprop network are counted by the same counters as the STDP network's.

Two things differ from SpikeGrad's own spiking network (SPEC 11), and the comparison reports
what they cost instead of hiding it:

- stdpnet's neurons emit **positive spikes only**; SpikeGrad's signed spikes (``-1`` when
  ``V <= -theta`` after a net positive count) and the final residual spike make its spike counts
  equal the ANN's integer activations exactly. Without them a neuron's count can exceed the ANN's
  (a transient crossing is never taken back) or fall short by the residual.
- stdpnet's pooling **forwards every spike** (SPEC 5); SpikeGrad pools with a linear IF of weights
  ``1/P^2``. The factor is folded into the next layer's weights (``w * w_pool / theta``): the next
  layer integrates the exact average instead of its rounded spike count.

The prediction is the output neuron with the largest integrated input ``spikes * theta + V``
(the logit the simulated inputs produce).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

import streams
from streams.ticks import TickChunk

from ..layers import LayerParams
from ..network import Network
from ..spec import LayerSpec, NetSpec, parse_spec


def static_network(model, spec_text: str, dt_us: int = 1000) -> Network:
    """The trained SpikeGrad ``model`` as a stdpnet network of static layers (plus its readout layer)."""
    from ..backprop.spikegrad import export_static_layers

    layers = export_static_layers(model)
    spec = parse_spec(spec_text)
    names = [n for n, d in layers.items() if d["kind"] != "pool"]
    n_out = layers[names[-1]]["weights"].shape[0]
    net_spec = NetSpec(f"{spec.text}-{n_out}(static readout)", spec.input_shape,
                       tuple(spec.layers) + (LayerSpec("dense", n_out, 0, "out"),), None)
    theta = float(next(iter(layers.values()))["theta"])
    params = {l.name: LayerParams(rule=None, theta_learn=theta, theta_infer=theta, r_learn=None, r_infer=None,
                                  reset="subtract", learning=False, init_std=0.0)
              for l in net_spec.learning_layers}
    net = Network(net_spec, params, dt_us=dt_us, seed=0)
    factor = 1.0
    exported = list(layers.values())
    learning = iter(net.learning_layers)
    for d in exported:
        if d["kind"] == "pool":
            factor *= float(d["weights"]) / float(d["theta"])
            continue
        layer = next(learning)
        w = np.asarray(d["weights"], float) * factor
        layer.set_weights(w.reshape(layer.weights.shape), bias=np.asarray(d["bias"], float))
        factor = 1.0
    return net


def simulate_in_stdpnet(model, spec_text: str, test_ds, *, max_samples: Optional[int] = 100) -> Dict[str, Any]:
    """Run up to ``max_samples`` of ``test_ds`` through :func:`static_network`; return the accuracy,
    spikes and synaptic operations per sample (a ``row`` for the comparison table) and the
    ``equivalence``: per neuron and sample, simulator spike counts minus the ANN's integer activations."""
    from ..backprop import dataset_arrays
    from ..backprop.spikegrad import integer_activations

    net = static_network(model, spec_text)
    n = len(test_ds) if max_samples is None else min(len(test_ds), int(max_samples))
    x, y = dataset_arrays(test_ds, np.arange(n), kind="counts")
    ann = integer_activations(model.params, x, model.topology, model.options)
    layer_names = [l.name for l in net.learning_layers]
    ann_names = [l.name for l in model.topology.layers if l.kind != "pool" and l is not model.topology.readout]
    diffs = []
    correct = 0
    synops = spikes = 0
    out_layer = net.learning_layers[-1]
    for i in range(n):
        events, _ = test_ds[i]
        events = np.sort(np.asarray(events), order="t")
        net.reset_state()
        start = net.now
        ticks = (events["t"] - events["t"][0]) // net.dt_us if len(events) else np.zeros(0, np.int64)
        n_ticks = int(ticks[-1]) + 1 if len(events) else 1
        offsets = np.searchsorted(ticks, np.arange(n_ticks + 1)).astype(np.int64)
        chunk = TickChunk(start, net.dt_us, events, offsets, np.zeros(n_ticks, np.int64), np.full(n_ticks, -1))
        before = net.counters.copy()
        rec = net.run(chunk, record=True).record
        delta = net.counters - before
        synops += int(delta[:, 2].sum())
        spikes += int(delta[:, 1].sum())
        counts = {}
        for li, layer in enumerate(net.learning_layers):
            sel = (rec[:, 1] == li) & (rec[:, 2] == 1)
            counts[layer.name] = np.bincount(rec[sel, 3], minlength=layer.n_neurons)
        logits = counts[out_layer.name] * out_layer.params.theta_inference + out_layer.neuron_view(out_layer.v_infer).ravel()
        correct += int(np.argmax(logits) == y[i])
        for sim_name, ann_name in zip(layer_names[:-1], ann_names):
            a = np.asarray(ann[ann_name][i]).ravel()
            diffs.append(counts[sim_name] - a)
    d = np.concatenate(diffs) if diffs else np.zeros(0, np.int64)
    values, freq = np.unique(np.clip(d, -3, 3), return_counts=True)
    return {
        "row": {"accuracy": correct / n if n else float("nan"), "infer_ops_per_sample": synops / max(n, 1),
                "op_kind": "AC", "spikes_per_sample": spikes / max(n, 1),
                "energy_uj_per_sample": synops / max(n, 1) * 0.9e-6, "test_samples_simulated": n},
        "equivalence": {"samples": n, "neurons_compared": int(d.size),
                        "exact_fraction": float(np.mean(d == 0)) if d.size else None,
                        "mean_abs_difference": float(np.mean(np.abs(d))) if d.size else None,
                        "difference_histogram": {str(int(v)) if abs(v) < 3 else ("<=-3" if v < 0 else ">=3"): int(c)
                                                 for v, c in zip(values, freq)}},
    }
