"""Network spec strings and model presets (SPEC sections 5-6); the network part of a configuration.

Notation of the source: ``34x34x2-16C5-P2-128C5-P2-1024-10``:
``WxHxC`` input; ``nCk`` convolution (n maps, k x k kernel); ``Pk`` spike-forwarding pooling;
``n`` fully connected WTA layer; a final ``n`` right after a fully connected layer is the
supervised readout (its class count), not an STDP layer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import SpecError


@dataclass(frozen=True)
class LayerSpec:
    kind: str  # 'conv' | 'pool' | 'dense'
    size: int  # maps / neurons / pooling factor
    kernel: int = 0
    name: str = ""


@dataclass(frozen=True)
class NetSpec:
    text: str
    input_shape: Tuple[int, int, int]  # (C, H, W)
    layers: Tuple[LayerSpec, ...]
    readout_classes: Optional[int] = None

    @property
    def sensor_size(self) -> Tuple[int, int, int]:
        c, h, w = self.input_shape
        return (w, h, c)

    @property
    def learning_layers(self) -> List[LayerSpec]:
        return [l for l in self.layers if l.kind != "pool"]


_INPUT = re.compile(r"^(\d+)x(\d+)x(\d+)$")
_CONV = re.compile(r"^(\d+)C(\d+)$")
_POOL = re.compile(r"^P(\d+)$")
_DENSE = re.compile(r"^(\d+)$")


def parse_spec(text: str) -> NetSpec:
    """Parse a spec string; raises :class:`SpecError` saying which token is wrong and why."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty network spec; expected e.g. '34x34x2-16C5-P2-128C5-P2-1024'")
    tokens = [t.strip() for t in text.strip().split("-")]
    m = _INPUT.match(tokens[0])
    if not m:
        raise SpecError(f"spec {text!r}: first token {tokens[0]!r} must be the input 'WxHxC', e.g. 34x34x2")
    w, h, c = (int(g) for g in m.groups())
    if min(w, h, c) < 1:
        raise SpecError(f"spec {text!r}: input size must be positive")
    layers: List[LayerSpec] = []
    readout = None
    counts = {"conv": 0, "pool": 0, "dense": 0}
    for i, tok in enumerate(tokens[1:], start=1):
        if readout is not None:
            raise SpecError(f"spec {text!r}: nothing may follow the readout '{readout}' (token {tok!r})")
        if m := _CONV.match(tok):
            n, k = int(m.group(1)), int(m.group(2))
            if layers and layers[-1].kind == "dense":
                raise SpecError(f"spec {text!r}: convolution {tok!r} after a fully connected layer")
            kind, size, kernel = "conv", n, k
        elif m := _POOL.match(tok):
            kind, size, kernel = "pool", int(m.group(1)), 0
        elif m := _DENSE.match(tok):
            n = int(m.group(1))
            if layers and layers[-1].kind == "dense" and i == len(tokens) - 1:
                readout = n
                continue
            kind, size, kernel = "dense", n, 0
        else:
            raise SpecError(
                f"spec {text!r}: token {tok!r} is not 'nCk' (convolution), 'Pk' (pooling) or 'n' (dense)"
            )
        if size < 1 or (kind == "conv" and kernel < 1):
            raise SpecError(f"spec {text!r}: token {tok!r} needs positive sizes")
        counts[kind] += 1
        prefix = {"conv": "conv", "pool": "pool", "dense": "fc"}[kind]
        layers.append(LayerSpec(kind, size, kernel, f"{prefix}{counts[kind]}"))
    if not any(l.kind != "pool" for l in layers):
        raise SpecError(f"spec {text!r}: no learning layer (convolution or dense)")
    if layers[-1].kind == "pool":
        raise SpecError(f"spec {text!r}: a network cannot end with pooling")
    return NetSpec(text.strip(), (c, h, w), tuple(layers), readout)


# Per-layer parameters of SPEC section 6 (thresholds, radii, initial weights) and the tuned
# learning rates (alpha_minus; alpha_plus = -8 alpha_minus). Keys are layer names. Presets hold the
# network only; the data, readout and passes each preset is run with are experiment defaults
# (stdpnet.experiment.config.PRESET_EXPERIMENTS). Tuned by 3-fold cross-validation on the data
# folder (seeds 0, 1, 2: three stratified 80/20 splits): see README, "Presets and the figures they
# reach".
# Every preset runs in float32 (stdpnet.kernels.precision): 1.1-1.4x the throughput of float64,
# crosscheck still bitwise (the twin follows), and the same accuracy within the folds' spread
# (re-measured over the same 3 folds: README, "Presets and the figures they reach").
PRESETS: Dict[str, Dict[str, Any]] = {
    # Deviation from SPEC, on purpose and named: fc1 has inference inhibition (r_infer = 0), as in
    # `nmnist`. It acts on the inference accumulators only, so learning is unchanged; without it
    # fc1's 1,000 non-leaky neurons emit ~6,500 inference spikes per image and the event classifier
    # stays near chance (0.09-0.19 on 3 folds, 5 rate settings, 1-3 passes). 3-fold cross-validated
    # (benchmarks/sweeps/mnist_reference.toml): with the classifier readout and 2 passes
    # 0.953 +- 0.006, against 0.917 +- 0.001 for SPEC's r_infer = None with spike-count labelling
    # and 1 pass on the same folds; the count readout alone gains 1.5 points from it
    # (0.932 +- 0.004, 1 pass).
    "mnist_reference": {
        "net": "28x28x1-16C5-P2-32C5-P2-1000",
        "dt_us": 1000,
        "precision": "float32",
        "layers": {
            "conv1": {"theta_learn": 8, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.003}},
            "conv2": {"theta_learn": 30, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.002}},
            "fc1": {"theta_learn": 30, "r_learn": "global", "r_infer": 0, "init_mean": 0.67, "stdp": {"alpha_minus": -0.03}},
        },
    },
    # The source's best network. Learning rates carried over from mnist_reference (not swept); fc1's
    # inference inhibition (r_infer = 0) is the same named deviation as in mnist_reference, with the
    # same classifier readout and passes: 3-fold cross-validated (benchmarks/sweeps/mnist_best.toml)
    # 0.960 +- 0.003, above mnist_reference's 0.953 +- 0.006 on the same folds (and on each fold), in
    # float64; in float32 0.960 +- 0.008 against 0.948 +- 0.004, still above on each fold.
    "mnist_best": {
        "net": "28x28x1-16C5-P2-256C5-P2-1000",
        "dt_us": 1000,
        "precision": "float32",
        "layers": {
            "conv1": {"theta_learn": 8, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.003}},
            "conv2": {"theta_learn": 30, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.002}},
            "fc1": {"theta_learn": 30, "r_learn": "global", "r_infer": 0, "init_mean": 0.67, "stdp": {"alpha_minus": -0.03}},
        },
    },
    # Deviation from SPEC, on purpose and named: fc1 has inference inhibition (r_infer = 0: one
    # inference spike per tick, the fc layer being a single position). With SPEC's r_infer = None
    # every non-leaky fc1 neuron integrates up to threshold (~1,000 of 1,024 fire in every sample)
    # and the event classifier stays at chance for every setting tried; with it, 91.9 %.
    # fc1's rate is 30x the table's first guess: 640 training recordings give each fc1 neuron ~10
    # learning spikes per pass, against ~100x more in the source's 60,000-sample pass.
    # Deviation, named: fc1's inference threshold is below its learning threshold (theta_infer 10,
    # theta_learn 60; SPEC's table gives both accumulators the same value). It acts on the
    # inference accumulators only, so learning is unchanged; fc1 then emits about 5x more
    # inference spikes per sample (~65 against ~13) for the event classifier, whose rate and error
    # memory were retuned with it (stdpnet.experiment.config.PRESET_EXPERIMENTS). 3-fold
    # cross-validated (benchmarks/sweeps/nmnist.toml): 0.956 +- 0.000 against 0.933 +- 0.020 on
    # the same folds (float64; in float32 0.950 +- 0.019).
    "nmnist": {
        "net": "34x34x2-16C5-P2-128C5-P2-1024",
        "dt_us": 1000,
        "precision": "float32",
        "layers": {
            "conv1": {"theta_learn": 8, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.003}},
            "conv2": {"theta_learn": 50, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.003}},
            "fc1": {"theta_learn": 60, "theta_infer": 10, "r_learn": "global", "r_infer": 0, "init_mean": 0.67,
                    "stdp": {"alpha_minus": -0.03}},
        },
    },
    # Our own small preset for the built-in moving-bar stream (not from the source). Deviation from
    # SPEC's dense-layer default, on purpose: fc1 has inference inhibition (r_infer = 0, i.e. global
    # WTA at its single position); without it all 32 neurons fire together for every class and no
    # readout can tell the classes apart (measured: 0.27-0.49 validation vs 1.0 with it).
    "synthetic": {
        "net": "16x16x2-8C5-P2-32",
        "dt_us": 1000,
        "precision": "float32",
        "layers": {
            "conv1": {"theta_learn": 8, "r_learn": 2, "r_infer": 0, "init_mean": 0.8, "stdp": {"alpha_minus": -0.004}},
            "fc1": {"theta_learn": 20, "r_learn": "global", "r_infer": 0, "init_mean": 0.67, "stdp": {"alpha_minus": -0.002}},
        },
    },
}


def default_layer_params(spec: NetSpec) -> Dict[str, Dict[str, Any]]:
    """SPEC table defaults for an arbitrary spec: first conv like conv1, later convs like conv2
    (MNIST values), dense layers global WTA without inference inhibition."""
    out = {}
    first_conv = True
    for l in spec.learning_layers:
        if l.kind == "conv":
            out[l.name] = {"theta_learn": 8.0 if first_conv else 30.0, "r_learn": 2, "r_infer": 0,
                           "init_mean": 0.8}
            first_conv = False
        else:
            out[l.name] = {"theta_learn": 30.0, "r_learn": "global", "r_infer": None, "init_mean": 0.67}
    return out


def resolve_config(net: Union[str, Dict[str, Any]], overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A full configuration dict ``{net, dt_us, seed, layers: {name: params}}`` from a preset name,
    a spec string or a config dict, with ``overrides`` merged on top (layers merged per key)."""
    if isinstance(net, dict):
        base = dict(net)
        if "net" not in base:
            raise SpecError("configuration lacks 'net' (a preset name or a spec string)")
        inner = resolve_config(base.pop("net"))
        return _merge(_merge(inner, base), overrides or {})
    if net in PRESETS:
        cfg = _merge({}, PRESETS[net])
        cfg["preset"] = net
    else:
        try:
            spec = parse_spec(net)
        except SpecError as e:
            raise SpecError(f"{e}\n(known presets: {', '.join(sorted(PRESETS))})") from None
        cfg = {"net": net, "dt_us": 1000, "layers": default_layer_params(spec)}
    cfg.setdefault("seed", 0)
    return _merge(cfg, overrides or {})


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: (_merge({}, v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = _merge({}, v) if isinstance(v, dict) else v
    return out
